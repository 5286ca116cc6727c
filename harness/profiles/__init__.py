"""OS profiles: per-OS knowledge as data (one TOML file each), not code.

A profile says how to read a device's identity, where its kernel config lives, which commands give
its logs, how to tell that boot has completed and how to reboot it. A `[links.KIND]` table says what
differs when the device is reached over that link (a HarmonyOS NEXT handset over hdc has no Android
layer: its identity comes from `param`, not `getprop`); `Profile.for_link(kind)` applies it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError

PROFILE_DIR = Path(__file__).parent
IDENTITY_FIELDS = (
    "os_name",
    "os_version",
    "kernel",
    "arch",
    "model",
    "serial",
    "fingerprint",
    "security_patch",
)


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    family: str  # linux | ohos | android
    # field -> shell command printing the value on its first line (IDENTITY_FIELDS and extras).
    identity: dict[str, str]
    kernel_config_paths: tuple[str, ...]
    logs: dict[str, str]
    # Exit 0 once the OS has finished booting.
    boot_completed: str
    # For adb: the property that reads "1"/"true" once boot has completed.
    boot_completed_prop: str | None
    reboot_command: str
    boot_time_budget: float
    # Where a suite may make its own scratch folder, first usable wins (an initramfs has no /var/tmp).
    scratch_dirs: tuple[str, ...] = ("/var/tmp", "/tmp")
    # Free-form data the suites read (thresholds, LSM name, ...).
    extra: dict[str, object] = field(default_factory=dict)
    # link kind -> what differs over that link (family, identity, logs, boot_completed[_prop], ...).
    links: dict[str, dict[str, Any]] = field(default_factory=dict)

    def for_link(self, kind: str | None) -> Profile:
        """This profile as seen over `kind` (itself when the profile says nothing of that link)."""
        over = self.links.get(kind or "")
        if not over:
            return self
        plain = {k: over[k] for k in ("family", "boot_completed", "boot_completed_prop", "reboot_command")
                 if k in over}
        return replace(self, identity={**self.identity, **over.get("identity", {})},
                       logs={**self.logs, **over.get("logs", {})},
                       extra={**self.extra, **over.get("extra", {})}, links={}, **plain)


def profile_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PROFILE_DIR.glob("*.toml")))


@cache
def load_profile(name: str) -> Profile:
    path = PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"unknown OS profile {name!r}; known: {', '.join(profile_names())}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    inherits = data.pop("inherits", None)
    if inherits:
        base = load_profile(inherits)
        identity = {**base.identity, **data.pop("identity", {})}
        logs = {**base.logs, **data.pop("logs", {})}
        extra = {**base.extra, **data.pop("extra", {})}
        links = {**base.links, **data.pop("links", {})}
        merged: dict[str, object] = {
            "title": base.title,
            "family": base.family,
            "kernel_config_paths": list(base.kernel_config_paths),
            "boot_completed": base.boot_completed,
            "boot_completed_prop": base.boot_completed_prop,
            "reboot_command": base.reboot_command,
            "boot_time_budget": base.boot_time_budget,
            "scratch_dirs": list(base.scratch_dirs),
        }
        merged.update(data)
        data = {**merged, "identity": identity, "logs": logs, "extra": extra, "links": links}
    return Profile(
        name=name,
        title=data["title"],
        family=data["family"],
        identity=dict(data["identity"]),
        kernel_config_paths=tuple(data.get("kernel_config_paths", ())),
        logs=dict(data.get("logs", {})),
        boot_completed=data.get("boot_completed", "true"),
        boot_completed_prop=data.get("boot_completed_prop"),
        reboot_command=data.get("reboot_command", "reboot"),
        boot_time_budget=float(data.get("boot_time_budget", 120)),
        scratch_dirs=tuple(data.get("scratch_dirs", ("/var/tmp", "/tmp"))),
        extra=dict(data.get("extra", {})),
        links=_links(data.get("links", {}), path),
    )


LINK_KEYS = ("family", "identity", "logs", "extra", "boot_completed", "boot_completed_prop", "reboot_command")


def _links(raw: Any, path: Path) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise ConfigError(f"{path}: [links.KIND] must be tables")
    for kind, table in raw.items():
        unknown = sorted(set(table) - set(LINK_KEYS))
        if unknown:
            raise ConfigError(f"{path}: [links.{kind}] has unknown keys: {', '.join(unknown)}")
    return {k: dict(v) for k, v in raw.items()}
