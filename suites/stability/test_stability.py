"""Stability: reboot cycles within the profile's boot budget, then logs free of kernel faults.

The reboot test runs first (file order) so the log checks read the logs of the whole run."""

from __future__ import annotations

import time

import pytest

from harness.checks import logscan, reads


@pytest.fixture(scope="module")
def reboots(dut, suite_data):
    """Reboot N times; (identity before, [(seconds, identity after)]). Runs once for the module."""
    before = dut.identity()
    budget = dut.profile.boot_time_budget
    cycles = []
    for _ in range(int(suite_data["reboot_cycles"])):
        t0 = time.monotonic()
        after = dut.reboot_and_wait(budget)  # raises NotReady past the budget: ERROR, lab trouble
        cycles.append((time.monotonic() - t0, after))
    return before, cycles


@pytest.fixture(scope="module")
def after_reboots(request) -> None:
    """The reboot cycles first when they run in this session (the logs then cover them); a run that
    leaves them out (-m "not reboots") reads the logs without rebooting the device."""
    if any(item.get_closest_marker("reboots") is not None and item.module is request.module
           for item in request.session.items):
        request.getfixturevalue("reboots")


@pytest.mark.reboots
@pytest.mark.requirement("STAB-BOOT-001")
def test_reboot_cycles_within_budget(dut, reboots):
    _before, cycles = reboots
    budget = dut.profile.boot_time_budget
    assert cycles, "no reboot cycle configured"
    for number, (seconds, _after) in enumerate(cycles, start=1):
        dut.metric(f"boot_time_cycle_{number}", round(seconds, 2), "s", high=budget)
    slow = [f"cycle {n}: {s:.1f}s" for n, (s, _a) in enumerate(cycles, start=1) if s > budget]
    assert not slow, f"boots over the {budget:g}s budget: {slow}"
    assert dut.run(dut.profile.boot_completed).ok, "boot-completed check fails after the last reboot"


@pytest.mark.reboots
@pytest.mark.requirement("STAB-BOOT-002")
def test_same_build_after_reboot(reboots):
    before, cycles = reboots
    for number, (_seconds, after) in enumerate(cycles, start=1):
        for field in ("os_name", "os_version", "kernel", "fingerprint"):
            old, new = getattr(before, field), getattr(after, field)
            assert new == old, f"cycle {number}: {field} changed from {old!r} to {new!r}"


def _faults(dut, suite_data, which):
    logs = {name: cmd for name, cmd in dut.profile.logs.items() if which(name)}
    if not logs:
        pytest.skip(f"profile {dut.profile.name} lists no such log command")
    faults = []
    for name, command in logs.items():
        result = dut.run(command, timeout=120)
        assert result.ok or result.stdout, f"log command {command!r} failed {reads.failure_detail(result)}"
        faults += logscan.find_faults(result.stdout_text, name, suite_data["fault_kinds"])
    return faults


@pytest.mark.requirement("STAB-LOG-001")
def test_kernel_log_clean(dut, suite_data, after_reboots):
    faults = _faults(dut, suite_data, lambda name: name == "kernel")
    assert not faults, "kernel faults:\n" + "\n".join(str(f) for f in faults[:20])


@pytest.mark.requirement("STAB-LOG-002")
def test_system_log_clean(dut, suite_data, after_reboots):
    faults = _faults(dut, suite_data, lambda name: name != "kernel")
    assert not faults, "kernel faults in system logs:\n" + "\n".join(str(f) for f in faults[:20])
