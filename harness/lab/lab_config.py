"""The inventory's `[lab]` section: which devices of the inventory are simulated, by which persona,
with which faults, and where the lab keeps its state. Checked with harness.config_check, in the
one-line errors every config file gives (file, device, key, value, did-you-mean; the CLI exits 2).
The inventory parses it, so this module never imports the inventory.

    [lab]
    state_dir = ".lab"          # beside the inventory unless absolute
    adb_server = 15037          # the lab's own adb server (never 5037)
    hdc_server = 18710          # the lab's own hdc server (never 8710)

    [lab.devices.euler-ft2000]
    persona = "euler-ft2000"
    boot_time = 0.5             # seconds; default: the persona's boot_seconds
    console_port = 27211        # optional TCP console (socket://) beside the pty path
    faults = { latency_ms = 50 }

A simulated device must be reachable where its `[devices.NAME]` entry looks: ssh on 127.0.0.1, adb
through the lab's adb server with `connect = "127.0.0.1:PORT"`, hdc through the lab's hdc server with
`connect = "127.0.0.1:PORT"` (hdcd in the device's own network, relayed there), serial on the lab's pty path
(`<state_dir>/tty/NAME`) or `socket://127.0.0.1:PORT`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config_check import Where, device_where, one_of, seconds, string, suggest
from harness.errors import ConfigError
from harness.lab.faults import Faults
from harness.lab.persona import list_personas
from harness.links import LINKS
from harness.specs import DeviceSpec

DEFAULT_STATE_DIR = ".lab"
DEFAULT_ADB_SERVER_PORT = 15037
DEFAULT_HDC_SERVER_PORT = 18710
HDC_DEFAULT_PORT = 8710  # the user's own hdc server (and hdcd's UDP discovery): never the lab's
LOOPBACK = ("127.0.0.1", "localhost")
# Ports the lab never uses: the adb server scans 5555-5585 for emulators; 5037 is the user's own server.
FORBIDDEN_PORTS = (*range(5555, 5586), 5037)
SOCKET_URL = re.compile(r"^socket://(?P<host>[^:/]+):(?P<port>\d+)/?$")
LAB_KEYS = ("state_dir", "adb_server", "hdc_server", "devices")
# The link kinds (harness.links) a simulated device serves: each has its endpoint check below, its
# LabDevice field, and its server in lab/device/links.py, started by lab/device/simulated.py.
SIMULATED_LINKS = ("ssh", "adb", "hdc", "serial")
DEVICE_KEYS = ("persona", "boot_time", "console_port", "faults")


@dataclass(frozen=True)
class LabDevice:
    """One simulated device and the endpoints it serves (from its inventory entry)."""

    name: str
    persona: str
    boot_time: float | None = None
    faults: Faults = field(default_factory=Faults)
    ssh_port: int | None = None
    adb_port: int | None = None
    hdc_port: int | None = None
    console_port: int | None = None  # the TCP console (socket://)
    serial: bool = False  # has a console (pty path, and TCP when console_port is set)


@dataclass(frozen=True)
class LabConfig:
    inventory: Path
    state_dir: Path
    adb_server_port: int
    devices: dict[str, LabDevice]
    hdc_server_port: int = DEFAULT_HDC_SERVER_PORT

    def tty_path(self, name: str) -> Path:
        """The console's pty "by path", like /dev/ttyUSB0 on a lab host."""
        return self.state_dir / "tty" / name

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"

    @property
    def hdc_bin_dir(self) -> Path:
        """Where the lab links the built hdc and hdcd (`harness lab up` makes them; see lab.hdc.build)."""
        return self.state_dir / "bin"

    def hdcd_binary(self) -> Path:
        path = self.hdc_bin_dir / "hdcd"
        if not path.exists():
            raise ConfigError(f"{self.inventory}: the lab has no hdcd at {path} (`harness lab up` builds it; "
                              "or python -m harness.lab.hdc.build, then link it there)")
        return path

    def control_socket(self, name: str) -> Path:
        """The device process's control socket (status, faults, reboot and the lab's power switch)."""
        return self.state_dir / "run" / f"{name}.sock"

    def device_dir(self, name: str) -> Path:
        return self.state_dir / "devices" / name

    def get(self, name: str) -> LabDevice:
        if name not in self.devices:
            raise ConfigError(f"{self.inventory}: no simulated device named {name!r}"
                              f"{suggest(name, self.devices)} (see [lab.devices])")
        return self.devices[name]


