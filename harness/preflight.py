"""What only this host can say about a device's link settings, checked before a command connects or a
run writes anything: the link exists (--via), its key file and ssh config are there, its password
variable is set. Not part of loading the inventory: `harness lab up` makes the lab's key files, and a
listing (`devices --no-probe`) needs none of them.

Each problem is a ConfigError in the inventory's one-line form (file, device, key, value): exit 2."""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ConfigError
from .inventory import link_error
from .links import LINKS
from .specs import DeviceSpec


def check_link(spec: DeviceSpec, via: str | None = None) -> None:
    """The link `via` (default: the primary) of `spec` can be tried; ConfigError if it never could."""
    kind = via or spec.primary_transport
    if kind not in spec.transports:
        raise ConfigError(
            f"{spec.source or 'inventory'}: device {spec.name!r} has no {kind} link "
            f"(it has: {', '.join(spec.transports)}); --via {kind} cannot be used with it"
        )
    for problem in LINKS.get(kind).preflight(spec.links[kind]):
        raise link_error(spec, f"{kind}.{problem.key}", problem.value, problem.problem)


def check_links(specs: Iterable[DeviceSpec], via: str | None = None) -> None:
    for spec in specs:
        check_link(spec, via)
