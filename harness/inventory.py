"""devices.toml -> validated DeviceSpecs.

Every problem is reported as one line naming the file, the device, the key and the bad value, as a
ConfigError (the CLI exits 2). Unknown keys are refused, with a "did you mean" where one is close."""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .capabilities import CAPABILITIES
from .capabilities import unknown as unknown_capabilities
from .config_check import Where
from .errors import ConfigError
from .links import LINKS
from .profiles import profile_names
from .secrets import redact, weakness
from .specs import Declared, DeviceSpec

log = logging.getLogger("harness.inventory")

KINDS = ("handset", "board", "module")
TRANSPORTS = LINKS.names()  # a device's link tables (harness.links)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Inventory:
    path: Path
    devices: dict[str, DeviceSpec]
    # The simulated lab's [lab] section (harness.lab.lab_config.LabConfig), when the inventory has one.
    lab: Any = None

    def get(self, name: str) -> DeviceSpec:
        if name in self.devices:
            return self.devices[name]
        raise ConfigError(f"{self.path}: no device named {name!r}{_suggest(name, self.devices)}")

    def select(self, names: list[str] = (), tags: list[str] = (), all_: bool = False) -> list[DeviceSpec]:  # type: ignore[assignment]
        if all_ or (not names and not tags):
            return list(self.devices.values())
        chosen: dict[str, DeviceSpec] = {n: self.get(n) for n in names}
        for tag in tags:
            tagged = [d for d in self.devices.values() if tag in d.tags]
            if not tagged:
                known = sorted({t for d in self.devices.values() for t in d.tags})
                raise ConfigError(f"{self.path}: no device has tag {tag!r}{_suggest(tag, known)}")
            chosen.update((d.name, d) for d in tagged)
        return list(chosen.values())


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Where:
    """The place a value came from, for error messages: file, device and dotted key."""

    def __init__(self, path: Path, device: str | None, key: str = "") -> None:
        self.path, self.device, self.key = path, device, key

    def child(self, key: str) -> _Where:
        return _Where(self.path, self.device, f"{self.key}.{key}" if self.key else key)

    def fail(self, value: Any, problem: str, *, show: bool = True) -> ConfigError:
        where = f"device {self.device!r}, " if self.device else ""
        if show and not _may_be_secret(self.key):
            shown = redact(repr(value))
        else:
            shown = f"<{type(value).__name__}, not shown>" if value is not None else "<not shown>"
        return ConfigError(f"{self.path}: {where}key {self.key!r} = {shown}: {problem}")


def link_error(spec: DeviceSpec, key: str, value: Any, problem: str) -> ConfigError:
    """A problem with one key of a loaded device, in the same one-line form as a parse error."""
    return _Where(spec.source or Path("devices.toml"), spec.name, key).fail(value, problem)


_SECRET_WORDS = ("pass", "pwd", "secret", "token")


def _may_be_secret(key: str) -> bool:
    """A key that is, or may be a misspelling of, one that holds a password: its value is never shown
    (`pasword = "..."` must not print the password it was meant to hide)."""
    last = key.rsplit(".", 1)[-1].lower()
    return any(w in last for w in _SECRET_WORDS) or bool(
        difflib.get_close_matches(last, ["password"], cutoff=0.6)
    )


# --- value checkers: each takes (value, where) and returns the converted value -----------------------

Checker = Callable[[Any, _Where], Any]


def _str(value: Any, where: _Where) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.fail(value, "expected a non-empty string")
    return value


def _int_range(lo: int, hi: int) -> Checker:
    def check(value: Any, where: _Where) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise where.fail(value, f"expected an integer from {lo} to {hi}")
        return value

    return check


def _one_of(*choices: str) -> Checker:
    def check(value: Any, where: _Where) -> str:
        if value not in choices:
            raise where.fail(value, f"expected one of {', '.join(choices)}{_suggest(str(value), choices)}")
        return str(value)

    return check


