"""The state-change seam: listeners hear every change in order, and one failing does not silence others."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from harness.platform.services import events
from harness.platform.services.events import StateChange

CHANGE = StateChange(
    submission_id=7,
    organisation="acme",
    before="submitted",
    after="in_review",
    actor="officer@example.org",
    reason="",
    at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
)


def test_listeners_hear_changes_in_order_and_a_broken_one_is_skipped() -> None:
    heard: list[tuple[str, StateChange]] = []

    def first(change: StateChange) -> None:
        heard.append(("first", change))

    def broken(change: StateChange) -> None:
        raise RuntimeError("webhook down")

    def last(change: StateChange) -> None:
        heard.append(("last", change))

    for listener in (first, broken, last, first):
        events.register(listener)
    try:
        events.emit(CHANGE)
    finally:
        for listener in (first, broken, last):
            events.unregister(listener)
    assert heard == [("first", CHANGE), ("last", CHANGE)]
    assert first not in events.listeners()


def test_a_state_change_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CHANGE.after = "certified"  # type: ignore[misc]
