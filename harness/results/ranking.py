"""The one ranking of outcomes (ARCHITECTURE.md, "The journal"): when several outcomes speak for one
thing, the first of DECIDING_ORDER among them decides. Pure; used for the phases of a test
(plugin/outcome.py), the repeats of a test's final attempt (results/build.py), the tests of a requirement
(results/verdict.py) and what resume and retry see (run/state.py through results/journal.py).

Why this order: a FAIL is the product's own finding, which no lab trouble beside it can undo; an ERROR
says why the test could not decide, which an unfinished run (NOT_RUN) does not; any of the three leaves
the test open, so each outranks a PASS; a SKIP carries no evidence either way, so it decides only when
nothing else was recorded. Across attempts nothing is ranked: the latest attempt decides."""

from __future__ import annotations

from collections.abc import Iterable

from .model import Outcome

DECIDING_ORDER = (Outcome.FAIL, Outcome.ERROR, Outcome.NOT_RUN, Outcome.PASS, Outcome.SKIP)


def deciding(outcomes: Iterable[Outcome]) -> Outcome | None:
    """The outcome that decides among `outcomes`; None when there are none."""
    present = set(outcomes)
    for outcome in DECIDING_ORDER:
        if outcome in present:
            return outcome
    return None

