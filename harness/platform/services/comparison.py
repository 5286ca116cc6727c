"""Two submissions compared, as `harness diff` compares two runs: the same RunDiff, built from the
results.json inside each stored bundle (verified when it was published). The viewer must be able to
read both; one that is not theirs is 'not found', as everywhere."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ...errors import ConfigError
from ...results.diff import DEFAULT_TOLERANCE, RunDiff, diff_runs
from ...results.load import gc_paused, read_bundle_results
from ...results.view import RunView, run_view
from ..auth.policy import Action, Principal
from ..db.models import Submission
from ..store.blobs import BlobStore
from .catalogue import get_submission

CACHED_VIEWS = 4  # bundles never change: a view read once serves the next page of the same pair


@dataclass(frozen=True)
class Compared:
    a: Submission
    b: Submission
    diff: RunDiff


class _Views:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._views: OrderedDict[str, RunView] = OrderedDict()

    def get(self, store: BlobStore, sha256: str, limit: int, label: str) -> RunView:
        with self._lock:
            if sha256 in self._views:
                self._views.move_to_end(sha256)
                return self._views[sha256]
        data = read_bundle_results(store.path_of(sha256), limit)
        with gc_paused():
            view = run_view(json.loads(data), label)
        with self._lock:
            self._views[sha256] = view
            while len(self._views) > CACHED_VIEWS:
                self._views.popitem(last=False)
        return view


VIEWS = _Views()


class BadComparison(Exception):
    """A device named that the submission does not hold (the page says so; the API answers 404)."""


def compare(
    db: Session,
    store: BlobStore,
    principal: Principal,
    a_id: int,
    b_id: int,
    device_a: str = "",
    device_b: str = "",
    tolerance: float = DEFAULT_TOLERANCE,
    limit: int = 512 << 20,
) -> Compared:
    a = get_submission(db, principal, a_id, Action.SUBMISSION_READ)
    b = get_submission(db, principal, b_id, Action.SUBMISSION_READ)
    view_a = VIEWS.get(store, a.sha256, limit, f"submission {a.id}")
    view_b = VIEWS.get(store, b.sha256, limit, f"submission {b.id}")
    pairs = None
    if device_a or device_b:
        pairs = [(device_a or device_b, device_b or device_a)]
    try:
        result = diff_runs(view_a, view_b, pairs, tolerance)
    except ConfigError as exc:
        raise BadComparison(str(exc)) from None
    return Compared(a, b, result)
