"""The simulated lab: `with Lab(Path("devices.toml")) as lab: ...` (see the README)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .faults import Faults
    from .lab import Lab

__all__ = ["Faults", "Lab"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: a device process importing harness.lab.<part> need not load the whole lab.
    if name == "Lab":
        from .lab import Lab

        return Lab
    if name == "Faults":
        from .faults import Faults

        return Faults
    raise AttributeError(f"module 'harness.lab' has no attribute {name!r}")
