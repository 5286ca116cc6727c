"""The CI gate: one exit code for a whole run.

  0  every device passes the gate: CERTIFIED or CONDITIONAL (with --strict: CERTIFIED only)
  1  a product failure: some device is NOT CERTIFIED (with --strict: also CONDITIONAL)
  2  usage or configuration error (never decided here: the CLI exits 2 before a run starts)
  3  incomplete or lab trouble: a device INCOMPLETE or unreachable, or the run was interrupted

Precedence: 1 over 3. A MUST that failed on the device is a finding whatever else went wrong in the
lab, and CI must not treat it as "retry later". The exception is a run stopped by Ctrl-C/SIGTERM:
the operator cut it short, so its results are not a verdict at all: 3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..results.model import Verdict

EXIT_PASS = 0
EXIT_PRODUCT = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


@dataclass(frozen=True)
class DeviceGate:
    device: str
    verdict: Verdict
    reachable: bool = True


def gate_code(devices: list[DeviceGate], *, strict: bool = False, interrupted: bool = False) -> int:
    if interrupted:
        return EXIT_INCOMPLETE
    passing = {Verdict.CERTIFIED} if strict else {Verdict.CERTIFIED, Verdict.CONDITIONAL}
    if any(d.verdict == Verdict.NOT_CERTIFIED or (strict and d.verdict == Verdict.CONDITIONAL)
           for d in devices):
        return EXIT_PRODUCT
    if not devices or any(not d.reachable or d.verdict not in passing for d in devices):
        return EXIT_INCOMPLETE
    return EXIT_PASS


def parse_verdict(value: object) -> Verdict:
    """A verdict as results.json spells it; anything unknown counts as INCOMPLETE (never a pass)."""
    text = str(value or "").replace("_", " ").upper()
    for v in Verdict:
        if text == v.value:
            return v
    return Verdict.INCOMPLETE


def gates_from_results(results: Mapping[str, object]) -> list[DeviceGate]:
    """Per-device verdicts out of results.json."""
    raw = results.get("devices", [])
    items = list(raw.values()) if isinstance(raw, dict) else list(raw) if isinstance(raw, list) else []
    gates = []
    for dev in items:
        if not isinstance(dev, dict):
            continue
        reachable = dev.get("reachable")
        gates.append(DeviceGate(
            device=str(dev.get("name") or dev.get("device") or "?"),
            verdict=parse_verdict(dev.get("verdict")),
            reachable=reachable is not False,
        ))
    return gates
