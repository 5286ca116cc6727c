"""Whether a test's requirements apply to the device: suite.toml `applies_to` (profiles, kinds).

Each suite's conftest.py calls `skip_unless_applicable` from an autouse fixture, so a test of a
requirement that does not apply ends as SKIP with the reason, never as a FAIL or a silent PASS."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from ..suites import Suite, load_suite


@cache
def _suite(folder: Path) -> Suite:
    return load_suite(folder)


def not_applicable_reason(suite: Suite, requirement_ids: list[str], profile: str, kind: str) -> str | None:
    """A reason when none of the test's requirements applies to (profile, kind); None when one does."""
    reasons = []
    for req_id in requirement_ids:
        req = suite.requirements.get(req_id)
        if req is None:
            return None  # an unknown id is the meta test's business; do not hide the test
        if req.applies_to(profile, kind):
            return None
        scope = []
        if req.profiles:
            scope.append(f"profiles {', '.join(req.profiles)}")
        if req.kinds:
            scope.append(f"kinds {', '.join(req.kinds)}")
        reasons.append(f"{req_id} applies to {' and '.join(scope)}")
    if not reasons:
        return None
    return f"not applicable to profile {profile}, kind {kind}: " + "; ".join(reasons)


def skip_unless_applicable(request: pytest.FixtureRequest, suite_folder: Path) -> None:
    ids = [str(a) for mark in request.node.iter_markers("requirement") for a in mark.args]
    if not ids:
        return
    dut = request.getfixturevalue("dut")
    reason = not_applicable_reason(_suite(suite_folder), ids, dut.spec.profile, dut.spec.kind)
    if reason:
        pytest.skip(reason)
