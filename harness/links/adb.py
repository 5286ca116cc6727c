"""The adb link: an Android device (or OpenHarmony's Android-compatible layer) behind an adb server.

    [devices.NAME.adb]
    serial = "emulator-5554"      # as `adb devices` names it (IP:PORT for a network device)
    server = "127.0.0.1:5037"     # the adb server; default 127.0.0.1:5037
    connect = "10.0.0.2:5555"     # `adb connect` this first, for network devices"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config_check import Where, string, table
from .registry import LinkKind
from .values import hostport, server


@dataclass(frozen=True)
class AdbSpec:
    serial: str
    server_host: str = "127.0.0.1"
    server_port: int = 5037
    # Connect the adb server to this address first (`adb connect host:port`), for network devices.
    connect: str | None = None


def parse(raw: Any, where: Where, base: Path) -> AdbSpec:
    f = table(raw, where, {"serial": string, "server": hostport(5037), "connect": hostport(None)},
              required=("serial",))
    server(f, raw, where)
    if "connect" in f:
        user, _host, _port = f["connect"]
        if user:
            raise where.child("connect").fail(raw["connect"], "expected host:port (no user)")
        f["connect"] = raw["connect"]
    return AdbSpec(**f)


def describe(spec: AdbSpec) -> str:
    return f"{spec.serial} @ {spec.server_host}:{spec.server_port}"


KIND = LinkKind(name="adb", spec_class=AdbSpec, parse=parse, describe=describe,
                transport="harness.transports.adb:from_spec")
