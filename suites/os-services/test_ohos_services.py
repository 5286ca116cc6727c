"""OpenHarmony's own services: samgr's system abilities (hidumper -ls), the identity parameters and API
level (param get), init's core services (startup.service.ctl.<name>), hilog, the bundle manager (bm dump
-a) and the HDF device manager with its configuration.

Each test reads through the `dut` fixture and judges with harness.checks.ohos_services; a command that
is missing or answers nothing is a FAIL saying so. The requirements apply to the openharmony profile."""

from __future__ import annotations

import shlex

import pytest

from harness.checks import ohos_services, reads


def _params(dut, keys) -> dict[str, str | None]:
    return {key: reads.get_property(dut, key, "ohos") for key in keys}


def _services(dut, names) -> dict[str, str | None]:
    return {name: reads.get_property(dut, ohos_services.service_param(name), "ohos") for name in names}


def _command(dut, tool: str, args: str, timeout: float = 60) -> str:
    if reads.which(dut, tool) is None:
        pytest.fail(f"no {tool} command on the device")
    result = dut.run(f"{tool} {args} 2>&1", timeout=timeout)
    return result.stdout_text


@pytest.mark.requirement("OSS-OH-SA-001")
def test_core_system_abilities(dut, suite_data):
    text = _command(dut, "hidumper", "-ls")
    found = ohos_services.system_abilities(text)
    assert found is not None, f"hidumper -ls printed no system ability list: {' '.join(text.split())[:300]!r}"
    missing = ohos_services.missing_abilities(found, suite_data["system_abilities"])
    assert not missing, f"hidumper -ls lacks {missing} ({len(found)} abilities listed)"


@pytest.mark.requirement("OSS-OH-PARAM-001")
def test_identity_parameters(dut, suite_data):
    fullname = reads.get_property(dut, "const.ohos.fullname", "ohos")
    problems = [p for p in [ohos_services.fullname_problem(fullname)] if p]
    missing = ohos_services.missing_params(_params(dut, suite_data["identity_params"]))
    problems += [f"{key} is not set" for key in missing]
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("OSS-OH-PARAM-002")
def test_api_level(dut, suite_data):
    value = reads.get_property(dut, "const.ohos.apiversion", "ohos")
    problem = ohos_services.api_level_problem(value, suite_data["min_api_level"])
    assert problem is None, problem


@pytest.mark.requirement("OSS-OH-INIT-001")
def test_core_services_running(dut, suite_data):
    stopped = ohos_services.not_running(_services(dut, suite_data["core_services"]))
    assert not stopped, f"init reports core services not running: {stopped}"


@pytest.mark.requirement("OSS-OH-HILOG-001")
def test_hilog(dut):
    stopped = ohos_services.not_running(_services(dut, ["hilogd"]))
    assert not stopped, f"init reports {stopped[0]}"
    text = _command(dut, "hilog", "-x")
    said = " ".join(text.split())[:300]
    assert ohos_services.hilog_lines(text), f"hilog -x returned no log entry: {said!r}"


@pytest.mark.requirement("OSS-OH-BM-001")
def test_bundles_listed(dut, suite_data):
    text = _command(dut, "bm", "dump -a")
    listed = ohos_services.bundles(text)
    assert listed, f"bm dump -a listed no bundle: {' '.join(text.split())[:300]!r}"
    missing = [b for b in suite_data["required_bundles"] if b not in listed]
    assert not missing, f"bm dump -a lacks {missing}"


@pytest.mark.requirement("OSS-OH-HDF-001")
def test_hdf_device_manager(dut, suite_data):
    stopped = ohos_services.not_running(_services(dut, ["hdf_devmgr"]))
    assert not stopped, f"init reports {stopped[0]}: no HDF driver is loaded"
    present = [p for p in suite_data["hdf_config"] if reads.exists(dut, p, "-f")]
    assert present, f"no HDF device configuration: none of {suite_data['hdf_config']} exists"
    blob = shlex.quote(present[0])  # hdf_devmgr reads the first that exists
    head = dut.run(f"od -An -tx1 -N{ohos_services.HCB_HEADER} {blob}", timeout=30).stdout_text
    size = dut.run(f"wc -c < {blob}", timeout=30).stdout_text
    problem = ohos_services.hcb_problem(head, size)
    assert problem is None, f"{present[0]}: {problem}"
