"""OS profiles: per-OS knowledge as data (one TOML file each), not code.

A profile says how to read a device's identity, where its kernel config lives, which commands give
its logs, how to tell that boot has completed and how to reboot it. A `[links.KIND]` table says what
differs when the device is reached over that link (a HarmonyOS NEXT handset over hdc has no Android
layer: its identity comes from `param`, not `getprop`); `Profile.for_link(kind)` applies it.

A profile file is checked like every config file (harness.config_check): an unknown key, a wrong type or
a missing one is one line naming the file and key, never a KeyError."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from ..config_check import (
    Checker,
    Where,
    free_table,
    list_of,
    map_of,
    one_of,
    positive_seconds,
    string,
    table,
)
from ..errors import ConfigError
from ..specs import LINK_KINDS

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
    family: str  # one of FAMILIES
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
    """The one list of profile names (the files here): the inventory, suites and personas check against it."""
    return tuple(sorted(p.stem for p in PROFILE_DIR.glob("*.toml")))


@cache
def load_profile(name: str) -> Profile:
    path = PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"unknown OS profile {name!r}; known: {', '.join(profile_names())}")
    return parse_profile(path)


def parse_profile(path: Path) -> Profile:
    """The profile in `path` (named by its file), merged over the shipped profile it `inherits`."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    where = Where(path)
    data = table(raw, where, _profile_keys())
    inherits = data.pop("inherits", None)
    if inherits:
        base = load_profile(inherits)
        merged: dict[str, Any] = {
            "title": base.title,
            "family": base.family,
            "kernel_config_paths": base.kernel_config_paths,
            "boot_completed": base.boot_completed,
            "boot_completed_prop": base.boot_completed_prop,
            "reboot_command": base.reboot_command,
            "boot_time_budget": base.boot_time_budget,
            "scratch_dirs": base.scratch_dirs,
        }
        for key, values in (("identity", base.identity), ("logs", base.logs), ("extra", base.extra),
                            ("links", base.links)):
            merged[key] = {**values, **data.pop(key, {})}
        data = {**merged, **data}
    for key in ("title", "family", "identity"):
        if key not in data:
            raise where.child(key).fail(None, "required key is missing (and not inherited)")
    return Profile(
        name=path.stem,
        title=data["title"],
        family=data["family"],
        identity=data["identity"],
        kernel_config_paths=tuple(data.get("kernel_config_paths", ())),
        logs=data.get("logs", {}),
        boot_completed=data.get("boot_completed", "true"),
        boot_completed_prop=data.get("boot_completed_prop"),
        reboot_command=data.get("reboot_command", "reboot"),
        boot_time_budget=data.get("boot_time_budget", 120.0),
        scratch_dirs=tuple(data.get("scratch_dirs", ("/var/tmp", "/tmp"))),
        extra=data.get("extra", {}),
        links=data.get("links", {}),
    )


FAMILIES = ("linux", "ohos", "android")
# What a [links.KIND] table may change.
LINK_KEYS: dict[str, Checker] = {
    "family": one_of(*FAMILIES),
    "identity": map_of(string, "shell commands"),
    "logs": map_of(string, "shell commands"),
    "extra": free_table,
    "boot_completed": string,
    "boot_completed_prop": string,
    "reboot_command": string,
}


def _links(value: Any, where: Where) -> dict[str, dict[str, Any]]:
    """[links.KIND] tables, KIND a link kind."""
    if not isinstance(value, dict):
        raise where.fail(value, "expected [links.KIND] tables")
    for kind in value:
        one_of(*LINK_KINDS, what=f"a link kind ({', '.join(LINK_KINDS)})")(kind, where.child(kind))
    return {kind: table(over, where.child(kind), LINK_KEYS) for kind, over in value.items()}


def _profile_keys() -> dict[str, Checker]:
    return {
        "inherits": one_of(*profile_names()),
        "title": string,
        "family": one_of(*FAMILIES),
        "identity": map_of(string, "shell commands"),
        "kernel_config_paths": list_of(string),
        "logs": map_of(string, "shell commands"),
        "boot_completed": string,
        "boot_completed_prop": string,
        "reboot_command": string,
        "boot_time_budget": positive_seconds,
        "scratch_dirs": list_of(string),
        "extra": free_table,
        "links": _links,
    }
