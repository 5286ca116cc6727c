"""The stability suite's recovery tests (suites/stability/test_recovery.py) on the simulated lab: the
devices' own processes reset a persona whose watchdog is left unfed and switch its power through the
device's control socket (devices.toml `power = { socket = ... }`), as a bench's PDU would. The conforming
board recovers from both; the non-conforming board fails on exactly its planted stability defects (its
watchdog never resets it, its ext4 reports errors after the power cut); a board that declares neither
skips both, with the reasons."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.lab import Lab
from harness.lab.persona import load_persona
from harness.suites import load_suite

from .lab_inventory import write_lab

REPO = Path(__file__).resolve().parents[1]
RECOVERY = REPO / "suites" / "stability" / "test_recovery.py"
REQUIREMENTS = {r for r in load_suite(REPO / "suites" / "stability").requirements
                if r.startswith(("STAB-WDT-", "STAB-PWR-"))}
DEVICES = ("euler-ft2000", "nonconforming-board", "kylin-v10")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, tuple[str, str]]]]:
    """Device -> requirement -> (outcome, message), the three devices run at the same time."""
    folder = tmp_path_factory.mktemp("recovery-lab")
    inventory, _ = write_lab(folder, only=DEVICES)
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_REQUIRE_PEERS"}
    with Lab(inventory):
        procs = {name: subprocess.Popen(
            [sys.executable, "-m", "pytest", str(RECOVERY), "--device", name, "--inventory", str(inventory),
             "--harness-run-dir", str(folder / name), "-q", "-p", "no:cacheprovider", "-o", "addopts="],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for name in DEVICES}
        outputs = {name: proc.communicate(timeout=240)[0] for name, proc in procs.items()}
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for name in DEVICES:
        found[name] = {}
        for journal in (folder / name / "journal").glob("*.jsonl"):
            for line in journal.read_text().splitlines():
                record = json.loads(line)
                if record.get("type") == "result":
                    for req in record["requirements"]:
                        found[name][req] = (record["outcome"], record.get("message") or "")
        assert set(found[name]) == REQUIREMENTS, outputs[name][-3000:]
    yield found


def test_the_conforming_board_recovers_from_its_watchdog_and_a_power_cut(outcomes) -> None:
    euler = outcomes["euler-ft2000"]
    assert {r for r, (o, _m) in euler.items() if o == "PASS"} == REQUIREMENTS - {"STAB-PWR-003"}, euler
    # The sandbox's root is a folder of the lab machine's disk, no block device of the board's own.
    outcome, message = euler["STAB-PWR-003"]
    assert outcome == "SKIP" and "is no block device the device shows" in message, message


def test_the_nonconforming_board_fails_exactly_on_its_stability_defects(outcomes) -> None:
    persona = load_persona("nonconforming-board")
    planted = {r for d in persona.defects for r in d.requirements if r in REQUIREMENTS}
    nc = outcomes["nonconforming-board"]
    assert {r for r, (o, _m) in nc.items() if o == "FAIL"} == planted == {"STAB-WDT-001", "STAB-WDT-002",
                                                                          "STAB-PWR-002"}
    assert nc["STAB-WDT-001"][1].startswith("still ") and "the unfed watchdog did not reset the device "
    assert "(timeout 10s)" in nc["STAB-WDT-001"][1], nc["STAB-WDT-001"]
    assert nc["STAB-PWR-002"][1].startswith("filesystem error in the kernel log: [    4.771230] EXT4-fs error "
                                            "(device mmcblk1p2): ext4_validate_block_bitmap"), nc["STAB-PWR-002"]
    assert nc["STAB-PWR-001"][0] == nc["STAB-PWR-004"][0] == "PASS", nc


def test_a_board_declaring_neither_skips_with_the_reasons(outcomes) -> None:
    kylin = outcomes["kylin-v10"]
    assert {o for o, _m in kylin.values()} == {"SKIP"}, kylin
    assert kylin["STAB-WDT-001"][1].startswith("the device does not declare the capability"), kylin
    assert kylin["STAB-PWR-001"][1].startswith("the lab has no power control of this device"), kylin
