"""The end of every run, resume, retry or merge: results.json, the published reports (junit.xml,
report.html, the signed manifest, reports/<run-id>.zip, reports/index.html), reports/latest, the
per-device verdict table, the run's path, the gate code; the signed bundle's path is the last line.

A run whose output was lost or that got a hangup (harness.run.output) ends as an interrupted one. A
full disk (any OSError of the host) while finishing is lab trouble: NotPublished, one line, exit 3;
every file is written whole or not at all, and the journals stay for `harness report RUN` later."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import HarnessError, describe_os_error
from ..report.publish import publish
from ..results.build import write_results
from ..results.document import ResultsDocument
from ..results.model import Verdict
from ..results.run_info import RunInfo
from . import output
from .gate import EXIT_INCOMPLETE, DeviceGate, gate_code, gates_from_results
from .progress import ProgressView, printable
from .rundir import RunDir, update_latest

_STYLE = {"CERTIFIED": "green", "CONDITIONAL": "yellow", "NOT CERTIFIED": "red", "INCOMPLETE": "magenta"}


class NotPublished(HarnessError):
    """The run's records could not be written (lab trouble, exit 3)."""

    def __init__(self, run: RunDir, exc: OSError) -> None:
        super().__init__(f"run {run.run_id} is not published: {describe_os_error(exc)}; its journals are "
                         f"kept in {run.path}: make room, then `harness report {run.run_id}`")


def finish_run(run: RunDir, info: RunInfo, *, interrupted: bool, junit_paths: list[Path], strict: bool,
               progress: ProgressView | None = None) -> int:
    interrupted = interrupted or output.cut_short()
    try:
        info.end = time.time()
        run.write_info(info)
        results = write_results(run.path)
        published = publish(run.path, results=results, junit_copies=junit_paths)
        update_latest(run)
    except OSError as exc:
        raise NotPublished(run, exc) from None
    gates = {g.device: g for g in gates_from_results(results)}
    # A device the results do not mention never got as far as a plan: lab trouble, not a pass.
    for d in info.devices:
        gates.setdefault(d, DeviceGate(d, verdict=Verdict.INCOMPLETE, reachable=False))
    code = gate_code([gates[d] for d in info.devices], strict=strict, interrupted=interrupted)
    print_summary(info.devices, results, gates, run, code, interrupted)
    print(published.bundle, flush=True)  # the last line: scripts (make run) read the bundle's path here
    # Nobody read the verdict: the caller (a pipe, CI) cannot have seen the gate, so it is no verdict.
    return EXIT_INCOMPLETE if output.cut_short() else code


def print_summary(devices: list[str], results: ResultsDocument, gates: dict[str, DeviceGate], run: RunDir,
                  code: int, interrupted: bool) -> None:
    """The verdict table, from the same results document the reports are made of."""
    table = Table(header_style="bold")
    for column in ("device", "verdict", "pass", "fail", "error", "skip", "not run", "build"):
        table.add_column(column, overflow="fold")
    for name in devices:
        gate = gates[name]
        entry = results.device(name)
        counts = entry.summary if entry else {}
        ident = (entry.identity if entry else None) or {}
        verdict = str(gate.verdict) + ("" if gate.reachable else " (unreachable)")
        table.add_row(escape(name), f"[{_STYLE.get(str(gate.verdict), '')}]{verdict}[/]",
                      *(str(counts.get(o, 0)) for o in ("PASS", "FAIL", "ERROR", "SKIP", "NOT_RUN")),
                      escape(printable(ident.get("fingerprint") or ident.get("os_name") or "-", 80)))
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    console.print(table)
    state_word = "interrupted" if interrupted else "finished"
    console.print(f"run {escape(run.run_id)} {state_word}: {escape(str(run.path))} (exit {code})",
                  highlight=False)
