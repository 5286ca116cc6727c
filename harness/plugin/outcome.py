"""From what a test phase raised to the harness Outcome: pure, so the policy is tested without pytest runs.

Policy: an assertion (or pytest.fail) in the test body is a product FAIL; lab trouble (any TransportError)
anywhere, any error in setup/teardown, a per-test timeout and any other exception (a bug in the suite or
the harness) are ERROR; a skip is SKIP only with a reason. An expected failure (xfail) is still a FAIL:
a known non-conformance is a non-conformance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from ..errors import TransportError
from ..results.model import Outcome
from ..results.ranking import deciding
from ..secrets import redact

MESSAGE_LIMIT = 2000


class TestTimedOut(BaseException):  # noqa: N818 - reads as what happened
    """Raised in the test's thread when --harness-test-timeout runs out. A BaseException, so a test's
    own `except Exception` cannot swallow it."""

    __test__ = False  # not a pytest test class

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds:g} s")
        self.seconds = seconds


@dataclass(frozen=True)
class PhaseOutcome:
    phase: str  # setup | call | teardown
    outcome: Outcome
    message: str = ""


def _short(text: str) -> str:
    text = redact(text.strip())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def classify(
    phase: str, result: str, exc: BaseException | None, *, xfail_reason: str | None = None
) -> PhaseOutcome:
    """`result` is pytest's word for the phase (passed | failed | skipped); `exc` what it raised."""
    if xfail_reason is not None:
        # Lab trouble stays lab trouble under xfail; only the test's own failure is "expected".
        if isinstance(exc, TestTimedOut | TransportError) or (exc is not None and phase != "call"):
            return PhaseOutcome(phase, Outcome.ERROR, _short(describe(exc)))
        if xfail_reason.startswith("[NOTRUN]"):  # xfail(run=False): never ran, says why
            return PhaseOutcome(phase, Outcome.SKIP, _short(f"not run (xfail): {xfail_reason}"))
        if result == "skipped":  # failed as expected
            return PhaseOutcome(phase, Outcome.FAIL, _short(f"expected failure (xfail): {xfail_reason}"))
        return PhaseOutcome(phase, Outcome.PASS)
    if result == "passed":
        return PhaseOutcome(phase, Outcome.PASS)
    if result == "skipped" or isinstance(exc, pytest.skip.Exception):
        reason = str(getattr(exc, "msg", "") or "").strip() if exc is not None else ""
        if not reason:
            return PhaseOutcome(phase, Outcome.ERROR, "skipped without a reason (a SKIP must say why)")
        return PhaseOutcome(phase, Outcome.SKIP, _short(reason))
    if exc is None:  # failed without an exception (a strict xpass, say)
        bad = Outcome.FAIL if phase == "call" else Outcome.ERROR
        return PhaseOutcome(phase, bad, f"{phase} failed")
    if isinstance(exc, TestTimedOut):
        return PhaseOutcome(phase, Outcome.ERROR, str(exc))
    if isinstance(exc, TransportError):
        text = str(exc) if getattr(exc, "plain_message", False) else describe(exc)
        return PhaseOutcome(phase, Outcome.ERROR, _short(text))
    if phase != "call":
        return PhaseOutcome(phase, Outcome.ERROR, _short(f"error in {phase}: {describe(exc)}"))
    if isinstance(exc, pytest.fail.Exception):
        return PhaseOutcome(phase, Outcome.FAIL, _short(str(exc.msg or "failed")))
    if isinstance(exc, AssertionError):
        return PhaseOutcome(phase, Outcome.FAIL, _short(str(exc) or "assertion failed"))
    return PhaseOutcome(phase, Outcome.ERROR, _short(describe(exc)))


def combine(phases: Iterable[PhaseOutcome]) -> tuple[Outcome, str]:
    """One outcome for a test from its phases, by the one ranking (results/ranking.py). A setup or
    teardown that passed says nothing about the device, so it never decides (a skip in setup stays a
    SKIP). The messages of every phase that did not pass are kept, in order, so a teardown error after
    a failure is not lost."""
    phases = list(phases)
    if not phases:
        return Outcome.NOT_RUN, "the test did not run"
    telling = [p.outcome for p in phases if p.phase == "call" or p.outcome is not Outcome.PASS]
    worst = deciding(telling) or Outcome.PASS  # only setup and teardown, and both passed
    notes = [p for p in phases if p.outcome is not Outcome.PASS and p.message]
    if len(notes) == 1:
        return worst, notes[0].message
    return worst, "; ".join(f"{p.phase}: {p.message}" for p in notes)
