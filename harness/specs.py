"""Validated inventory records: one device and the links that reach it. Built by harness.inventory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .secrets import Secret

# The one list of each: the inventory, suite.toml's applies_to, profiles, personas and the lab read these.
DEVICE_KINDS = ("handset", "board", "module")
LINK_KINDS = ("ssh", "adb", "hdc", "serial")  # a device's link tables, in the order `transports` lists them


@dataclass(frozen=True)
class AdbSpec:
    serial: str
    server_host: str = "127.0.0.1"
    server_port: int = 5037
    # Connect the adb server to this address first (`adb connect host:port`), for network devices.
    connect: str | None = None


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


@dataclass(frozen=True)
class JumpSpec:
    host: str
    port: int = 22
    user: str | None = None


@dataclass(frozen=True)
class SshSpec:
    host: str
    port: int = 22
    user: str | None = None
    key_file: Path | None = None
    password: Secret = field(default_factory=Secret)
    known_hosts: Path | None = None
    # Pinned host key fingerprint, "SHA256:<base64>" as ssh-keygen -lf prints it.
    host_key: str | None = None
    # Explicit opt-in: accept (and remember in memory) an unknown host key.
    accept_unknown_host_key: bool = False
    jump: JumpSpec | None = None
    # Read ~/.ssh/config (or this file) for HostName, User, Port, IdentityFile, ProxyJump.
    ssh_config: Path | None = None
    connect_timeout: float = 10.0
    # Off by default so a lab run never depends on whoever's agent or ~/.ssh keys happen to be around.
    allow_agent: bool = False
    look_for_keys: bool = False


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


@dataclass(frozen=True)
class Declared:
    """What the inventory declares about a device; suites compare the device's answers to it."""

    os_name: str | None = None
    os_version: str | None = None
    arch: str | None = None
    cpu_count: int | None = None
    memory_mb: int | None = None
    # harness.capabilities names: the buses and radios the device has (gpio, i2c, wifi, ...).
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    kind: str  # one of DEVICE_KINDS
    profile: str
    vendor: str | None = None
    model: str | None = None
    soc: str | None = None
    tags: tuple[str, ...] = ()
    declared: Declared = field(default_factory=Declared)
    adb: AdbSpec | None = None
    ssh: SshSpec | None = None
    serial: SerialSpec | None = None
    hdc: HdcSpec | None = None
    # Which link `run` uses when several are configured.
    primary: str | None = None
    source: Path | None = None

    @property
    def transports(self) -> list[str]:
        return [k for k in LINK_KINDS if getattr(self, k) is not None]

    @property
    def primary_transport(self) -> str:
        if self.primary:
            return self.primary
        return self.transports[0]
