"""Reading a device journal (journal/<device>.jsonl) tolerantly: a killed worker leaves at most a torn
last line, and a line that does not parse (or is not a known record) is counted and skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .journal_records import DeviceLine, EndLine, JournalLine, PlanLine, PlannedTest, ResultLine, decode_text
from .model import TestRecord


@dataclass
class DeviceJournal:
    device: str
    kind: str = ""
    profile: str = ""
    plans: list[PlanLine] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    results: list[TestRecord] = field(default_factory=list)
    ends: list[EndLine] = field(default_factory=list)
    bad_lines: int = 0

    @property
    def identity(self) -> dict[str, Any] | None:
        """The latest identity the device reported (it may change across a reboot)."""
        return self.identities[-1] if self.identities else None

    @property
    def planned(self) -> dict[str, PlannedTest]:
        """Every test any attempt planned, first plan's order first."""
        tests: dict[str, PlannedTest] = {}
        for plan in self.plans:
            for test in plan.tests:
                tests.setdefault(test.test_id, test)
        return tests

    @property
    def interrupted(self) -> bool:
        """The latest attempt was interrupted, or never wrote its end line (killed)."""
        if not self.plans:
            return bool(self.ends and self.ends[-1].interrupted)
        last = self.plans[-1].attempt
        ends = [e for e in self.ends if e.attempt == last]
        return not ends or ends[-1].interrupted

    def add(self, line: JournalLine) -> None:
        if isinstance(line, PlanLine):
            self.plans.append(line)
        elif isinstance(line, DeviceLine):
            self.identities.append(line.identity)
        elif isinstance(line, ResultLine):
            self.results.append(line.record)
        else:
            self.ends.append(line)
        if isinstance(line, PlanLine | DeviceLine):
            self.kind = line.kind or self.kind
            self.profile = line.profile or self.profile


def parse_journal(text: str, device: str) -> DeviceJournal:
    journal = DeviceJournal(device=device)
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            line = decode_text(raw)
        except ValueError:  # a torn line, or one this version does not know
            journal.bad_lines += 1
            continue
        journal.add(line)
    return journal


def read_journal(path: Path) -> DeviceJournal:
    """The device name is the file name (journal/<device>.jsonl)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return parse_journal(text, path.stem)


def read_journals(run_dir: Path) -> list[DeviceJournal]:
    folder = run_dir / "journal"
    return [read_journal(p) for p in sorted(folder.glob("*.jsonl"))] if folder.is_dir() else []
