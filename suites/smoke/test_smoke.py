"""Smoke checks: the command channel works and the device says who it is."""

import pytest


@pytest.mark.requirement("SMOKE-1")
def test_exit_codes_are_real(dut):
    assert dut.run("true").exit_code == 0
    assert dut.run("false").exit_code == 1
    assert dut.run("exit 7").exit_code == 7


@pytest.mark.requirement("SMOKE-2")
def test_identity_is_reported(dut):
    ident = dut.identity()
    assert ident.os_name, "the OS name is empty"
    assert ident.kernel, "the kernel release is empty"
    assert ident.arch, "the architecture is empty"


@pytest.mark.requirement("SMOKE-3")
def test_tmp_is_writable(dut):
    result = dut.run("f=/tmp/.harness_smoke_$$; echo ok > $f && cat $f && rm -f $f")
    assert result.exit_code == 0 and result.stdout_text.strip() == "ok", result.stdout_text
