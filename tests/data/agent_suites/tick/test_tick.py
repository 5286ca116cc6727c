"""One command that names the job (the agent's HARNESS_JOB_ID) and holds the device for a moment."""

import os

import pytest


@pytest.mark.requirement("TICK-1")
def test_tick(dut):
    job = os.environ.get("HARNESS_JOB_ID", "0")
    seconds = os.environ.get("TICK_SECONDS", "0.2")
    result = dut.run(f"echo harness-job {job} run begin; sleep {seconds}; echo harness-job {job} end")
    assert result.exit_code == 0
