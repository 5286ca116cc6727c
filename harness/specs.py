"""Validated inventory records: one device and the links that reach it. Built by harness.inventory.

Each link kind's spec lives in its module in harness.links; the first kinds' are named here too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .links import LINKS
from .links.adb import AdbSpec
from .links.hdc import HdcSpec
from .links.serial import SerialSpec
from .links.ssh import JumpSpec, SshSpec
from .power import PowerSpec

__all__ = ["DEVICE_KINDS", "LINK_KINDS", "AdbSpec", "Declared", "DeviceSpec", "HdcSpec", "JumpSpec",
           "SerialSpec", "SshSpec"]

# The one list of each: the inventory, suite.toml's applies_to, profiles, personas and the lab read these.
DEVICE_KINDS = ("handset", "board", "module")
LINK_KINDS = LINKS.names()  # a device's link tables (harness.links), in the order `transports` lists them

L = TypeVar("L")


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
    # Link kind -> its spec (harness.links), in the registry's order. Not hashed: a dict.
    links: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # Which link `run` uses when several are configured.
    primary: str | None = None
    source: Path | None = None
    # How the lab cuts and restores the device's power (harness.power); None: it cannot.
    power: PowerSpec | None = None

    def __post_init__(self) -> None:
        # The registry's order, whatever order the links were given in: it decides the default link.
        ordered = {k: self.links[k] for k in LINKS.names() if k in self.links}
        unknown = set(self.links) - set(ordered)
        if unknown:
            raise ValueError(f"not link kinds: {', '.join(sorted(unknown))}")
        object.__setattr__(self, "links", ordered)

    def link(self, kind: str, spec_class: type[L]) -> L | None:
        """The spec of link `kind`, typed (None when the device has no such link)."""
        spec = self.links.get(kind)
        if spec is not None and not isinstance(spec, spec_class):
            raise TypeError(f"link {kind!r} of {self.name!r} is a {type(spec).__name__}")
        return spec

    # The first kinds' specs by name, for code about that one kind (the lab, its transport's tests).
    @property
    def ssh(self) -> SshSpec | None:
        return self.link("ssh", SshSpec)

    @property
    def adb(self) -> AdbSpec | None:
        return self.link("adb", AdbSpec)

    @property
    def hdc(self) -> HdcSpec | None:
        return self.link("hdc", HdcSpec)

    @property
    def serial(self) -> SerialSpec | None:
        return self.link("serial", SerialSpec)

    @property
    def transports(self) -> list[str]:
        return list(self.links)

    @property
    def primary_transport(self) -> str:
        if self.primary:
            return self.primary
        return self.transports[0]
