"""The end of every run, resume, retry or merge: results.json, the published reports (junit.xml,
report.html, the signed manifest, reports/<run-id>.zip, reports/index.html), reports/latest, the
per-device verdict table, the run's path, the gate code; the signed bundle's path is the last line."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..report.publish import publish
from ..results.model import Outcome, Verdict
from .gate import DeviceGate, gate_code, gates_from_results
from .progress import ProgressView, printable
from .rundir import RunDir, RunInfo, update_latest
from .state import DeviceState, device_state

_STYLE = {"CERTIFIED": "green", "CONDITIONAL": "yellow", "NOT CERTIFIED": "red", "INCOMPLETE": "magenta"}


def build_results(run: RunDir) -> dict[str, Any]:
    from ..results.build import write_results

    results = write_results(run.path)
    return results if isinstance(results, dict) else _as_dict(results)


def _as_dict(results: Any) -> dict[str, Any]:
    to_dict = getattr(results, "to_dict", None)
    return to_dict() if callable(to_dict) else {}


def finish_run(run: RunDir, info: RunInfo, *, interrupted: bool, junit_paths: list[Path], strict: bool,
               progress: ProgressView | None = None) -> int:
    info.end = time.time()
    run.write_info(info)
    device_states = [device_state(d, run.journal(d)) for d in info.devices]
    results = build_results(run)
    published = publish(run.path, results=results, junit_copies=junit_paths)
    update_latest(run)
    gates = {g.device: g for g in gates_from_results(results)}
    # A device the results do not mention never got as far as a plan: lab trouble, not a pass.
    for d in info.devices:
        gates.setdefault(d, DeviceGate(d, verdict=Verdict.INCOMPLETE, reachable=False))
    code = gate_code([gates[d] for d in info.devices], strict=strict, interrupted=interrupted)
    print_summary(device_states, gates, run, code, interrupted)
    print(published.bundle, flush=True)  # the last line: scripts (make run) read the bundle's path here
    return code


def _counts(state: DeviceState) -> Counter[str]:
    latest = state.latest()
    return Counter(str(rec.outcome) if rec else str(Outcome.NOT_RUN) for rec in latest.values())


def print_summary(device_states: list[DeviceState], gates: dict[str, DeviceGate], run: RunDir, code: int,
                  interrupted: bool) -> None:
    table = Table(header_style="bold")
    for column in ("device", "verdict", "pass", "fail", "error", "skip", "not run", "build"):
        table.add_column(column, overflow="fold")
    for state in device_states:
        gate = gates[state.device]
        counts = _counts(state)
        ident = state.identities[-1] if state.identities else {}
        verdict = str(gate.verdict) + ("" if gate.reachable else " (unreachable)")
        table.add_row(escape(state.device), f"[{_STYLE.get(str(gate.verdict), '')}]{verdict}[/]",
                      *(str(counts[o]) for o in ("PASS", "FAIL", "ERROR", "SKIP", "NOT_RUN")),
                      escape(printable(ident.get("fingerprint") or ident.get("os_name") or "-", 80)))
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    console.print(table)
    state_word = "interrupted" if interrupted else "finished"
    console.print(f"run {escape(run.run_id)} {state_word}: {escape(str(run.path))} (exit {code})",
                  highlight=False)
