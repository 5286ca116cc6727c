"""Power management: suspend woken by the RTC, CPU idle states, frequency scaling under load and
thermal throttling, where the device declares them. One batch of sysfs reads (harness.checks.sysfs);
the judging is in harness.checks.power. The suspend and load tests act on the device, the rest only read."""

from __future__ import annotations

import pytest

from harness.checks import power, reads


@pytest.fixture(scope="module")
def tree(dut):
    return reads.read_tree(dut, power.SLEEP + power.IDLE + power.DVFS + power.THERMAL)


def _holds(problems: list[str]) -> None:
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("PWR-SUS-001")
def test_sleep_state_offered(tree):
    _holds(power.sleep_offered(tree))


@pytest.mark.requirement("PWR-SUS-002")
def test_rtc_can_wake(tree):
    _holds(power.rtc_wake(tree))


@pytest.mark.requirement("PWR-SUS-003")
def test_suspend_resume_cycle(dut, tree, suite_data):
    _holds(power.sleep_offered(tree) or power.rtc_wake(tree))
    mode = "mem" if "mem" in power.sleep_states(tree) else "freeze"
    seconds = int(suite_data["wake_seconds"])
    script = power.suspend_script(power.wake_rtcs(tree)[0], mode, seconds)
    result = dut.run(script, timeout=60 + seconds)
    _holds(power.suspend_cycle(result.stdout_text) or ([] if result.ok else [reads.failure_detail(result)]))


@pytest.mark.requirement("PWR-SUS-004")
def test_no_failed_suspend(tree):
    _holds(power.no_failed_suspend(tree))


@pytest.mark.requirement("PWR-IDLE-001")
def test_cpuidle_driver(tree):
    _holds(power.idle_driver(tree))


@pytest.mark.requirement("PWR-IDLE-002")
def test_deep_idle_enabled(tree):
    _holds(power.idle_driver(tree) or power.deep_idle_enabled(tree))


@pytest.mark.requirement("PWR-IDLE-003")
def test_deep_idle_entered(tree):
    _holds(power.idle_driver(tree) or power.deep_idle_entered(tree))


@pytest.mark.requirement("PWR-DVFS-001")
def test_cpus_in_policies(tree):
    _holds(power.cpus_covered(tree))


@pytest.mark.requirement("PWR-DVFS-002")
def test_dynamic_governor(tree):
    _holds(power.dynamic_governor(tree))


@pytest.mark.requirement("PWR-DVFS-003")
def test_operating_points(tree):
    _holds(power.operating_points(tree))


@pytest.mark.requirement("PWR-DVFS-004")
def test_frequency_rises_under_load(dut, tree, suite_data):
    if not power.policies(tree):
        _holds(power.cpus_covered(tree))  # no policy: the load would prove nothing
    folders = [f"{power.CPU}/cpufreq/{p}" for p in power.policies(tree)]
    cpus = len(power.cpu_list(tree.value(f"{power.CPU}/online")))
    seconds = int(suite_data["load_seconds"])
    result = dut.run(power.load_script(folders, seconds, cpus), timeout=60 + seconds)
    samples = power.parse_load(result.stdout_text)
    _holds(power.scales_up_under_load(tree, samples, float(suite_data["load_fraction"])))


@pytest.mark.requirement("PWR-THERM-001")
def test_critical_trips(tree):
    _holds(power.critical_trips(tree))


@pytest.mark.requirement("PWR-THERM-002")
def test_below_critical(tree):
    _holds(power.below_critical(tree))


@pytest.mark.requirement("PWR-THERM-003")
def test_cooling_bound(tree):
    _holds(power.cooling_bound(tree))
