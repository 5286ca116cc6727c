"""harness.checks.ohos_services on the outputs OpenHarmony's tools print, in the formats their guides
document (hidumper -ls, bm dump -a, hilog, param get of startup.service.ctl.*). Each test states the
rule it pins. HCS blobs are built in hc-gen's layout and judged as hdf_devmgr checks them; the personas'
blobs are judged as they are on disk."""

from __future__ import annotations

import struct

import pytest

from harness.checks import ohos_services as oh
from harness.lab.persona import load_persona

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


def _od(blob: bytes) -> str:
    """`od -An -tx1 -N20` output: 16 octets a line, each after a space."""
    head = blob[:oh.HCB_HEADER]
    return "".join(" " + " ".join(f"{b:02x}" for b in head[i:i + 16]) + "\n" for i in range(0, len(head), 16))


def _hcb(total: int, body: bytes, magic: int = oh.HCB_MAGIC) -> bytes:
    return struct.pack("<IIIIi", magic, 0, 66, 0x1234, total) + body


ROOT = bytes([1]) + b"root\0" + bytes(4)  # CONFIG_NODE, the name, its length: hc-gen's unaligned root node


def test_an_hcs_blob_is_judged_as_hdf_devmgr_checks_it():
    good = _hcb(len(ROOT), ROOT)
    assert oh.hcb_problem(_od(good), f"{len(good)}\n") is None
    aligned = _hcb(-16, bytes(16))  # a negative totalSize: 4-byte aligned, the root node takes 16 bytes
    assert oh.hcb_problem(_od(aligned), "36") is None
    assert oh.hcb_problem(_od(_hcb(-15, bytes(15))), "35") == (
        "the HCS blob holds no root node (15 bytes after its header)")
    assert oh.hcb_problem(_od(_hcb(9, bytes(9))), "29") == "the HCS blob holds no root node (9 bytes after its header)"
    assert oh.hcb_problem(_od(_hcb(0, b"")), "20") == "the HCS blob holds no root node (0 bytes after its header)"
    assert oh.hcb_problem(_od(good), "31") == "the HCS blob is 31 bytes but its header says 30"
    assert oh.hcb_problem(_od(aligned), "20") == "the HCS blob is 20 bytes but its header says 36"
    assert oh.hcb_problem(_od(_hcb(10, ROOT, magic=0x0AA00AA0)), "30") == (
        "the HCS blob's magic is 0x0aa00aa0, not 0xa00aa00a: it is no compiled HCS")


def test_an_hcs_blob_too_short_too_long_or_unreadable():
    good = _od(_hcb(len(ROOT), ROOT))
    assert oh.hcb_problem(good, "19") == "the HCS blob is 19 bytes: hdf_devmgr takes 20 bytes to 10 MiB"
    assert oh.hcb_problem(good, str(oh.HCB_MAX + 1)) == (
        f"the HCS blob is {oh.HCB_MAX + 1} bytes: hdf_devmgr takes 20 bytes to 10 MiB")
    big = _hcb(oh.HCB_MAX - oh.HCB_HEADER, b"")
    assert oh.hcb_problem(_od(big), str(oh.HCB_MAX)) is None
    assert oh.hcb_problem(good, "wc: x: No such file\n") == (
        "the HCS blob's size is unreadable (wc -c said 'wc: x: No such file')")
    assert oh.hcb_problem(" 0a a0 0a a0 00\n", "30") == "the HCS blob's header is unreadable (5 of 20 bytes)"
    assert oh.hcb_problem("od: x: No such file\n", "30") == "the HCS blob's header is unreadable (0 of 20 bytes)"
    assert oh.hcb_problem(good, "y" * 100) == f"the HCS blob's size is unreadable (wc -c said {'y' * 80!r})"
    # Only od's octets count, in either case: its other words (an address column, an error) are no bytes.
    assert oh.hcb_problem("0000000" + good, "30") is None
    assert oh.hcb_problem(good.upper(), "30") is None


def test_the_personas_hcs_blobs_are_what_hdf_devmgr_takes():
    for name in ("ohos-rk3568", "handset-ohos"):
        blob = (load_persona(name).files_dir / "vendor/etc/hdfconfig/hdf_default.hcb").read_bytes()
        assert oh.hcb_problem(_od(blob), str(len(blob))) is None, name
