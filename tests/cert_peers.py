"""Certification test helpers: bundles with chosen outcomes (real runs, built and signed by the report
code), publishing in-process through the platform's own intake, and the principals and actors of
the seeded users."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from unittest import mock

from harness.platform.auth.policy import Principal, Role
from harness.platform.services import audit, publishing
from harness.platform.services.publishing import Declared, PublishRequest
from harness.report.publish import publish
from tests import report_runs
from tests.platform_peers import USERS, Seeded

# dev-a fails the MUST requirement DEMO-2 and nothing else; dev-b passes everything.
FAILS_DEMO_2: Sequence[tuple[str, list[str], str, str]] = (
    ("demo/test_demo.py::test_kernel", ["DEMO-1"], "PASS", "PASS"),
    ("demo/test_demo.py::test_storage", ["DEMO-2"], "FAIL", "PASS"),
    ("demo/test_demo.py::test_extra", ["DEMO-3"], "PASS", "PASS"),
)
ALL_PASS: Sequence[tuple[str, list[str], str, str]] = tuple(
    (t, r, "PASS", "PASS") for t, r, _, _ in FAILS_DEMO_2
)
STORY_MODEL = "EM-3568"
STORY_DECLARED = {
    "dev-a": {"model": STORY_MODEL, "soc": "RK3568", "board": "EM-B1"},
    "dev-b": {"model": STORY_MODEL, "soc": "RK3568", "board": "EM-B1"},
}


def make_bundle_with(
    base: Path, key_dir: Path, run_id: str, tests: Sequence[tuple[str, list[str], str, str]]
) -> Path:
    """A real signed bundle whose tests end as `tests` says (test id, requirements, dev-a, dev-b)."""
    with mock.patch.object(report_runs, "TESTS", list(tests)):
        run = report_runs.make_run(base / "reports", base / "suites", run_id)
    return publish(run, key_dir=key_dir, announce=io.StringIO()).bundle


def principal(seeded: Seeded, username: str) -> Principal:
    org, role = USERS[username]
    return Principal(role=Role(role), org_id=seeded.org_ids[org], user_id=seeded.user_ids[username])


def actor(username: str) -> audit.Actor:
    return audit.Actor(username, USERS[username][1], "127.0.0.1")


def publish_in_process(
    seeded: Seeded,
    bundle: Path,
    *,
    lab_user: str = "lab-a-user",
    vendor: str = "vendor-a",
    declared: dict[str, dict[str, str]] | None = None,
    answers: int | None = None,
) -> int:
    platform = seeded.platform
    incoming = platform.store.begin()
    incoming.write(bundle.read_bytes())
    sha256 = incoming.finish()
    request = PublishRequest(vendor, {k: Declared(**v) for k, v in (declared or {}).items()}, answers)
    outcome = publishing.accept(
        platform.db,
        platform.store,
        platform.config.limits,
        principal(seeded, lab_user),
        incoming,
        sha256,
        request,
    )
    return outcome.submission_id
