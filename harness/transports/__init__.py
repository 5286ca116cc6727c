"""Transports: one contract (base.Transport), one module per link."""

from __future__ import annotations

from ..specs import DeviceSpec
from .base import CommandResult, Transport

__all__ = ["CommandResult", "Transport", "open_transport"]


def open_transport(spec: DeviceSpec, kind: str | None = None) -> Transport:
    """Make (not yet connect) the transport of `kind` (default: the device's primary link)."""
    from ..errors import ConfigError
    from ..profiles import load_profile

    kind = kind or spec.primary_transport
    profile = load_profile(spec.profile).for_link(kind)
    if kind == "ssh" and spec.ssh:
        from .ssh import SshTransport

        return SshTransport(
            spec.ssh, reboot_command=profile.reboot_command, ready_command=profile.boot_completed
        )
    if kind == "adb" and spec.adb:
        from .adb import AdbTransport

        return AdbTransport(spec.adb, boot_completed_prop=profile.boot_completed_prop or "sys.boot_completed")
    if kind == "hdc" and spec.hdc:
        from .hdc import HdcTransport

        return HdcTransport(spec.hdc, boot_completed_prop=profile.boot_completed_prop
                            or "bootevent.boot.completed")
    if kind == "serial" and spec.serial:
        from .serial import SerialTransport

        return SerialTransport(
            spec.serial, reboot_command=profile.reboot_command, ready_command=profile.boot_completed
        )
    raise ConfigError(f"device {spec.name!r} has no {kind} transport (it has: {', '.join(spec.transports)})")
