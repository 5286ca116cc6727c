"""devices.toml -> validated DeviceSpecs.

Every problem is reported as one line naming the file, the device, the key and the bad value, as a
ConfigError (the CLI exits 2). Unknown keys are refused, with a "did you mean" where one is close."""

from __future__ import annotations

import ipaddress
import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .capabilities import check_names as check_capabilities
from .config_check import (
    Checker,
    Where,
    boolean,
    device_where,
    env_name,
    int_range,
    one_of,
    positive_seconds,
    regex,
    string,
    suggest,
    table,
)
from .errors import ConfigError
from .lab.lab_config import LabConfig, parse_lab
from .profiles import profile_names
from .secrets import Secret, weakness
from .specs import (
    DEVICE_KINDS,
    LINK_KINDS,
    AdbSpec,
    Declared,
    DeviceSpec,
    HdcSpec,
    JumpSpec,
    SerialSpec,
    SshSpec,
)

log = logging.getLogger("harness.inventory")

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FINGERPRINT_RE = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")
_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
HOSTPORT_RE = re.compile(r"^(?:(?P<user>[^@\s]+)@)?(?P<host>\[[0-9a-fA-F:]+\]|[^:@\s]+)(?::(?P<port>\d+))?$")


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


def _fingerprint(value: Any, where: Where) -> str:
    if not isinstance(value, str) or not FINGERPRINT_RE.match(value):
        raise where.fail(value, "expected a host key fingerprint like 'SHA256:' + 43 base64 characters")
    return value


def _path_under(base: Path) -> Checker:
    def check(value: Any, where: Where) -> Path:
        path = Path(string(value, where)).expanduser()
        return path if path.is_absolute() else (base / path)

    return check


def is_host(text: str) -> bool:
    """An IP address or a name a resolver could look up: never a path, a URL, a user@ or a leading '-'
    (those only fail once something tries to connect)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(HOSTNAME_RE.match(text))


def _host(value: Any, where: Where) -> str:
    text = string(value, where)
    if not is_host(text):
        raise where.fail(value, "expected a host name or IP address")
    return text


def _hostport(default_port: int | None) -> Checker:
    def check(value: Any, where: Where) -> tuple[str | None, str, int]:
        m = HOSTPORT_RE.match(value) if isinstance(value, str) else None
        port = int(m["port"]) if m and m["port"] else default_port
        shape = "[user@]host[:port]" if default_port is not None else "host:port"
        if not m or port is None or not 1 <= port <= 65535 or not is_host(m["host"].strip("[]")):
            raise where.fail(value, f"expected {shape}")
        return m["user"], m["host"].strip("[]"), port

    return check


SERIAL_URLS = ("socket://", "rfc2217://")


def _serial_port(value: Any, where: Where) -> str:
    """A device path, or socket:// or rfc2217:// with host:port (rfc2217 may add ?options)."""
    text = string(value, where)
    if "://" not in text:
        return text
    scheme = next((s for s in SERIAL_URLS if text.startswith(s)), None)
    if scheme is None:
        raise where.fail(value, "expected a device path, socket://host:port or rfc2217://host:port")
    address = text[len(scheme):]
    if scheme == "rfc2217://":
        address = address.partition("?")[0]
    m = HOSTPORT_RE.match(address)
    if not m or m["user"] or not m["port"] or not 1 <= int(m["port"]) <= 65535 \
            or not is_host(m["host"].strip("[]")):
        raise where.fail(value, f"expected {scheme}host:port")
    return text


def _password(fields: dict[str, Any], where: Where) -> Secret:
    if "password" in fields and "password_env" in fields:
        raise where.child("password").fail(None, "give either password or password_env, not both")
    return Secret(inline=fields.pop("password", None), env=fields.pop("password_env", None))


# --- the tables -----------------------------------------------------------------------------------


def _ssh(raw: Any, where: Where, base: Path) -> SshSpec:
    path = _path_under(base)
    f = table(
        raw,
        where,
        {
            "host": _host,
            "port": int_range(1, 65535),
            "user": string,
            "key_file": path,
            "password": string,
            "password_env": env_name,
            "known_hosts": path,
            "host_key": _fingerprint,
            "accept_unknown_host_key": boolean,
            "jump": _hostport(22),
            "ssh_config": path,
            "connect_timeout": positive_seconds,
        },
        required=("host",),
    )
    password = _password(f, where)
    if "jump" in f:
        user, host, port = f.pop("jump")
        f["jump"] = JumpSpec(host=host, port=port, user=user)
    return SshSpec(password=password, **f)


