"""Transports: one contract (base.Transport), one module per link."""

from __future__ import annotations

from ..specs import DeviceSpec
from .base import CommandResult, Transport

__all__ = ["CommandResult", "Transport", "open_transport"]


def open_transport(spec: DeviceSpec, kind: str | None = None) -> Transport:
    """Make (not yet connect) the transport of `kind` (default: the device's primary link)."""
    from ..errors import ConfigError
    from ..links import LINKS
    from ..profiles import load_profile

    kind = kind or spec.primary_transport
    if kind not in spec.links:
        raise ConfigError(f"device {spec.name!r} has no {kind} transport "
                          f"(it has: {', '.join(spec.transports)})")
    return LINKS.get(kind).open(spec.links[kind], load_profile(spec.profile).for_link(kind))