def parse_lab(raw: Any, path: Path, devices: dict[str, DeviceSpec]) -> LabConfig | None:
    """The validated [lab] table, or None when the inventory has none."""
    if raw is None:
        return None
    where = Where(path, None, "lab")
    if not isinstance(raw, dict):
        raise where.fail(raw, "expected a [lab] table")
    for key, value in raw.items():
        if key not in LAB_KEYS:
            raise where.child(key).fail(value, f"unknown key{suggest(key, LAB_KEYS)}")
    state_dir = Path(string(raw.get("state_dir", DEFAULT_STATE_DIR), where.child("state_dir"))).expanduser()
    if not state_dir.is_absolute():
        state_dir = path.parent / state_dir
    adb_port = _port(raw.get("adb_server", DEFAULT_ADB_SERVER_PORT), where.child("adb_server"))
    hdc_port = _port(raw.get("hdc_server", DEFAULT_HDC_SERVER_PORT), where.child("hdc_server"))
    if hdc_port == HDC_DEFAULT_PORT:
        raise where.child("hdc_server").fail(hdc_port, "8710 is the default hdc server's: pick another port")
    lab_devices = raw.get("devices", {})
    if not isinstance(lab_devices, dict):
        raise where.child("devices").fail(lab_devices, "expected [lab.devices.NAME] tables")
    config = LabConfig(inventory=path, state_dir=state_dir, adb_server_port=adb_port, devices={},
                       hdc_server_port=hdc_port)
    for name, table in lab_devices.items():
        dev_where = device_where(path, name).at(f"lab.devices.{name}")
        if name not in devices:
            raise dev_where.fail(name, f"no [devices.{name}] entry to simulate{suggest(name, devices)}")
        config.devices[name] = _lab_device(name, table, dev_where, devices[name], config)
    return config


def _lab_device(name: str, raw: Any, where: Where, spec: DeviceSpec, config: LabConfig) -> LabDevice:
    if not isinstance(raw, dict):
        raise where.fail(raw, "expected a table")
    for key, value in raw.items():
        if key not in DEVICE_KEYS:
            raise where.child(key).fail(value, f"unknown key{suggest(key, DEVICE_KEYS)}")
    if "persona" not in raw:
        raise where.child("persona").fail(None, "required key is missing")
    persona = one_of(*list_personas())(raw["persona"], where.child("persona"))
    boot_time = seconds(raw["boot_time"], where.child("boot_time")) if "boot_time" in raw else None
    faults = Faults()
    if "faults" in raw:
        if not isinstance(raw["faults"], dict):
            raise where.child("faults").fail(raw["faults"], "expected a table of faults")
        try:
            faults = Faults.from_dict(raw["faults"])
        except (TypeError, ValueError) as exc:
            raise where.child("faults").fail(raw["faults"], str(exc)) from None
    console_port = _port(raw["console_port"], where.child("console_port")) if "console_port" in raw else None
    for kind in spec.transports:
        if kind not in SIMULATED_LINKS:
            raise where.at(kind).fail(
                LINKS.get(kind).describe(spec.links[kind]),
                f"the lab does not simulate {kind} links (it simulates {', '.join(SIMULATED_LINKS)})")
    if spec.power is not None and spec.power.socket is not None:
        served = config.control_socket(name)
        if spec.power.socket.resolve() != served.resolve():
            raise where.at("power.socket").fail(
                str(spec.power.socket), f"a simulated device's power switch is its control socket {served}")
    return LabDevice(
        name=name, persona=persona, boot_time=boot_time, faults=faults,
        ssh_port=_ssh_port(spec, where), adb_port=_adb_port(spec, where, config),
        hdc_port=_hdc_port(spec, where, config),
        console_port=_console_port(spec, where, config, console_port), serial=spec.serial is not None,
    )