def _adb(raw: Any, where: Where) -> AdbSpec:
    f = table(raw, where, {"serial": string, "server": _hostport(5037), "connect": _hostport(None)},
               required=("serial",))
    if "server" in f:
        user, host, port = f.pop("server")
        if user:
            raise where.child("server").fail(raw["server"], "expected host:port (no user)")
        f["server_host"], f["server_port"] = host, port
    if "connect" in f:
        user, _host_, _port = f["connect"]
        if user:
            raise where.child("connect").fail(raw["connect"], "expected host:port (no user)")
        f["connect"] = raw["connect"]
    return AdbSpec(**f)


# hdc's connect key travels in a 32-byte field, NUL included.
HDC_KEY_MAX = 31
HDC_KEY_RE = re.compile(r"^[\x21-\x7e]+$")


def _hdc_target(value: Any, where: Where) -> str:
    text = string(value, where)
    if not HDC_KEY_RE.match(text) or len(text.encode()) > HDC_KEY_MAX:
        raise where.fail(value, f"expected a serial or IP:PORT of at most {HDC_KEY_MAX} characters, "
                                "no spaces")
    return text


def _hdc_address(value: Any, where: Where) -> str:
    m = HOSTPORT_RE.match(value) if isinstance(value, str) else None
    if not m or m["user"] or not m["port"] or not 1 <= int(m["port"]) <= 65535:
        raise where.fail(value, "expected IP:PORT (the device's hdcd over TCP)")
    return _hdc_target(value, where)


def _hdc(raw: Any, where: Where, base: Path) -> HdcSpec:
    f = table(raw, where, {"target": _hdc_target, "server": _hostport(8710), "connect": _hdc_address,
                            "client": _path_under(base)}, required=("target",))
    if "server" in f:
        user, host, port = f.pop("server")
        if user:
            raise where.child("server").fail(raw["server"], "expected host:port (no user)")
        f["server_host"], f["server_port"] = host, port
    if "connect" in f and f["connect"] != f["target"]:
        raise where.child("target").fail(f["target"], f"expected {f['connect']!r} (the hdc server names a "
                                                      "TCP device by the address it was connected to)")
    return HdcSpec(**f)


def _serial(raw: Any, where: Where, base: Path) -> SerialSpec:
    f = table(
        raw,
        where,
        {
            "port": _serial_port,
            "baud": int_range(50, 12_000_000),
            "user": string,
            "password": string,
            "password_env": env_name,
            "prompt": regex,
            "login_prompt": regex,
            "password_prompt": regex,
        },
        required=("port",),
    )
    password = _password(f, where)
    if "://" not in f["port"] and not Path(f["port"]).expanduser().is_absolute():
        f["port"] = str(base / f["port"])  # a device path, like key files, is relative to the inventory
    return SerialSpec(password=password, **f)


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
        {k: v for k, v in raw.items() if k not in LINK_KINDS and k != "declared"}
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
    if "ssh" in raw:
        links["ssh"] = _ssh(raw["ssh"], where.child("ssh"), path.parent)
    if "adb" in raw:
        links["adb"] = _adb(raw["adb"], where.child("adb"))
    if "hdc" in raw:
        links["hdc"] = _hdc(raw["hdc"], where.child("hdc"), path.parent)
    if "serial" in raw:
        links["serial"] = _serial(raw["serial"], where.child("serial"), path.parent)
    if not links:
        raise where.child("ssh").fail(None, "a device needs at least one transport table: "
                                            "ssh, adb, hdc or serial")
    primary = simple.get("primary")
    if primary and primary not in links:
        raise where.child("primary").fail(primary, f"no [{primary}] table for this device")
    declared = _declared(raw["declared"], where.child("declared")) if "declared" in raw else Declared()
    spec = DeviceSpec(name=name, source=path, declared=declared, **simple, **links)
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
