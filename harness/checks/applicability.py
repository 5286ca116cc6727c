"""Whether a test's requirements apply to the device: suite.toml `applies_to` (profiles, kinds).

The harness plugin (harness/plugin/suite_fixtures.py) asks it before every test, so a test of a
requirement that does not apply ends as SKIP with the reason, never as a FAIL or a silent PASS."""

from __future__ import annotations

from ..suites import Suite


def not_applicable_reason(
    suite: Suite, requirement_ids: list[str], profile: str, kind: str, capabilities: tuple[str, ...] = ()
) -> str | None:
    """A reason when none of the test's requirements applies to (profile, kind) and the device's declared
    capabilities; None when one does."""
    reasons = []
    undeclared = []
    for req_id in requirement_ids:
        req = suite.requirements.get(req_id)
        if req is None:
            return None  # an unknown id is the meta test's business; do not hide the test
        if req.applies_to(profile, kind):
            missing = req.missing_capabilities(capabilities)
            if not missing:
                return None
            undeclared.append(f"{req_id} needs {', '.join(missing)}")
            continue
        scope = []
        if req.profiles:
            scope.append(f"profiles {', '.join(req.profiles)}")
        if req.kinds:
            scope.append(f"kinds {', '.join(req.kinds)}")
        reasons.append(f"{req_id} applies to {' and '.join(scope)}")
    if undeclared and not reasons:
        return (f"the device does not declare the capability (declared.capabilities: "
                f"{', '.join(capabilities) or 'none'}): " + "; ".join(undeclared))
    if not reasons:
        return None
    return f"not applicable to profile {profile}, kind {kind}: " + "; ".join(reasons + undeclared)
