"""Long-run memory of the profile's key system services (STAB-MEM-001): the device samples each one's
Pss (else VmRSS) `memleak_samples` times, `memleak_interval_s` apart, and harness.checks.memleak judges
the trend. A service that is not running, restarts during the run or gives too few samples is a FAIL
saying so, never a pass."""

from __future__ import annotations

import pytest

from harness.checks import memleak


@pytest.mark.requirement("STAB-MEM-001")
def test_key_services_memory_steady(dut, suite_data):
    services = list(suite_data["memleak_services"])
    samples, interval = int(suite_data["memleak_samples"]), float(suite_data["memleak_interval_s"])
    bound = memleak.Bound(int(suite_data["memleak_min_growth_kib"]),
                          float(suite_data["memleak_max_growth_percent"]))
    script = memleak.sample_script(services, samples, interval)
    result = dut.run(script, timeout=samples * interval + 120)
    sampling = memleak.parse_samples(result.stdout_text)
    judgements = memleak.judge(services, sampling, samples, bound)
    for j in judgements:
        if j.first_kib is not None:
            dut.metric(f"memory_growth_{j.service}", j.growth_kib, "KiB", high=bound.allowed(j.first_kib))
    assert sampling.rounds == samples, (
        f"the device finished {sampling.rounds} of {samples} sampling rounds (exit {result.exit_code})"
    )
    problems = memleak.problems(judgements)
    steady = [j.figures() for j in judgements if j.problem is None]
    assert not problems, "; ".join(problems) + (f" (steady: {'; '.join(steady)})" if steady else "")