def _tags(value: Any, where: _Where) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) and NAME_RE.match(t) for t in value):
        raise where.fail(value, "expected a list of tag names (letters, digits, '.', '_', '-')")
    return tuple(value)


def _table(
    raw: Any, where: _Where, schema: Mapping[str, Checker], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(raw, dict):
        # Not shown: a link written as a string ("root:secret@host") may carry a password.
        raise where.fail(raw, "expected a table", show=False)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in schema:
            raise where.child(key).fail(value, f"unknown key{_suggest(key, schema)}")
        out[key] = schema[key](value, where.child(key))
    for key in required:
        if key not in out:
            raise where.child(key).fail(None, "required key is missing")
    return out


# --- the tables -----------------------------------------------------------------------------------


def _declared(raw: Any, where: _Where) -> Declared:
    f = _table(
        raw,
        where,
        {
            "os_name": _str,
            "os_version": _str,
            "arch": _str,
            "cpu_count": _int_range(1, 4096),
            "memory_mb": _int_range(1, 1 << 30),
            "capabilities": _capabilities,
        },
    )
    return Declared(**f)


def _capabilities(value: Any, where: _Where) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise where.fail(value, "expected a list of capability names")
    bad = unknown_capabilities(value)
    if bad:
        raise where.fail(bad[0], f"not a known capability (known: {', '.join(sorted(CAPABILITIES))})")
    return tuple(value)


def _device(name: str, raw: Any, path: Path) -> DeviceSpec:
    where = _Where(path, name)
    if not NAME_RE.match(name):
        raise where.fail(name, "device names use letters, digits, '.', '_' and '-'")
    profiles = profile_names()
    simple = _table(
        {k: v for k, v in raw.items() if k not in TRANSPORTS and k != "declared"}
        if isinstance(raw, dict)
        else raw,
        where,
        {
            "kind": _one_of(*KINDS),
            "profile": _one_of(*profiles),
            "vendor": _str,
            "model": _str,
            "soc": _str,
            "tags": _tags,
            "primary": _one_of(*TRANSPORTS),
        },
        required=("kind", "profile"),
    )
    links: dict[str, Any] = {}
    for link in LINKS:
        if link.name in raw:
            link_where = Where(path, f"device {name!r}", link.name)
            links[link.name] = link.parse(raw[link.name], link_where, path.parent)
    if not links:
        raise where.child(TRANSPORTS[0]).fail(None, "a device needs at least one transport table: "
                                                    f"{', '.join(TRANSPORTS[:-1])} or {TRANSPORTS[-1]}")
    primary = simple.get("primary")
    if primary and primary not in links:
        raise where.child("primary").fail(primary, f"no [{primary}] table for this device")
    declared = _declared(raw["declared"], where.child("declared")) if "declared" in raw else Declared()
    spec = DeviceSpec(name=name, source=path, declared=declared, links=links, **simple)
    _warn_weak_passwords(spec, links, where)
    return spec


def _warn_weak_passwords(spec: DeviceSpec, links: dict[str, Any], where: _Where) -> None:
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
    root = _Where(path, None)
    for key in data:
        if key not in ("devices", "lab"):
            raise root.child(key).fail(
                data[key], f"unknown top-level table{_suggest(key, ['devices', 'lab'])}"
            )
    devices_raw = data.get("devices", {})
    if not isinstance(devices_raw, dict):
        raise root.child("devices").fail(devices_raw, "expected [devices.NAME] tables")
    devices = {name: _device(name, raw, path) for name, raw in devices_raw.items()}
    from .lab.lab_config import parse_lab  # here: lab_config builds on this module's checkers

    return Inventory(path=path, devices=devices, lab=parse_lab(data.get("lab"), path, devices))


def load_inventory(path: Path) -> Inventory:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: inventory file not found (give --inventory PATH or create it)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the inventory: {exc}") from None
    return parse_inventory(text, path)
