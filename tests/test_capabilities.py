"""Declared capabilities: devices.toml `declared.capabilities` and suite.toml `applies_to.capabilities`.
A requirement whose capability is not declared is SKIPped with that reason; a name that is no known
capability is one clear line at load, in either file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capabilities import CAPABILITIES
from harness.checks.applicability import not_applicable_reason
from harness.errors import ConfigError
from harness.inventory import load_inventory
from harness.suites import Requirement, Suite, load_suite

DEVICE = """
[devices.board]
kind = "board"
profile = "openeuler"
ssh = {{ host = "127.0.0.1" }}
declared = {{ arch = "aarch64", capabilities = {caps} }}
"""


def test_inventory_reads_declared_capabilities(tmp_path: Path) -> None:
    path = tmp_path / "devices.toml"
    path.write_text(DEVICE.format(caps='["gpio", "ethernet"]'))
    assert load_inventory(path).get("board").declared.capabilities == ("gpio", "ethernet")


@pytest.mark.parametrize(("caps", "problem"), [
    ('["gpio", "wfi"]', "key 'declared.capabilities' = 'wfi': not a known capability (known: audio, bluetooth,"),
    ('"gpio"', "key 'declared.capabilities' = 'gpio': expected a list of capability names"),
])
def test_inventory_refuses_an_unknown_capability(tmp_path: Path, caps: str, problem: str) -> None:
    path = tmp_path / "devices.toml"
    path.write_text(DEVICE.format(caps=caps))
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert f"{path}: device 'board', {problem}" in str(info.value), str(info.value)


def test_suite_refuses_an_unknown_capability(tmp_path: Path) -> None:
    (tmp_path / "suite.toml").write_text(
        'id = "x"\nversion = "1"\ntitle_en = "x"\ntitle_zh = "x"\n[[requirements]]\nid = "X-1"\nlevel = "MUST"\n'
        'title_en = "x"\ntitle_zh = "x"\napplies_to = { capabilities = ["usb3"] }\n'
    )
    with pytest.raises(ConfigError, match=r"suite.toml: requirement 'X-1', key 'applies_to.capabilities' = 'usb3': not a known "):
        load_suite(tmp_path)


def test_undeclared_capability_is_a_skip_reason_and_a_declared_one_applies() -> None:
    suite = Suite("s", "1", "t", "t", Path("."), {
        "R-GPIO": Requirement("R-GPIO", "MUST", "t", "t", capabilities=("gpio",)),
        "R-BOARD": Requirement("R-BOARD", "MUST", "t", "t", kinds=("board",), capabilities=("wifi",)),
    })
    assert not_applicable_reason(suite, ["R-GPIO"], "openeuler", "board", ("gpio", "uart")) is None
    reason = not_applicable_reason(suite, ["R-GPIO"], "openeuler", "board", ("uart",))
    assert reason == "the device does not declare the capability (declared.capabilities: uart): R-GPIO needs gpio"
    assert not_applicable_reason(suite, ["R-GPIO"], "openeuler", "board") == (
        "the device does not declare the capability (declared.capabilities: none): R-GPIO needs gpio"
    )
    # Out of scope by kind and undeclared: both reasons, the scope first.
    reason = not_applicable_reason(suite, ["R-BOARD"], "android", "handset")
    assert reason == "not applicable to profile android, kind handset: R-BOARD applies to kinds board"
    # A test of two requirements applies when one of them does.
    assert not_applicable_reason(suite, ["R-GPIO", "R-BOARD"], "openeuler", "board", ("wifi",)) is None


def test_the_shipped_suites_need_only_known_capabilities() -> None:
    root = Path(__file__).resolve().parent.parent / "suites"
    needs = {c for folder in ("peripherals", "network", "power", "media", "stability")
             for r in load_suite(root / folder).requirements.values() for c in r.capabilities}
    assert needs == set(CAPABILITIES)  # every capability is needed by some requirement
