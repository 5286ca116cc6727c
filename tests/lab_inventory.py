"""Temporary lab inventories for the lab tests: the default lab's shape on free loopback ports, with a
private state dir beside the file, so every test lab is its own (never the fixed 47xxx ports)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from harness.waiting import free_port

CONSOLE_PASSWORD = "lab-test-console-pw"


@dataclass(frozen=True)
class LabPorts:
    euler_ssh: int
    euler_console: int
    kylin_ssh: int
    nc_ssh: int
    handset_adb: int
    ohos_console: int
    adb_server: int


def free_ports() -> LabPorts:
    ports: set[int] = set()
    while len(ports) < 7:
        ports.add(free_port())
    return LabPorts(*sorted(ports))


def write_lab(folder: Path, *, boot_time: float = 0.3, only: tuple[str, ...] = ()) -> tuple[Path, LabPorts]:
    """An inventory of the five personas (or `only` some) with a [lab] section; returns it and its ports."""
    p = free_ports()
    ssh = 'user = "root", key_file = "state/client_key", known_hosts = "state/known_hosts"'
    devices = {
        "ohos-rk3568": f"""
[devices.ohos-rk3568]
kind = "board"
profile = "openharmony"
model = "EM-3568"
soc = "RK3568"
serial = {{ port = "state/tty/ohos-rk3568" }}
[lab.devices.ohos-rk3568]
persona = "ohos-rk3568"
boot_time = {boot_time}
console_port = {p.ohos_console}
""",
        "euler-ft2000": f"""
[devices.euler-ft2000]
kind = "board"
profile = "openeuler"
primary = "ssh"
ssh = {{ host = "127.0.0.1", port = {p.euler_ssh}, {ssh} }}
serial = {{ port = "socket://127.0.0.1:{p.euler_console}", user = "root", password = "{CONSOLE_PASSWORD}" }}
declared = {{ capabilities = ["watchdog-reboot"] }}
power = {{ socket = "state/run/euler-ft2000.sock", off_seconds = 0.2 }}
[lab.devices.euler-ft2000]
persona = "euler-ft2000"
boot_time = {boot_time}
""",
        "handset-hmos": f"""
[devices.handset-hmos]
kind = "handset"
profile = "harmonyos"
adb = {{ serial = "127.0.0.1:{p.handset_adb}", server = "127.0.0.1:{p.adb_server}", connect = "127.0.0.1:{p.handset_adb}" }}
[lab.devices.handset-hmos]
persona = "handset-hmos"
boot_time = {boot_time}
""",
        "kylin-v10": f"""
[devices.kylin-v10]
kind = "board"
profile = "kylin"
ssh = {{ host = "127.0.0.1", port = {p.kylin_ssh}, {ssh} }}
[lab.devices.kylin-v10]
persona = "kylin-v10"
boot_time = {boot_time}
""",
        "nonconforming-board": f"""
[devices.nonconforming-board]
kind = "board"
profile = "openeuler"
ssh = {{ host = "127.0.0.1", port = {p.nc_ssh}, {ssh} }}
declared = {{ capabilities = ["watchdog-reboot"] }}
power = {{ socket = "state/run/nonconforming-board.sock", off_seconds = 0.2 }}
[lab.devices.nonconforming-board]
persona = "nonconforming-board"
boot_time = {boot_time}
""",
    }
    chosen = [devices[n] for n in (only or tuple(devices))]
    text = f'[lab]\nstate_dir = "state"\nadb_server = {p.adb_server}\n' + "".join(chosen)
    path = folder / "devices.toml"
    path.write_text(text)
    return path, p


def read_until(sock: socket.socket, wanted: bytes, timeout: float = 10.0, limit: int = 1 << 20) -> bytes:
    """Bytes from a raw console client until `wanted` shows (or the deadline: AssertionError)."""
    from harness.waiting import Deadline

    deadline = Deadline(timeout)
    got = b""
    while wanted not in got:
        sock.settimeout(max(deadline.remaining(), 0.01))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"{wanted!r} did not show within {timeout}s; got {got[-400:]!r}") from None
        if not chunk:
            raise AssertionError(f"the console closed before {wanted!r} showed; got {got[-400:]!r}")
        got = (got + chunk)[-limit:]
    return got
