"""What a run's journals say each device has done, for `--resume` and `retry`: the planned tests, each
test's history and the record that decides it, the identity it reported. The fold is the journal's own
(harness.results.journal), the one results.json is built with, so retry reruns exactly the tests the
results show as FAIL, ERROR or NOT_RUN."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results.journal import NOT_FOUND, DeviceJournal, read_journal
from ..results.journal_records import PlannedTest
from ..results.model import Outcome, TestRecord

RETRY_OUTCOMES = (Outcome.FAIL, Outcome.ERROR, Outcome.NOT_RUN)


@dataclass
class DeviceState:
    device: str
    journal: DeviceJournal = field(default_factory=lambda: DeviceJournal(device=""))

    @property
    def planned(self) -> dict[str, PlannedTest]:
        """Every planned test, in plan order over all attempts."""
        return self.journal.planned

    @property
    def has_plan(self) -> bool:
        return bool(self.planned)

    @property
    def last_attempt(self) -> int:
        attempts = [*(p.attempt for p in self.journal.plans), *(r.attempt for r in self.journal.results)]
        return max(attempts, default=0)

    @property
    def first_identity(self) -> dict[str, Any] | None:
        """The build the run certified first: later retries must be on this same build."""
        return self.journal.identities[0] if self.journal.identities else None

    def missing(self, attempt: int) -> list[str]:
        """Planned tests of `attempt` with fewer results than repeats: the ones `--resume` runs."""
        plans = [p for p in self.journal.plans if p.attempt == attempt]
        repeats = max(1, plans[-1].repeat) if plans else 1
        done: dict[str, set[int]] = {}
        for rec in self.journal.results:
            # A NOT_RUN record is the test Ctrl-C cut short: not done, so --resume runs it again.
            if rec.attempt == attempt and rec.outcome is not Outcome.NOT_RUN:
                done.setdefault(rec.test_id, set()).add(rec.repeat)
        ids = dict.fromkeys(t.test_id for p in plans for t in p.tests)
        return [t for t in ids if len(done.get(t, ())) < repeats]

    def latest(self) -> dict[str, TestRecord]:
        """Each test's deciding record, as results.json shows it: its latest attempt's, the deciding
        one of that attempt's repeats; NOT_RUN for a run that never finished. A test asked for but not
        collected is left out: running it again would not find it either."""
        tests = [(t, why) for t, why in self.journal.tests() if why != NOT_FOUND]
        return {h.test.test_id: h.decider for h in self.journal.histories(tests)}

    def to_retry(self) -> list[str]:
        return [t for t, rec in self.latest().items() if rec.outcome in RETRY_OUTCOMES]


def device_state(device: str, journal: Path) -> DeviceState:
    if not journal.is_file():
        return DeviceState(device=device, journal=DeviceJournal(device=device))
    return DeviceState(device=device, journal=read_journal(journal))
