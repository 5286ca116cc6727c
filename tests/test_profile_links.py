"""A profile's [links.KIND] table: what differs over one link (HarmonyOS NEXT over hdc reads param)."""

from __future__ import annotations

from harness.profiles import load_profile


def test_harmonyos_over_hdc_reads_openharmony_parameters() -> None:
    base = load_profile("harmonyos")
    over_hdc = base.for_link("hdc")
    assert base.family == "android" and base.identity["os_version"].startswith("getprop")
    assert over_hdc.family == "ohos" and over_hdc.name == "harmonyos"
    assert over_hdc.identity["os_version"] == "param get const.product.os.dist.version"
    assert over_hdc.identity["kernel"] == base.identity["kernel"]  # what the link leaves alone stays
    assert over_hdc.boot_completed_prop == "bootevent.boot.completed"
    assert over_hdc.logs["system"] == "hilog -x" and over_hdc.logs["kernel"] == "dmesg"
    assert base.for_link("adb") is base and base.for_link(None) is base


def test_every_profile_loads_and_openharmony_is_the_same_over_hdc() -> None:
    oh = load_profile("openharmony")
    assert oh.for_link("hdc") is oh and oh.boot_completed_prop == "bootevent.boot.completed"
