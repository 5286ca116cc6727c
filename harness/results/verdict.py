"""The certification policy, as a pure function: requirements + a device's final test outcomes (+ waivers)
-> each requirement's status and the device's Verdict. No I/O, so every branch is unit-tested.

Requirement status, from the final outcomes of the tests that name it:
- not-applicable: suite.toml restricts it to other profiles or device kinds (outcomes ignored);
- not-covered: no test for it was planned on this device;
- fail: a test FAILed; else incomplete: a test ERRORed or did NOT_RUN; else pass: a test PASSed
  (others may SKIP); else skipped: every test SKIPped, which counts as not applicable for the verdict
  and is never shown as a pass;
- waived: in the waivers and would otherwise be fail, incomplete or not-covered.

Verdict: NOT CERTIFIED if a MUST fails; else INCOMPLETE if a MUST is incomplete or not-covered; else
CONDITIONAL if a SHOULD fails, is incomplete or not-covered; else CERTIFIED, provided at least one
requirement actually passed (a device on which nothing was verified is INCOMPLETE, not certified).

A test that names no requirement counts toward its suite's implicit MUST requirement "<suite>:untagged"
(a suite's every test is mandatory unless the suite says otherwise). A requirement id that no suite.toml
defines is treated as a MUST, so a typo cannot make a failure harmless."""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from ..suites import Requirement
from .model import Outcome, TestRecord, Verdict
from .ranking import deciding

MUST, SHOULD = "MUST", "SHOULD"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCOMPLETE = "incomplete"
    SKIPPED = "skipped"
    NOT_COVERED = "not-covered"
    NOT_APPLICABLE = "not-applicable"
    WAIVED = "waived"


_OPEN = (Status.FAIL, Status.INCOMPLETE, Status.NOT_COVERED)  # what a waiver can cover


@dataclass
class RequirementResult:
    id: str
    level: str
    status: Status
    title_en: str = ""
    title_zh: str = ""
    tests: list[str] = field(default_factory=list)
    waived_status: Status | None = None  # what it would have been without the waiver
    waiver: str | None = None  # the platform waiver that covers it (harness run --waivers)
    implicit: bool = False  # the "<suite>:untagged" requirement of tests that name none
    defined: bool = True  # False: a test names an id no suite.toml defines
    suite: str = ""  # the suite defining it (for an undefined or implicit one: the suite of its tests)
    source: str = ""  # the published rule it traces to
    destructive: str = ""  # what its test does to the device (suite.toml `destructive`), if more than reading

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.destructive:
            del d["destructive"]  # a read-only requirement's record stays as it was before the key existed
        d["status"] = str(self.status)
        d["waived_status"] = str(self.waived_status) if self.waived_status else None
        return d


@dataclass
class Assessment:
    verdict: Verdict
    requirements: list[RequirementResult]
    reasons: list[str]


def untagged_id(suite: str) -> str:
    return f"{suite}:untagged"


# A requirement's status is that of the outcome that decides among its tests (results/ranking.py).
_STATUS = {
    Outcome.FAIL: Status.FAIL,
    Outcome.ERROR: Status.INCOMPLETE,
    Outcome.NOT_RUN: Status.INCOMPLETE,
    Outcome.PASS: Status.PASS,
    Outcome.SKIP: Status.SKIPPED,
}


def _status_of(outcomes: list[Outcome]) -> Status:
    return _STATUS[deciding(outcomes) or Outcome.SKIP]


def _applies(req: Requirement, profile: str | None, kind: str | None) -> bool:
    # An unknown profile or kind cannot exclude a requirement.
    return (not profile or not req.profiles or profile in req.profiles) and (
        not kind or not req.kinds or kind in req.kinds
    )


def requirement_statuses(
    requirements: Iterable[Requirement],
    records: Iterable[TestRecord],
    *,
    profile: str | None = None,
    kind: str | None = None,
    waivers: Set[str] = frozenset(),
) -> list[RequirementResult]:
    """`records`: one final record per planned test of the device."""
    defs: dict[str, tuple[Requirement, bool, bool]] = {r.id: (r, False, True) for r in requirements}
    by_req: dict[str, list[TestRecord]] = {}
    for rec in records:
        ids = rec.requirements or [untagged_id(rec.suite)]
        for rid in ids:
            by_req.setdefault(rid, []).append(rec)
            if rid not in defs:
                implicit = not rec.requirements
                title = (
                    f"Tests of suite {rec.suite} that name no requirement"
                    if implicit
                    else "(not defined in any suite.toml)"
                )
                title_zh = (
                    f"套件 {rec.suite} 中未标注需求的测试" if implicit else "（未在任何 suite.toml 中定义）"
                )
                defs[rid] = (Requirement(rid, MUST, title, title_zh, suite=rec.suite), implicit, implicit)
    results = []
    for rid, (req, implicit, defined) in defs.items():
        tests = by_req.get(rid, [])
        if not _applies(req, profile, kind):
            status = Status.NOT_APPLICABLE
        elif not tests:
            status = Status.NOT_COVERED
        else:
            status = _status_of([t.outcome for t in tests])
        waived_status = None
        if rid in waivers and status in _OPEN:
            status, waived_status = Status.WAIVED, status
        results.append(
            RequirementResult(
                id=rid,
                level=req.level,
                status=status,
                title_en=req.title_en,
                title_zh=req.title_zh,
                tests=[t.test_id for t in tests],
                waived_status=waived_status,
                implicit=implicit,
                defined=defined,
                suite=req.suite,
                source=req.source,
                destructive=req.destructive,
            )
        )
    return results


def verdict_of(results: Iterable[RequirementResult]) -> tuple[Verdict, list[str]]:
    results = list(results)

    def which(level: str, statuses: tuple[Status, ...]) -> list[RequirementResult]:
        return [r for r in results if r.level == level and r.status in statuses]

    def say(found: list[RequirementResult]) -> list[str]:
        return [f"{r.level} {r.id} is {r.status}" for r in found]

    must_fail = which(MUST, (Status.FAIL,))
    if must_fail:
        return Verdict.NOT_CERTIFIED, say(must_fail)
    must_open = which(MUST, (Status.INCOMPLETE, Status.NOT_COVERED))
    if must_open:
        return Verdict.INCOMPLETE, say(must_open)
    should_open = which(SHOULD, _OPEN)
    if should_open:
        return Verdict.CONDITIONAL, say(should_open)
    if not any(r.status is Status.PASS for r in results):
        return Verdict.INCOMPLETE, ["no requirement was verified on this device"]
    return Verdict.CERTIFIED, []


def assess(
    requirements: Iterable[Requirement],
    records: Iterable[TestRecord],
    *,
    profile: str | None = None,
    kind: str | None = None,
    waivers: Set[str] = frozenset(),
) -> Assessment:
    results = requirement_statuses(requirements, records, profile=profile, kind=kind, waivers=waivers)
    verdict, reasons = verdict_of(results)
    return Assessment(verdict, results, reasons)
