"""The outcome policy (harness.plugin.outcome) as a user of the report reads it: every kind of ending
gives one outcome, recorded against the phase it happened in, with a message that says what happened.
Pure: no pytest run, no device."""

from __future__ import annotations

import itertools

import pytest

from harness.errors import ConnectionLost
from harness.plugin.link import DeviceUnreachable
from harness.plugin.outcome import MESSAGE_LIMIT, PhaseOutcome, TestTimedOut, classify, combine, describe
from harness.results.model import Outcome


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - returns what was raised, whatever it is
        return caught


@pytest.mark.parametrize(
    ("phase", "result", "exc", "expected"),
    [
        ("call", "passed", None, PhaseOutcome("call", Outcome.PASS)),
        ("call", "failed", AssertionError("exit code was 3"), PhaseOutcome("call", Outcome.FAIL, "exit code was 3")),
        ("call", "failed", AssertionError(), PhaseOutcome("call", Outcome.FAIL, "assertion failed")),
        ("call", "failed", pytest.fail.Exception("no such file"), PhaseOutcome("call", Outcome.FAIL, "no such file")),
        ("call", "failed", pytest.fail.Exception(""), PhaseOutcome("call", Outcome.FAIL, "failed")),
        ("call", "failed", TypeError("bad arg"), PhaseOutcome("call", Outcome.ERROR, "TypeError: bad arg")),
        ("call", "failed", KeyError(), PhaseOutcome("call", Outcome.ERROR, "KeyError")),
        ("teardown", "failed", ValueError("x"), PhaseOutcome("teardown", Outcome.ERROR, "error in teardown: ValueError: x")),
        ("setup", "failed", AssertionError("fixture"), PhaseOutcome("setup", Outcome.ERROR, "error in setup: AssertionError: fixture")),
        ("call", "failed", TestTimedOut(2.5), PhaseOutcome("call", Outcome.ERROR, "timed out after 2.5 s")),
        ("setup", "failed", ConnectionLost("link dropped"), PhaseOutcome("setup", Outcome.ERROR, "ConnectionLost: link dropped")),
        # An error that already says what it is is not prefixed with its class name.
        ("setup", "failed", DeviceUnreachable("device unreachable: board-1"),
         PhaseOutcome("setup", Outcome.ERROR, "device unreachable: board-1")),
        ("setup", "skipped", pytest.skip.Exception("no GPU"), PhaseOutcome("setup", Outcome.SKIP, "no GPU")),
        # pytest's word may say failed while the exception is a skip (a skip raised in a hook).
        ("call", "failed", pytest.skip.Exception("no modem"), PhaseOutcome("call", Outcome.SKIP, "no modem")),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_ending_is_one_outcome_of_its_phase_with_a_message(phase, result, exc, expected) -> None:  # type: ignore[no-untyped-def]
    assert classify(phase, result, _raised(exc) if exc is not None else None) == expected


@pytest.mark.parametrize("phase", ["setup", "call", "teardown"])
def test_a_skip_without_a_reason_is_an_error_in_every_phase(phase: str) -> None:
    # pytest reports some skips with no exception at all; a SKIP must still say why.
    blank = PhaseOutcome(phase, Outcome.ERROR, "skipped without a reason (a SKIP must say why)")
    assert classify(phase, "skipped", None) == blank
    assert classify(phase, "skipped", _raised(pytest.skip.Exception("  "))) == blank
    assert classify(phase, "skipped", _raised(RuntimeError("not a skip"))) == blank  # whatever was raised


def test_a_phase_that_failed_without_an_exception_is_never_a_pass() -> None:
    # A strict XPASS fails the call with no exception: the product did what was recorded as broken.
    assert classify("call", "failed", None) == PhaseOutcome("call", Outcome.FAIL, "call failed")
    assert classify("teardown", "failed", None) == PhaseOutcome("teardown", Outcome.ERROR, "teardown failed")
    assert classify("setup", "failed", None) == PhaseOutcome("setup", Outcome.ERROR, "setup failed")


def test_xfail_is_a_recorded_failure_and_lab_trouble_stays_an_error() -> None:
    assert classify("call", "skipped", None, xfail_reason="bug 12") == PhaseOutcome(
        "call", Outcome.FAIL, "expected failure (xfail): bug 12")
    assert classify("call", "passed", None, xfail_reason="bug 12") == PhaseOutcome("call", Outcome.PASS)
    assert classify("setup", "skipped", None, xfail_reason="[NOTRUN] rig") == PhaseOutcome(
        "setup", Outcome.SKIP, "not run (xfail): [NOTRUN] rig")
    assert classify("call", "skipped", _raised(ConnectionLost("gone")), xfail_reason="bug 12") == PhaseOutcome(
        "call", Outcome.ERROR, "ConnectionLost: gone")
    # A setup error is not the failure the xfail expected, whatever it raised.
    assert classify("setup", "skipped", _raised(AssertionError("a")), xfail_reason="bug 12") == PhaseOutcome(
        "setup", Outcome.ERROR, "AssertionError: a")
    # The call's own assertion is the expected failure.
    assert classify("call", "skipped", _raised(AssertionError("a")), xfail_reason="bug 12").outcome is Outcome.FAIL


def test_a_timeout_is_recorded_with_its_length() -> None:
    timed = TestTimedOut(30)
    assert (timed.seconds, str(timed)) == (30, "timed out after 30 s")


def test_describe_names_the_error_and_its_text() -> None:
    assert describe(OSError("disk full")) == "OSError: disk full"
    assert describe(RuntimeError()) == "RuntimeError"


def test_messages_are_cut_at_the_limit_and_say_so() -> None:
    whole = "x" * MESSAGE_LIMIT
    assert classify("call", "failed", _raised(AssertionError(whole))).message == whole
    long = classify("call", "failed", _raised(AssertionError("y" * (MESSAGE_LIMIT + 1)))).message
    assert len(long) == MESSAGE_LIMIT and long == "y" * (MESSAGE_LIMIT - 3) + "..."
    assert MESSAGE_LIMIT == 2000  # journal lines and the report's cells are sized for it


_WORST_FIRST = [Outcome.FAIL, Outcome.ERROR, Outcome.NOT_RUN, Outcome.SKIP, Outcome.PASS]


@pytest.mark.parametrize(("worse", "better"), list(itertools.combinations(_WORST_FIRST, 2)))
def test_the_most_severe_phase_decides_in_any_order(worse: Outcome, better: Outcome) -> None:
    # FAIL (the product) outranks ERROR (the lab), which outranks an unfinished, a skipped, a passed phase.
    for order in ((worse, better), (better, worse)):
        phases = [PhaseOutcome(p, o, "m") for p, o in zip(("setup", "teardown"), order, strict=True)]
        assert combine(phases)[0] is worse


def test_combine_says_why_and_drops_nothing() -> None:
    assert combine([]) == (Outcome.NOT_RUN, "the test did not run")
    # One message: as it is. Passed phases carry no message into the record.
    assert combine([PhaseOutcome("setup", Outcome.PASS, "fine"), PhaseOutcome("call", Outcome.SKIP, "no GPU")]) == (
        Outcome.SKIP, "no GPU")
    # A phase without a message is not listed as an empty note.
    assert combine([PhaseOutcome("call", Outcome.ERROR, ""), PhaseOutcome("teardown", Outcome.ERROR, "boom")]) == (
        Outcome.ERROR, "boom")
