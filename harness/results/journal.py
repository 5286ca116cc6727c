"""Reading a device journal (journal/<device>.jsonl) tolerantly: a killed worker leaves at most a torn
last line, and a line that does not parse (or is not a known record) is counted and skipped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import JOURNAL_DEVICE, JOURNAL_END, JOURNAL_PLAN, JOURNAL_RESULT, TestRecord


@dataclass(frozen=True)
class PlannedTest:
    test_id: str
    suite: str
    requirements: tuple[str, ...] = ()


@dataclass
class Plan:
    attempt: int
    repeat: int
    tests: list[PlannedTest]
    missing: list[str] = field(default_factory=list)
    shard: str | None = None


@dataclass
class DeviceJournal:
    device: str
    kind: str = ""
    profile: str = ""
    plans: list[Plan] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    results: list[TestRecord] = field(default_factory=list)
    ends: list[dict[str, Any]] = field(default_factory=list)
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
            return bool(self.ends and self.ends[-1].get("interrupted"))
        last = self.plans[-1].attempt
        ends = [e for e in self.ends if e.get("attempt") == last]
        return not ends or bool(ends[-1].get("interrupted"))


def _planned(raw: dict[str, Any]) -> PlannedTest:
    test_id = str(raw["test_id"])
    suite = str(raw.get("suite") or test_id.split("/", 1)[0])  # ids are "<suite>/<module>::<test>"
    return PlannedTest(test_id, suite, tuple(raw.get("requirements", ())))


def _apply(journal: DeviceJournal, line: dict[str, Any]) -> None:
    kind = line.get("type")
    if kind == JOURNAL_PLAN:
        journal.plans.append(
            Plan(
                attempt=int(line.get("attempt", 1)),
                repeat=int(line.get("repeat", 1)),
                tests=[_planned(t) for t in line.get("tests", [])],
                missing=[str(t) for t in line.get("missing", [])],
                shard=line.get("shard"),
            )
        )
        journal.kind = line.get("kind") or journal.kind
        journal.profile = line.get("profile") or journal.profile
    elif kind == JOURNAL_DEVICE:
        journal.identities.append(dict(line.get("identity") or {}))
        journal.kind = line.get("kind") or journal.kind
        journal.profile = line.get("profile") or journal.profile
    elif kind == JOURNAL_RESULT:
        journal.results.append(TestRecord.from_dict(line))
    elif kind == JOURNAL_END:
        journal.ends.append(line)
    else:
        raise ValueError(f"unknown journal line type {kind!r}")


def parse_journal(text: str, device: str) -> DeviceJournal:
    journal = DeviceJournal(device=device)
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            if not isinstance(line, dict):
                raise ValueError("not an object")
            _apply(journal, line)
        except (ValueError, KeyError, TypeError):
            journal.bad_lines += 1
    return journal


def read_journal(path: Path) -> DeviceJournal:
    """The device name is the file name (journal/<device>.jsonl)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return parse_journal(text, path.stem)


def read_journals(run_dir: Path) -> list[DeviceJournal]:
    folder = run_dir / "journal"
    return [read_journal(p) for p in sorted(folder.glob("*.jsonl"))] if folder.is_dir() else []
