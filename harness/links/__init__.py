"""Link kinds: one module each (its spec, the checker of its inventory table, how to describe it, where
its transport is built), registered here. The order is the order of preference: a device's links are
listed, and its default link chosen, in it.

A new kind is its module here, its line below, and its transport in harness/transports/ (ARCHITECTURE.md,
"Link kinds", lists the rest)."""

from __future__ import annotations

from . import adb, hdc, serial, ssh
from .registry import LinkKind, LinkProblem, Registry

__all__ = ["LINKS", "LinkKind", "LinkProblem", "names"]

LINKS = Registry((ssh.KIND, adb.KIND, hdc.KIND, serial.KIND))


def names() -> tuple[str, ...]:
    return LINKS.names()
