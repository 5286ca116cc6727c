"""kdump proven by a crash (STAB-KDUMP-*): on a device that declares `kdump-capture` only, force a kernel
crash, wait for the device to come back as a new boot, and judge what its kdump target gained with
harness.checks.kdump. The crash happens once per module; a device without a loaded crash kernel is
never crashed (it could not be captured): each requirement FAILs saying so."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.checks import kdump, osservices, reads

CAPABILITY = "kdump-capture"


@dataclass(frozen=True)
class Crash:
    problem: str | None  # why no crash was forced, or the capture's own problem
    before: kdump.Listing
    after: kdump.Listing
    boot_ids: tuple[str, str]


def _listing(dut, targets) -> kdump.Listing:
    return kdump.parse_listing(dut.run(kdump.listing_script(targets), timeout=120).stdout_text)


@pytest.fixture(scope="module")
def crash(dut, suite_data) -> Crash:
    # The plugin skips undeclared devices before this runs; asked again here, as nothing else in the
    # suites is this destructive.
    if CAPABILITY not in dut.spec.declared.capabilities:
        pytest.skip(f"the device does not declare the capability {CAPABILITY!r}")
    targets = list(suite_data["kdump_targets"])
    empty = kdump.Listing({}, {}, ())
    loaded = osservices.crash_loaded_problem(reads.read_file(dut, "/sys/kernel/kexec_crash_loaded"))
    if loaded is not None:
        return Crash(f"no crash was forced, it could not be captured: {loaded}", empty, empty, ("", ""))
    before = _listing(dut, targets)
    ids = dut.reset_and_wait(suite_data["kdump_trigger"], timeout=float(suite_data["kdump_timeout_s"]))
    after = _listing(dut, targets)
    return Crash(kdump.capture_problem(before, after, targets), before, after, ids)


@pytest.mark.reboots
@pytest.mark.requirement("STAB-KDUMP-001")
def test_crash_is_captured(crash):
    assert crash.problem is None, crash.problem
    old, new = crash.boot_ids
    assert new and new != old, f"the device came back with boot id {new!r} (before the crash {old!r})"


@pytest.mark.reboots
@pytest.mark.requirement("STAB-KDUMP-002")
def test_dump_is_a_memory_image(crash, suite_data):
    assert crash.problem is None, crash.problem
    dump = kdump.newest_dump(crash.before, crash.after)
    problem = kdump.vmcore_problem(dump, int(suite_data["kdump_min_dump_kib"]))
    assert problem is None, problem


@pytest.mark.reboots
@pytest.mark.requirement("STAB-KDUMP-003")
def test_crash_log_saved(crash):
    assert crash.problem is None, crash.problem
    problem = kdump.log_problem(kdump.newest_dump(crash.before, crash.after))
    assert problem is None, problem
