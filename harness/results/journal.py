"""Reading a device journal (journal/<device>.jsonl) tolerantly: a killed worker leaves at most a torn
last line, and a line that does not parse (or is not a known record) is counted and skipped. And the
one fold of a journal into each test's history and the record that decides it, which the builder
(results.json) and resume and retry (run/state.py) share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .journal_records import DeviceLine, EndLine, JournalLine, PlanLine, PlannedTest, ResultLine, decode_text
from .model import Outcome, TestRecord
from .ranking import deciding

NO_RESULT = "no result: the worker stopped before this test finished"
NOT_FOUND = "not found among the collected tests"


@dataclass
class TestHistory:
    """One test on one device: its records over every attempt, in (attempt, repeat) order, one per
    attempt and repeat (a later record replaces an earlier one: a test --resume ran again after Ctrl-C
    cut it short), then a NOT_RUN record for each planned run of the final attempt that has none."""

    __test__ = False  # not a pytest test class

    test: PlannedTest
    records: list[TestRecord]
    final_attempt: int

    @property
    def final(self) -> list[TestRecord]:
        """The final attempt's records, one per repeat: the latest attempt decides."""
        return [r for r in self.records if r.attempt == self.final_attempt]

    @property
    def decider(self) -> TestRecord:
        """Of the final attempt's repeats, the last record with the outcome that decides."""
        final = self.final
        outcome = deciding(r.outcome for r in final)
        return [r for r in final if r.outcome is outcome][-1]


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

    def tests(self) -> list[tuple[PlannedTest, str]]:
        """Every test the journal speaks of, with why a missing record is NOT_RUN: the planned ones in
        plan order, then results whose plan line was lost, then those asked for but not collected."""
        tests = {tid: (t, NO_RESULT) for tid, t in self.planned.items()}
        for rec in self.results:
            planned = PlannedTest(rec.test_id, rec.suite, tuple(rec.requirements))
            tests.setdefault(rec.test_id, (planned, NO_RESULT))
        for plan in self.plans:
            for tid in plan.missing:
                suite = tid.split("/", 1)[0] if "/" in tid else ""
                tests.setdefault(tid, (PlannedTest(tid, suite), NOT_FOUND))
        return list(tests.values())

    def histories(self, tests: list[tuple[PlannedTest, str]] | None = None) -> list[TestHistory]:
        """The history of each of `tests` (default: every test the journal speaks of), in their order."""
        latest: dict[str, dict[tuple[int, int], TestRecord]] = {}
        for rec in self.results:  # in time order: a later record of the same run replaces the earlier
            latest.setdefault(rec.test_id, {})[(rec.attempt, rec.repeat)] = rec
        last_plan: dict[str, PlanLine] = {}
        for plan in self.plans:
            for test in plan.tests:
                known = last_plan.get(test.test_id)
                if known is None or plan.attempt > known.attempt:
                    last_plan[test.test_id] = plan
        return [self._history(test, why, latest.get(test.test_id, {}), last_plan.get(test.test_id))
                for test, why in (self.tests() if tests is None else tests)]

    def _history(self, test: PlannedTest, why: str, runs: dict[tuple[int, int], TestRecord],
                 plan: PlanLine | None) -> TestHistory:
        recorded = [runs[k] for k in sorted(runs)]
        final = max([r.attempt for r in recorded] + [plan.attempt if plan else 1])
        repeats = plan.repeat if plan and plan.attempt == final else 1
        have = {r.repeat for r in recorded if r.attempt == final}
        made_up = [
            TestRecord(test_id=test.test_id, suite=test.suite, outcome=Outcome.NOT_RUN, device=self.device,
                       requirements=list(test.requirements), message=why, attempt=final, repeat=i)
            for i in range(repeats) if i not in have
        ]
        return TestHistory(test, recorded + made_up, final)

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
