"""A Device: inventory spec + transport + OS profile."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import HarnessError
from .identity import Identity, probe_identity
from .profiles import Profile, load_profile
from .secrets import redact
from .specs import DeviceSpec
from .transports import open_transport
from .transports.base import DEFAULT_TIMEOUT, CommandResult, OutputCallback, Transport


class Device:
    def __init__(self, spec: DeviceSpec, transport: Transport | None = None, via: str | None = None) -> None:
        self.spec = spec
        self.transport: Transport = transport or open_transport(spec, via)
        # What the OS profile says for the link in use (HarmonyOS NEXT over hdc reads `param`, not getprop).
        self.profile: Profile = load_profile(spec.profile).for_link(self.transport.kind)
        self._identity: Identity | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def run(
        self, cmd: str, timeout: float = DEFAULT_TIMEOUT, *, on_output: OutputCallback | None = None
    ) -> CommandResult:
        return self.transport.run(cmd, timeout, on_output=on_output)

    def identity(self, refresh: bool = False) -> Identity:
        if self._identity is None or refresh:
            self._identity = probe_identity(self.transport, self.profile)
        return self._identity

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class DeviceStatus:
    """What `harness devices` reports for one device."""

    spec: DeviceSpec
    reachable: bool = False
    error: str | None = None
    via: str | None = None
    identity: Identity | None = None
    checked: list[str] = field(default_factory=list)


def check_device(spec: DeviceSpec, timeout: float = 20.0) -> DeviceStatus:
    """Reach the device over its primary link and read its identity; never raises."""
    status = DeviceStatus(spec=spec, via=spec.primary_transport)
    try:
        with Device(spec) as device:
            status.identity = probe_identity(device.transport, device.profile, timeout=timeout)
            status.reachable = True
    except HarnessError as exc:
        status.error = redact(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a device must never take the listing down with it
        status.error = redact(f"{type(exc).__name__}: {exc}")
    return status
