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

from dataclasses import dataclass

from ..results.document import ResultsDocument
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


def gates_from_results(results: ResultsDocument) -> list[DeviceGate]:
    """Per-device verdicts out of the results document."""
    return [DeviceGate(device=d.name, verdict=d.verdict, reachable=d.reachable) for d in results.devices]
