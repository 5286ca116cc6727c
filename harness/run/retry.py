"""`harness retry`: rerun FAIL, ERROR and NOT_RUN as the next attempt in the same run, but only on the
build the run recorded (as CTS guards a retry by the build fingerprint). The check compares the
fingerprint each device reports now with the one in its first `device` journal line."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..device import check_device
from ..inventory import load_inventory
from .state import DeviceState

PROBE_TIMEOUT = 30.0


def build_key(identity: Mapping[str, Any]) -> str:
    """What names a build: the profile's fingerprint; for an OS without one, its name, version and kernel."""
    fingerprint = str(identity.get("fingerprint") or "").strip()
    if fingerprint:
        return fingerprint
    return "/".join(str(identity.get(k) or "") for k in ("os_name", "os_version", "kernel"))


@dataclass
class BuildCheck:
    device: str
    recorded: str | None  # None: the run never reached the device, so there is nothing to compare
    current: str | None = None
    error: str | None = None  # the device did not answer the probe

    @property
    def same_build(self) -> bool:
        return self.recorded is None or self.recorded == self.current


def check_builds(states: list[DeviceState], inventory: Path,
                 timeout: float = PROBE_TIMEOUT) -> list[BuildCheck]:
    inv = load_inventory(inventory)
    specs = {s.device: inv.get(s.device) for s in states}

    def probe(state: DeviceState) -> BuildCheck:
        first = state.first_identity
        check = BuildCheck(state.device, recorded=build_key(first) if first else None)
        status = check_device(specs[state.device], timeout)
        if status.identity is None:
            check.error = status.error or "no answer"
        else:
            check.current = build_key(status.identity.to_dict())
        return check

    with ThreadPoolExecutor(max_workers=min(32, max(1, len(states)))) as pool:
        return list(pool.map(probe, states))
