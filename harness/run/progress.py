"""Live progress from the workers' journal lines: rich per-device bars on a terminal, one plain line per
finished test otherwise (CI logs)."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..results.journal_records import DeviceLine, JournalLine, PlanLine, ResultLine

_COLOURS = {"PASS": "green", "FAIL": "red", "ERROR": "magenta", "SKIP": "yellow", "NOT_RUN": "dim"}


def printable(text: object, limit: int = 160) -> str:
    """One line of untrusted device text, safe to show: no control characters, bounded."""
    line = str(text).splitlines()[0] if str(text) else ""
    clean = "".join(c for c in line if c.isprintable())
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def planned_runs(plan: PlanLine) -> int:
    """Result lines a plan line announces: each test once per --repeat."""
    return len(plan.tests) * max(1, plan.repeat)


class ProgressView(Protocol):
    def start(self, devices: list[str]) -> None: ...
    def line(self, device: str, line: JournalLine) -> None: ...
    def finished(self, device: str, exit_code: int | None) -> None: ...
    def note(self, text: str) -> None: ...
    def stop(self) -> None: ...


class PlainProgress:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.planned: dict[str, int] = {}
        self.done: Counter[str] = Counter()

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def start(self, devices: list[str]) -> None:
        self._print(f"running on {len(devices)} device(s): {', '.join(devices)}")

    def line(self, device: str, line: JournalLine) -> None:
        if isinstance(line, PlanLine):
            runs = planned_runs(line)
            self.planned[device] = self.planned.get(device, 0) + runs
            self._print(f"[{device}] {runs} test run(s) planned")
        elif isinstance(line, DeviceLine):
            ident = line.identity
            build = printable(ident.get("fingerprint") or ident.get("os_name", ""))
            self._print(f"[{device}] connected: {build}")
        elif isinstance(line, ResultLine):
            rec = line.record
            self.done[device] += 1
            total = self.planned.get(device) or "?"
            msg = printable(rec.message)
            self._print(f"[{device}] {rec.outcome} {printable(rec.test_id, 200)} "
                        f"({rec.duration:.2f}s) [{self.done[device]}/{total}]"
                        + (f" {msg}" if msg and rec.outcome != "PASS" else ""))

    def finished(self, device: str, exit_code: int | None) -> None:
        self._print(f"[{device}] worker finished (exit {exit_code})")

    def note(self, text: str) -> None:
        self._print(text)

    def stop(self) -> None:
        pass


class RichProgress:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.bars = Progress(TextColumn("{task.fields[device]}", style="bold"), BarColumn(),
                             MofNCompleteColumn(), TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                             TextColumn("{task.fields[current]}"), console=self.console, transient=False)
        self.tasks: dict[str, Any] = {}
        self.counts: dict[str, Counter[str]] = {}
        self.planned: Counter[str] = Counter()

    def start(self, devices: list[str]) -> None:
        self.bars.start()
        for d in devices:
            self.counts[d] = Counter()
            self.tasks[d] = self.bars.add_task("", total=None, device=escape(d), counts="", current="")

    def _counts(self, device: str) -> str:
        c = self.counts[device]
        return " ".join(f"[{_COLOURS[k]}]{k.lower()} {c[k]}[/]" for k in _COLOURS if c[k])

    def line(self, device: str, line: JournalLine) -> None:
        task = self.tasks.get(device)
        if task is None:
            return
        if isinstance(line, PlanLine):
            self.planned[device] += planned_runs(line)
            self.bars.update(task, total=self.planned[device])
        elif isinstance(line, ResultLine):
            self.counts[device][str(line.record.outcome)] += 1
            self.bars.update(task, advance=1, counts=self._counts(device),
                             current=escape(printable(line.record.test_id, 60)))

    def finished(self, device: str, exit_code: int | None) -> None:
        task = self.tasks.get(device)
        if task is not None:
            self.bars.update(task, current="done" if exit_code in (0, 1) else f"worker exit {exit_code}")

    def note(self, text: str) -> None:
        self.bars.console.print(escape(text))

    def stop(self) -> None:
        self.bars.stop()


def make_progress(plain: bool | None = None) -> ProgressView:
    if plain is None:
        plain = not sys.stdout.isatty()
    return PlainProgress() if plain else RichProgress()
