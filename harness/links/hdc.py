"""The hdc link: an OpenHarmony device behind an hdc server (OpenHarmony Device Connector).

    [devices.NAME.hdc]
    target = "7001005458323933328a"   # the connect key, as `hdc list targets` shows it
    server = "127.0.0.1:8710"         # the hdc server; default 127.0.0.1:8710
    connect = "10.0.0.2:8710"         # `hdc tconn` this first, for TCP devices (then target = it)
    client = "/opt/ohos-sdk/toolchains/hdc"   # the real hdc client, for file transfers"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config_check import Where, string, table
from .registry import LinkKind
from .values import HOSTPORT_RE, hostport, path_under, server

# hdc's connect key travels in a 32-byte field, NUL included.
HDC_KEY_MAX = 31
HDC_KEY_RE = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True)
class HdcSpec:
    """An OpenHarmony device behind an hdc server (OpenHarmony Device Connector)."""

    target: str  # the connect key: a USB serial or IP:PORT, as `hdc list targets` shows it
    server_host: str = "127.0.0.1"
    server_port: int = 8710
    # `hdc tconn IP:PORT` first, for TCP devices.
    connect: str | None = None
    # The real hdc client (from the OpenHarmony SDK's toolchains) for file transfers; default: on PATH.
    client: Path | None = None


def _target(value: Any, where: Where) -> str:
    text = string(value, where)
    if not HDC_KEY_RE.match(text) or len(text.encode()) > HDC_KEY_MAX:
        raise where.fail(value, f"expected a serial or IP:PORT of at most {HDC_KEY_MAX} characters, "
                                "no spaces")
    return text


def _address(value: Any, where: Where) -> str:
    m = HOSTPORT_RE.match(value) if isinstance(value, str) else None
    if not m or m["user"] or not m["port"] or not 1 <= int(m["port"]) <= 65535:
        raise where.fail(value, "expected IP:PORT (the device's hdcd over TCP)")
    return _target(value, where)


def parse(raw: Any, where: Where, base: Path) -> HdcSpec:
    f = table(raw, where, {"target": _target, "server": hostport(8710), "connect": _address,
                           "client": path_under(base)}, required=("target",))
    server(f, raw, where)
    if "connect" in f and f["connect"] != f["target"]:
        raise where.child("target").fail(f["target"], f"expected {f['connect']!r} (the hdc server names a "
                                                      "TCP device by the address it was connected to)")
    return HdcSpec(**f)


def describe(spec: HdcSpec) -> str:
    return f"{spec.target} @ {spec.server_host}:{spec.server_port}"


KIND = LinkKind(name="hdc", spec_class=HdcSpec, parse=parse, describe=describe,
                transport="harness.transports.hdc:from_spec")
