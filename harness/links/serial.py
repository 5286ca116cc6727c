"""The serial link: a device's console, on a local port or over the network (socket://, rfc2217://).

    [devices.NAME.serial]
    port = "/dev/ttyUSB0"     # or socket://host:port, rfc2217://host:port[?options]; relative: beside
    baud = 115200             # the inventory
    user = "root"  password = "..." | password_env = "VAR"
    prompt = "[#$] $"  login_prompt = "login: ?$"  password_prompt = "[Pp]assword: ?$"   # regexes"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config_check import Where, env_name, int_range, regex, string, table
from ..secrets import Secret
from .registry import LinkKind, LinkProblem
from .values import HOSTPORT_RE, is_host, password, password_problems

SERIAL_URLS = ("socket://", "rfc2217://")


@dataclass(frozen=True)
class SerialSpec:
    port: str  # a device path or a pyserial URL (socket://, rfc2217://)
    baud: int = 115200
    user: str | None = None
    password: Secret = field(default_factory=Secret)
    # Regex of the shell prompt the console shows after login (before we set our own).
    prompt: str = r"[#$] $"  # trailing space required: "#1 SMP" cut after "#" is no prompt
    login_prompt: str = r"login: ?$"
    password_prompt: str = r"[Pp]assword: ?$"


def _port(value: Any, where: Where) -> str:
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


def parse(raw: Any, where: Where, base: Path) -> SerialSpec:
    f = table(
        raw,
        where,
        {
            "port": _port,
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
    secret = password(f, where)
    if "://" not in f["port"] and not Path(f["port"]).expanduser().is_absolute():
        f["port"] = str(base / f["port"])  # a device path, like key files, is relative to the inventory
    return SerialSpec(password=secret, **f)


def describe(spec: SerialSpec) -> str:
    return f"{spec.port} {spec.baud}"


def preflight(spec: SerialSpec) -> Iterator[LinkProblem]:
    yield from password_problems(spec.password)


KIND = LinkKind(name="serial", spec_class=SerialSpec, parse=parse, describe=describe, preflight=preflight,
                transport="harness.transports.serial:from_spec")