def _ssh_port(spec: DeviceSpec, where: Where) -> int | None:
    if spec.ssh is None:
        return None
    dev = where.at("ssh.host")
    if spec.ssh.host not in LOOPBACK:
        raise dev.fail(spec.ssh.host, "a simulated device listens on 127.0.0.1")
    if spec.ssh.jump is not None:
        raise dev.child("jump").fail(spec.ssh.jump.host, "a simulated device is reached directly")
    return _port(spec.ssh.port, where.at("ssh.port"))


def _adb_port(spec: DeviceSpec, where: Where, config: LabConfig) -> int | None:
    if spec.adb is None:
        return None
    dev = where.at("adb")
    if (spec.adb.server_host, spec.adb.server_port) not in ((h, config.adb_server_port) for h in LOOPBACK):
        raise dev.child("server").fail(f"{spec.adb.server_host}:{spec.adb.server_port}",
                                       f"expected the lab's adb server 127.0.0.1:{config.adb_server_port}")
    m = re.fullmatch(r"(?:127\.0\.0\.1|localhost):(\d+)", spec.adb.connect or "")
    if m is None:
        raise dev.child("connect").fail(spec.adb.connect,
                                        "expected 127.0.0.1:PORT, where the simulated adbd listens")
    if spec.adb.serial != spec.adb.connect:
        raise dev.child("serial").fail(spec.adb.serial, f"expected {spec.adb.connect!r} (the adb server "
                                                         "names a connected device by its address)")
    return _port(int(m[1]), dev.child("connect"))


def _hdc_port(spec: DeviceSpec, where: Where, config: LabConfig) -> int | None:
    if spec.hdc is None:
        return None
    dev = where.at("hdc")
    if (spec.hdc.server_host, spec.hdc.server_port) not in ((h, config.hdc_server_port) for h in LOOPBACK):
        raise dev.child("server").fail(f"{spec.hdc.server_host}:{spec.hdc.server_port}",
                                       f"expected the lab's hdc server 127.0.0.1:{config.hdc_server_port}")
    m = re.fullmatch(r"(?:127\.0\.0\.1|localhost):(\d+)", spec.hdc.connect or "")
    if m is None:
        raise dev.child("connect").fail(spec.hdc.connect,
                                        "expected 127.0.0.1:PORT, where the simulated hdcd is relayed")
    port = _port(int(m[1]), dev.child("connect"))
    if port == HDC_DEFAULT_PORT:
        raise dev.child("connect").fail(spec.hdc.connect, "8710 is hdc's default port: pick another")
    return port


def _console_port(spec: DeviceSpec, where: Where, config: LabConfig, console_port: int | None) -> int | None:
    if spec.serial is None:
        if console_port is not None:
            raise where.child("console_port").fail(console_port, "the device has no [serial] table")
        return None
    dev = where.at("serial.port")
    m = SOCKET_URL.match(spec.serial.port)
    if m is not None:
        if m["host"] not in LOOPBACK:
            raise dev.fail(spec.serial.port, "a simulated console listens on 127.0.0.1")
        port = _port(int(m["port"]), dev)
        if console_port is not None and console_port != port:
            raise where.child("console_port").fail(console_port, f"differs from serial.port ({port})")
        return port
    tty = config.tty_path(spec.name)
    if Path(spec.serial.port) != tty:
        raise dev.fail(spec.serial.port, f"expected the lab's pty path {tty} or socket://127.0.0.1:PORT")
    return console_port


def _port(value: Any, where: Where) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1024 <= value <= 65535:
        raise where.fail(value, "expected a TCP port from 1024 to 65535")
    if value in FORBIDDEN_PORTS:
        raise where.fail(value, "the adb server owns 5037 and scans 5555-5585: pick another port")
    return value
