"""The one outcome ranking (harness.results.ranking) and everyone who decides by it: the phases of a
test, the repeats of its final attempt in results.json, a requirement's status, and what retry reruns.
Before it there were three orders, so the repeat that decided a test in the report was not the one
retry looked at."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from harness.plugin.journal_writer import JournalWriter
from harness.plugin.outcome import PhaseOutcome, combine
from harness.results.build import build_results
from harness.results.journal import read_journal
from harness.results.journal_records import EndLine, PlanLine, PlannedTest, ResultLine
from harness.results.model import Outcome, TestRecord
from harness.results.ranking import DECIDING_ORDER, deciding
from harness.results.verdict import Status, requirement_statuses
from harness.run.state import device_state

A = "demo/test_demo.py::test_a"
PAIRS = list(itertools.combinations(DECIDING_ORDER, 2))  # (decides, yields)
STATUS = {Outcome.FAIL: Status.FAIL, Outcome.ERROR: Status.INCOMPLETE, Outcome.NOT_RUN: Status.INCOMPLETE,
          Outcome.PASS: Status.PASS, Outcome.SKIP: Status.SKIPPED}


def test_the_order_is_the_documented_one() -> None:
    # ARCHITECTURE.md, "The journal": the product's failure, lab trouble, unfinished, passed, skipped.
    assert DECIDING_ORDER == (Outcome.FAIL, Outcome.ERROR, Outcome.NOT_RUN, Outcome.PASS, Outcome.SKIP)
    assert set(DECIDING_ORDER) == set(Outcome)
    assert deciding([]) is None


@pytest.mark.parametrize(("wins", "loses"), PAIRS)
def test_the_higher_outcome_decides_whatever_the_order_and_count(wins: Outcome, loses: Outcome) -> None:
    for outcomes in ([wins, loses], [loses, wins], [loses, loses, wins, loses]):
        assert deciding(outcomes) is wins


def record(outcome: Outcome, attempt: int = 1, repeat: int = 0, message: str = "") -> TestRecord:
    return TestRecord(test_id=A, suite="demo", outcome=outcome, device="dev", requirements=["D-1"],
                      message=message or str(outcome), attempt=attempt, repeat=repeat, started=1.0, ended=2.0)


def write(path: Path, plans: list[PlanLine], records: list[TestRecord]) -> Path:
    writer = JournalWriter(path)
    for plan in plans:
        writer.write(plan)
    for rec in records:
        writer.write(ResultLine(rec))
    writer.write(EndLine(device="dev", attempt=max(p.attempt for p in plans)))
    writer.close()
    return path


def plan(attempt: int = 1, repeat: int = 1) -> PlanLine:
    return PlanLine(device="dev", attempt=attempt, repeat=repeat, tests=[PlannedTest(A, "demo", ("D-1",))])


@pytest.fixture
def suites_root(tmp_path: Path) -> Path:
    root = tmp_path / "suites" / "demo"
    root.mkdir(parents=True)
    (root / "suite.toml").write_text('id = "demo"\nversion = "1"\ntitle_en = "d"\ntitle_zh = "d"\n\n'
                                     '[[requirements]]\nid = "D-1"\nlevel = "MUST"\ntitle_en = "m"\ntitle_zh = "m"\n')
    return root.parent


@pytest.mark.parametrize(("wins", "loses"), PAIRS)
def test_every_decider_agrees(tmp_path: Path, suites_root: Path, wins: Outcome, loses: Outcome) -> None:
    # The phases of one test: the call against its teardown (a teardown that passed says nothing, below).
    for call, teardown in ((wins, loses), (loses, wins)):
        if teardown is not Outcome.PASS:
            assert combine([PhaseOutcome("call", call, "c"), PhaseOutcome("teardown", teardown, "t")])[0] is wins
    # Two repeats of the final attempt, in either order: results.json, retry and the verdict agree.
    for first, second in ((wins, loses), (loses, wins)):
        run = tmp_path / f"run-{first}-{second}"
        journal = write(run / "journal" / "dev.jsonl", [plan(repeat=2)], [record(first, repeat=0), record(second, repeat=1)])
        (device,) = build_results(run, suites_root=suites_root)["devices"]
        (entry,) = device["tests"]
        assert entry["outcome"] == wins and entry["repeats"] == 2
        assert entry["message"] == str(wins)  # the deciding repeat's own record stands for the test
        state = device_state("dev", journal)
        assert state.latest()[A].outcome is wins
        assert state.to_retry() == ([A] if wins in (Outcome.FAIL, Outcome.ERROR, Outcome.NOT_RUN) else [])
        (req,) = [r for r in device["requirements"] if r["id"] == "D-1"]
        assert req["status"] == STATUS[wins]
    # Two tests of one requirement.
    (status,) = requirement_statuses([], [record(wins), record(loses)])
    assert status.status is STATUS[wins]


def test_a_passed_setup_or_teardown_never_decides() -> None:
    # A skip in setup is a SKIP though teardown passed; a test whose body passed is a PASS whatever a
    # teardown that merely skipped said (it verified the device; the note is kept).
    assert combine([PhaseOutcome("setup", Outcome.SKIP, "no GPU"), PhaseOutcome("teardown", Outcome.PASS)]) == (
        Outcome.SKIP, "no GPU")
    assert combine([PhaseOutcome("setup", Outcome.PASS), PhaseOutcome("call", Outcome.PASS),
                    PhaseOutcome("teardown", Outcome.SKIP, "no cleanup")]) == (Outcome.PASS, "no cleanup")
    assert combine([PhaseOutcome("setup", Outcome.PASS), PhaseOutcome("teardown", Outcome.PASS)])[0] is Outcome.PASS


def test_the_latest_attempt_decides_not_the_ranking(tmp_path: Path, suites_root: Path) -> None:
    # A retry on the same build replaces the result: FAIL then PASS is a (flaky) PASS, not a FAIL.
    run = tmp_path / "run"
    journal = write(run / "journal" / "dev.jsonl", [plan(1), plan(2)],
                    [record(Outcome.FAIL, attempt=1), record(Outcome.PASS, attempt=2)])
    (entry,) = build_results(run, suites_root=suites_root)["devices"][0]["tests"]
    assert (entry["outcome"], entry["attempt"], entry["flaky"]) == ("PASS", 2, True)
    assert device_state("dev", journal).to_retry() == []


def test_retry_reruns_what_the_results_show_open_and_only_that(tmp_path: Path, suites_root: Path) -> None:
    # Ctrl-C cut the first run short (NOT_RUN), --resume ran it again and it passed: the later record of
    # the same attempt and repeat replaces the earlier one, for the results and for retry alike.
    run = tmp_path / "resumed"
    journal = write(run / "journal" / "dev.jsonl", [plan(1), plan(1)],
                    [record(Outcome.NOT_RUN, message="interrupted (KeyboardInterrupt)"), record(Outcome.PASS)])
    (entry,) = build_results(run, suites_root=suites_root)["devices"][0]["tests"]
    assert entry["outcome"] == "PASS"
    assert device_state("dev", journal).to_retry() == []
    # With --repeat 2, one repeat recorded and the worker killed: the results show NOT_RUN, so retry
    # reruns it (a pass of one repeat is not a pass of the test).
    run = tmp_path / "killed"
    journal = write(run / "journal" / "dev.jsonl", [plan(1, repeat=2)], [record(Outcome.PASS)])
    (entry,) = build_results(run, suites_root=suites_root)["devices"][0]["tests"]
    assert entry["outcome"] == "NOT_RUN"
    state = device_state("dev", journal)
    assert state.to_retry() == [A] and state.missing(1) == [A]
    assert json.loads(journal.read_text().splitlines()[0])["type"] == "plan"
    assert read_journal(journal).bad_lines == 0
