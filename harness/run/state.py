"""What a run's journals say each device has done: the planned tests, every attempt's results, the
identity it reported. Resume, retry and JUnit read this; results.json is built by harness.results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results.journal import read_journal
from ..results.journal_records import PlannedTest
from ..results.model import Outcome, TestRecord

RETRY_OUTCOMES = (Outcome.FAIL, Outcome.ERROR, Outcome.NOT_RUN)


@dataclass
class DeviceState:
    device: str
    planned: dict[str, PlannedTest] = field(default_factory=dict)  # in plan order, over all attempts
    planned_by_attempt: dict[int, list[str]] = field(default_factory=dict)
    repeats_by_attempt: dict[int, int] = field(default_factory=dict)
    results: list[TestRecord] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    ended: dict[int, bool] = field(default_factory=dict)  # attempt -> interrupted

    @property
    def has_plan(self) -> bool:
        return bool(self.planned)

    @property
    def last_attempt(self) -> int:
        attempts = [*self.planned_by_attempt, *(r.attempt for r in self.results)]
        return max(attempts, default=0)

    @property
    def first_identity(self) -> dict[str, Any] | None:
        """The build the run certified first: later retries must be on this same build."""
        return self.identities[0] if self.identities else None

    def missing(self, attempt: int) -> list[str]:
        """Planned tests of `attempt` with fewer results than repeats: the ones `--resume` runs."""
        repeats = self.repeats_by_attempt.get(attempt, 1)
        done: dict[str, set[int]] = {}
        for rec in self.results:
            # A NOT_RUN record is the test Ctrl-C cut short: not done, so --resume runs it again.
            if rec.attempt == attempt and rec.outcome is not Outcome.NOT_RUN:
                done.setdefault(rec.test_id, set()).add(rec.repeat)
        return [t for t in self.planned_by_attempt.get(attempt, []) if len(done.get(t, ())) < repeats]

    def latest(self) -> dict[str, TestRecord | None]:
        """Each planned test's record from its latest attempt (None: never finished). With repeats, the
        worst repeat of that attempt stands for the test."""
        out: dict[str, TestRecord | None] = {t: None for t in self.planned}
        for rec in self.results:
            prev = out.get(rec.test_id)
            if prev is None or rec.attempt > prev.attempt or (
                rec.attempt == prev.attempt and _rank(rec.outcome) > _rank(prev.outcome)
            ):
                out[rec.test_id] = rec
        return out

    def to_retry(self) -> list[str]:
        return [t for t, rec in self.latest().items() if rec is None or rec.outcome in RETRY_OUTCOMES]


_RANK = {Outcome.PASS: 0, Outcome.SKIP: 0, Outcome.FAIL: 2, Outcome.ERROR: 3, Outcome.NOT_RUN: 4}


def _rank(outcome: Outcome) -> int:
    return _RANK.get(outcome, 1)


def device_state(device: str, journal: Path) -> DeviceState:
    state = DeviceState(device=device)
    if not journal.is_file():
        return state
    read = read_journal(journal)
    for plan in read.plans:
        ids = state.planned_by_attempt.setdefault(plan.attempt, [])
        state.repeats_by_attempt[plan.attempt] = max(1, plan.repeat)
        for test in plan.tests:
            if test.test_id not in ids:
                ids.append(test.test_id)
            state.planned.setdefault(test.test_id, test)
    state.results = list(read.results)
    state.identities = list(read.identities)
    for end in read.ends:
        state.ended[end.attempt] = end.interrupted
    return state
