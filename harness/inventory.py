"""devices.toml -> validated DeviceSpecs.

Every problem is reported as one line naming the file, the device, the key and the bad value, as a
ConfigError (the CLI exits 2). Unknown keys are refused, with a "did you mean" where one is close."""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .capabilities import check_names as check_capabilities
from .config_check import Where, device_where, int_range, one_of, string, suggest, table
from .errors import ConfigError
from .lab.lab_config import LabConfig, parse_lab
from .links import LINKS
from .power import parse_power
from .profiles import profile_names
from .secrets import weakness
from .specs import DEVICE_KINDS, LINK_KINDS, Declared, DeviceSpec

log = logging.getLogger("harness.inventory")

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Inventory:
    path: Path
    devices: dict[str, DeviceSpec]
    # The simulated lab's [lab] section, when the inventory has one.
    lab: LabConfig | None = None

    def get(self, name: str) -> DeviceSpec:
        if name in self.devices:
            return self.devices[name]
        raise ConfigError(f"{self.path}: no device named {name!r}{suggest(name, self.devices)}")

    def select(self, names: list[str] = (), tags: list[str] = (), all_: bool = False) -> list[DeviceSpec]:  # type: ignore[assignment]
        if all_ or (not names and not tags):
            return list(self.devices.values())
        chosen: dict[str, DeviceSpec] = {n: self.get(n) for n in names}
        for tag in tags:
            tagged = [d for d in self.devices.values() if tag in d.tags]
            if not tagged:
                known = sorted({t for d in self.devices.values() for t in d.tags})
                raise ConfigError(f"{self.path}: no device has tag {tag!r}{suggest(tag, known)}")
            chosen.update((d.name, d) for d in tagged)
        return list(chosen.values())


def link_error(spec: DeviceSpec, key: str, value: Any, problem: str) -> ConfigError:
    """A problem with one key of a loaded device, in the same one-line form as a parse error."""
    return device_where(spec.source or Path("devices.toml"), spec.name).at(key).fail(value, problem)


# --- value checkers of this file: each takes (value, where) and returns the converted value ----------


def _tags(value: Any, where: Where) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) and NAME_RE.match(t) for t in value):
        raise where.fail(value, "expected a list of tag names (letters, digits, '.', '_', '-')")
    return tuple(value)


# --- the tables (each link kind's is in its module in harness.links) -------------------------------


def _declared(raw: Any, where: Where) -> Declared:
    f = table(
        raw,
        where,
        {
            "os_name": string,
            "os_version": string,
            "arch": string,
            "cpu_count": int_range(1, 4096),
            "memory_mb": int_range(1, 1 << 30),
            "capabilities": check_capabilities,
        },
    )
    return Declared(**f)


def _device(name: str, raw: Any, path: Path) -> DeviceSpec:
    where = device_where(path, name)
    if not NAME_RE.match(name):
        raise where.fail(name, "device names use letters, digits, '.', '_' and '-'")
    profiles = profile_names()
    simple = table(
        {k: v for k, v in raw.items() if k not in LINK_KINDS and k not in ("declared", "power")}
        if isinstance(raw, dict)
        else raw,
        where,
        {
            "kind": one_of(*DEVICE_KINDS),
            "profile": one_of(*profiles),
            "vendor": string,
            "model": string,
            "soc": string,
            "tags": _tags,
            "primary": one_of(*LINK_KINDS),
        },
        required=("kind", "profile"),
    )
    links: dict[str, Any] = {}
    for link in LINKS:
        if link.name in raw:
            links[link.name] = link.parse(raw[link.name], where.child(link.name), path.parent)
    if not links:
        raise where.child(LINK_KINDS[0]).fail(None, "a device needs at least one transport table: "
                                                    f"{', '.join(LINK_KINDS[:-1])} or {LINK_KINDS[-1]}")
    primary = simple.get("primary")
    if primary and primary not in links:
        raise where.child("primary").fail(primary, f"no [{primary}] table for this device")
    declared = _declared(raw["declared"], where.child("declared")) if "declared" in raw else Declared()
    power = parse_power(raw["power"], where.child("power"), path.parent) if "power" in raw else None
    spec = DeviceSpec(name=name, source=path, declared=declared, links=links, power=power, **simple)
    _warn_weak_passwords(spec, links, where)
    return spec


def _warn_weak_passwords(spec: DeviceSpec, links: dict[str, Any], where: Where) -> None:
    """An inline password that is short or an ordinary word still works, but could turn up in text that
    has nothing to do with it, where it cannot be told apart: say so once, at load."""
    names = {"name": spec.name, "kind": spec.kind, "profile": spec.profile, "vendor": spec.vendor or "",
             "model": spec.model or "", "soc": spec.soc or "", **{f"tag {t!r}": t for t in spec.tags}}
    for link, link_spec in links.items():
        value = getattr(getattr(link_spec, "password", None), "inline", None)
        why = weakness(value, names) if value else None
        if why:
            log.warning(
                "%s: device %r, key '%s.password': warning: the inline password %s; use a longer one, "
                "or password_env", where.path, spec.name, link, why,
            )


def parse_inventory(text: str, path: Path) -> Inventory:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    root = Where(path)
    for key in data:
        if key not in ("devices", "lab"):
            raise root.child(key).fail(
                data[key], f"unknown top-level table{suggest(key, ['devices', 'lab'])}"
            )
    devices_raw = data.get("devices", {})
    if not isinstance(devices_raw, dict):
        raise root.child("devices").fail(devices_raw, "expected [devices.NAME] tables")
    devices = {name: _device(name, raw, path) for name, raw in devices_raw.items()}
    return Inventory(path=path, devices=devices, lab=parse_lab(data.get("lab"), path, devices))


def load_inventory(path: Path) -> Inventory:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: inventory file not found (give --inventory PATH or create it)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the inventory: {exc}") from None
    return parse_inventory(text, path)
