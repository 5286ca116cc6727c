"""harness.checks.ohos_services on the outputs OpenHarmony's tools print, in the formats their guides
document (hidumper -ls, bm dump -a, hilog, param get of startup.service.ctl.*). Each test states the
rule it pins."""

from __future__ import annotations

import pytest

from harness.checks import ohos_services as oh

# The layout of `hidumper -ls` (three columns under its header), as the hidumper guide shows it.
HIDUMPER_LS = """System ability list:
SystemAbilityManager             RenderService                    AbilityManagerService
DataObserverMgr                  AccountMgr                       AIEngine
BundleMgr                        FormMgr                          ApplicationManagerService
"""


def test_system_abilities_come_from_the_columns_under_the_header():
    found = oh.system_abilities(HIDUMPER_LS)
    assert found is not None and {"SystemAbilityManager", "BundleMgr", "AIEngine"} <= found
    assert "ability" not in found and "list:" not in found  # the header is no ability
    assert oh.missing_abilities(found, ["BundleMgr", "SystemAbilityManager"]) == []
    assert oh.missing_abilities(found, ["BundleMgr", "PowerManagerService"]) == ["PowerManagerService"]


def test_every_list_after_the_first_header_counts_and_no_header_is_an_ability():
    twice = "noise before\n" + HIDUMPER_LS + "System ability list:\nHiviewService\n"
    found = oh.system_abilities(twice)
    assert found is not None and {"SystemAbilityManager", "HiviewService"} <= found
    assert not {"System", "ability", "noise", "before"} & found


def test_hidumper_error_with_exit_0_is_no_list():
    # hidumper answers a bad option with this line and exit code 0: no header, no abilities.
    assert oh.system_abilities("hidumper: option pid missed. help\n") is None
    assert oh.system_abilities("") is None


@pytest.mark.parametrize(("value", "state"), [("2", "running"), ("3", "ready"), ("5", "stopped"),
                                              ("9", "disabled"), (None, "unknown"), ("", "unknown"),
                                              ("running", "running")])
def test_service_states_follow_inits_numbering(value, state):
    assert oh.service_state(value) == state


def test_only_running_or_ready_services_count():
    values = {"samgr": "2", "foundation": "3", "appspawn": "5", "hilogd": None}
    assert oh.not_running(values) == ["appspawn stopped", "hilogd unknown"]
    assert oh.service_param("hdf_devmgr") == "startup.service.ctl.hdf_devmgr"


def test_identity_parameters_missing_or_empty():
    assert oh.missing_params({"const.ohos.apiversion": "11", "const.product.brand": "", "const.product.model": None}) == [
        "const.product.brand", "const.product.model"]


@pytest.mark.parametrize(("value", "problem"), [
    ("11", None), ("9", None),
    ("8", "API level 8 is below the minimum 9"),
    ("eleven", "const.ohos.apiversion is 'eleven', not an API level number"),
    (None, "const.ohos.apiversion is not set"),
])
def test_api_level_is_a_number_at_least_the_minimum(value, problem):
    assert oh.api_level_problem(value, 9) == problem


def test_fullname_is_openharmony_and_four_numbers():
    assert oh.fullname_problem("OpenHarmony-4.1.7.5") is None
    assert oh.fullname_problem("OpenHarmony-5.0.0.71(Beta1)") is None
    assert "not OpenHarmony-" in oh.fullname_problem("OpenHarmony 4.1")
    assert oh.fullname_problem(None) == "const.ohos.fullname is not set"


def test_hilog_entries_and_noise():
    text = ("03-26 10:20:01.102   412   412 I C01f01/Init: Start service hilogd\n"
            "hilog: the buffer is empty\n"
            "03-26 10:20:09.751   286   286 W C02500/BootEvent: slow\n")
    assert len(oh.hilog_lines(text)) == 2
    assert oh.hilog_lines("Failed to connect to hilogd\n") == []


def test_bundles_skip_the_user_header():
    text = "ID: 100:\n\tcom.ohos.launcher\n\tcom.ohos.settings\n\tohos.global.systemres\n\tCom.Vendor.Tool\n"
    assert oh.bundles(text) == ["com.ohos.launcher", "com.ohos.settings", "ohos.global.systemres", "Com.Vendor.Tool"]
    assert oh.bundles("ID.100.x\n") == ["ID.100.x"]  # a bundle may begin with ID: only the header is skipped
    assert oh.bundles("error: failed to get bundle manager proxy.\n") == []
    assert oh.bundles("ID: 100:\n") == []
