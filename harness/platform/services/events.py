"""State changes of a submission, told to whoever listens (notifications, for one).

Two callers, each after its audit entry is committed, so a listener only ever hears of a change that
is already recorded: `lifecycle.change_state` (every officer's move, certification, revocation,
expiry) and publishing (a new submission: before "", after "submitted"). A listener that raises is
logged and skipped: a broken webhook must never undo or block a certification."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StateChange:
    submission_id: int
    organisation: str  # the slug of the vendor organisation owning the submission
    before: str  # a lifecycle.State value, e.g. "in_review"
    after: str
    actor: str  # the login of the user who made the change ("" for the system, e.g. expiry)
    reason: str
    at: datetime  # timezone-aware UTC


Listener = Callable[[StateChange], None]

_lock = threading.Lock()
_listeners: list[Listener] = []


def register(listener: Listener) -> None:
    """Call `listener` on every later state change (once, even if registered twice)."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def unregister(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def listeners() -> tuple[Listener, ...]:
    with _lock:
        return tuple(_listeners)


def emit(change: StateChange) -> None:
    """Tell every listener, in registration order; one failing does not stop the others."""
    for listener in listeners():
        try:
            listener(change)
        except Exception:  # noqa: BLE001 - a listener's bug is logged, never the officer's problem
            log.exception("state change listener %r failed on submission %s", listener, change.submission_id)
