"""Odd numbers in device text come out as the checks' own answers, never as an exception (which would
make the test an ERROR, lab trouble, instead of the FAIL the device earned)."""

from __future__ import annotations

import pytest

from harness.checks import ohos_services, osservices, power, procinfo, smcrypto, taint
from harness.checks.numbers import MAX_DIGITS, is_count

ODD = ["²", "1²", "٣", "9" * 5000, "", " 1", "-1", "+1", "1.0", "0x10"]


@pytest.mark.parametrize("text", ODD)
def test_what_is_not_a_plain_ascii_count_is_refused(text: str) -> None:
    assert not is_count(text)


@pytest.mark.parametrize("text", ["0", "7", "007", "9" * MAX_DIGITS])
def test_plain_counts_are_taken(text: str) -> None:
    assert is_count(text) and int(text) >= 0


def test_one_digit_too_many_is_refused() -> None:
    assert not is_count("1" * (MAX_DIGITS + 1))


@pytest.mark.parametrize("text", ["²", "9" * 5000])
def test_the_checks_answer_odd_numbers_instead_of_raising(text: str) -> None:
    assert "not an API level number" in (ohos_services.api_level_problem(text, 10) or "")
    assert "unreadable" in (ohos_services.hcb_problem("", text) or "")
    assert "kexec_crash_size is" in (osservices.crash_reservation_problem("crashkernel=256M", text) or "")
    assert power.cpu_list(f"0 {text} 2") == {0, 2}
    assert procinfo.parse_cpuinfo(f"processor\t: {text}\nprocessor\t: 1\n").processors == 1
    [alg] = smcrypto.parse_proc_crypto(f"name : sm3\ndriver : sm3-generic\npriority : {text}\n")
    assert alg.priority == 0
    with pytest.raises(ValueError, match="not a taint mask"):
        taint.parse_taint(text)
