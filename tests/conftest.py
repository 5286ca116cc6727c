"""Shared test settings.

In CI (HARNESS_REQUIRE_PEERS=1, set by .ci/run) a skipped test is a failure: every real-peer test must
actually run there, and a missing sshd, socat or adb binary must not pass silently as a skip."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

REQUIRE_PEERS = os.environ.get("HARNESS_REQUIRE_PEERS") == "1"
# Suites the tests hand to the runner (tests/data/agent_suites): run by `harness run`, not collected here.
collect_ignore_glob = ["data/*"]

# Device locks (harness.locks) of this test session: private, so tests never wait for, or block, a real
# run on this host, nor another engineer's test session.
_LOCK_DIR = tempfile.mkdtemp(prefix="harness-test-locks-")
os.environ["HARNESS_LOCK_DIR"] = _LOCK_DIR


def pytest_sessionfinish(session: pytest.Session) -> None:
    shutil.rmtree(_LOCK_DIR, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_PEERS and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped in CI, where every test must run (HARNESS_REQUIRE_PEERS=1): {reason}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `make test` runs on pytest-xdist with --dist loadgroup: a test file is one group, so its module
    # fixtures (labs, servers) start once, on one worker. A test marked xdist_group(NAME) runs with
    # the other tests of NAME instead, one after another on one worker: the mark for tests that share
    # something that cannot be made per worker.
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


def pytest_collection_finish(session: pytest.Session) -> None:
    # The hdc peers' first build takes minutes: start it now, in the background, when a selected test
    # needs it, so it overlaps the tests that run before (a cached build returns at once).
    if any("hdc_binaries" in getattr(item, "fixturenames", ())
           or any(m.args[:1] == ("hdc",) for m in item.iter_markers("peer")) for item in session.items):
        from .hdc_peers import start_build_in_background

        start_build_in_background()
