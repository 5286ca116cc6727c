"""A Device: inventory spec + transport + OS profile."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class LinkStatus:
    """Whether one link of a device answers a command, and why not."""

    kind: str
    reachable: bool
    error: str | None = None


@dataclass
class DeviceStatus:
    """What `harness devices` reports for one device: its primary link (and the identity read over
    it), and the state of every link it has."""

    spec: DeviceSpec
    reachable: bool = False
    error: str | None = None
    via: str | None = None
    identity: Identity | None = None
    checked: list[str] = field(default_factory=list)
    links: dict[str, LinkStatus] = field(default_factory=dict)


def _failure(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")


def check_device(spec: DeviceSpec, timeout: float = 20.0, *, every_link: bool = False) -> DeviceStatus:
    """Reach the device over its primary link and read its identity; with `every_link`, also try each
    other link (at the same time) with a command. Never raises."""
    primary = spec.primary_transport
    status = DeviceStatus(spec=spec, via=primary)
    others = [kind for kind in spec.transports if kind != primary] if every_link else []
    with ThreadPoolExecutor(max_workers=max(1, len(others))) as pool:
        pending = {kind: pool.submit(probe_link, spec, kind, timeout) for kind in others}
        try:
            with Device(spec) as device:
                status.identity = probe_identity(device.transport, device.profile, timeout=timeout)
                status.reachable = True
        except Exception as exc:  # a device must never take the listing down with it
            status.error = _failure(exc)
        if every_link:
            status.links[primary] = LinkStatus(primary, status.reachable, status.error)
        for kind, future in pending.items():
            status.links[kind] = future.result()
    return status


def probe_link(spec: DeviceSpec, kind: str, timeout: float) -> LinkStatus:
    """One link answers `true` within `timeout`, or the reason it does not. Never raises."""
    try:
        with Device(spec, via=kind) as device:
            result = device.run("true", timeout)
    except Exception as exc:
        return LinkStatus(kind, False, _failure(exc))
    if not result.ok:
        return LinkStatus(kind, False, f"`true` exited {result.exit_code}")
    return LinkStatus(kind, True)
