"""The lab in a box, end to end: `Lab` starts real device processes (sandbox + real protocol servers)
on free ports, and the project's own transports and CLI talk to them as they would to a bench."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.inventory import parse_inventory
from harness.lab.hdc.build import HdcBinaries
from harness.lab.lab import Lab, LabError
from harness.lab.lab_records import start_time
from harness.lab.persona import load_persona
from harness.profiles import load_profile
from harness.transports import open_transport
from harness.transports.base import Transport
from harness.waiting import poll_until

from .hdc_peers import hdc_binaries
from .lab_inventory import read_until, write_lab

__all__ = ["hdc_binaries"]

REPO = Path(__file__).resolve().parents[1]
OS_NAMES = {"ohos-rk3568": "OpenHarmony", "handset-hmos": "HarmonyOS", "euler-ft2000": "openEuler",
            "kylin-v10": "Kylin Linux Advanced Server", "nonconforming-board": "openEuler"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    inventory, _ = write_lab(tmp_path_factory.mktemp("lab"))
    with Lab(inventory) as the_lab:
        yield the_lab


def transport(lab: Lab, name: str, kind: str) -> Transport:
    return open_transport(lab.inventory.get(name), kind)


def harness_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def test_every_persona_is_reachable_with_its_identity(lab: Lab) -> None:
    out = harness_cli("-i", str(lab.inventory_path), "devices", "--json")
    assert out.returncode == 0, out.stderr
    records = {r["name"]: r for r in json.loads(out.stdout)}
    assert set(records) == set(OS_NAMES)
    for name, record in records.items():
        persona = load_persona(name)
        ident = record["identity"]
        assert record["reachable"], record["error"]
        assert ident["os_name"] == OS_NAMES[name], name
        assert ident["os_version"], name
        # The persona's kernel and machine, never the host's.
        assert ident["kernel"] == persona.uname.release != os.uname().release
        assert ident["arch"] == persona.uname.machine


SHELLS = [("euler-ft2000", "ssh"), ("handset-hmos", "adb"), ("ohos-rk3568", "serial"), ("euler-ft2000", "serial")]


@pytest.mark.parametrize(("name", "kind"), SHELLS, ids=["ssh", "adb", "serial-pty", "serial-socket"])
def test_shell_semantics_on_every_link(lab: Lab, name: str, kind: str) -> None:
    link = transport(lab, name, kind)
    try:
        assert link.run("for i in 1 2 3; do echo $i; done | wc -l", 10).stdout_text.strip() == "3"
        assert link.run("false; echo $?", 10).stdout_text.strip() == "1"
        assert link.run("echo out; sh -c 'exit 3'", 10).exit_code == 3
        # The device's own hostname and files, inside its sandbox.
        assert link.run("hostname", 10).stdout_text.strip() == load_persona(name).hostname
    finally:
        link.close()


def test_files_land_inside_the_device(lab: Lab, tmp_path: Path) -> None:
    src = tmp_path / "payload.bin"
    src.write_bytes(os.urandom(200_000))
    for name, kind, remote in (("kylin-v10", "ssh", "/data/payload.bin"),
                               ("handset-hmos", "adb", "/data/local/tmp/payload.bin")):
        link = transport(lab, name, kind)
        try:
            link.push(src, remote)
            assert link.run(f"wc -c < {remote}", 10).stdout_text.strip() == "200000"
            back = tmp_path / f"back-{kind}.bin"
            link.pull(remote, back)
            assert back.read_bytes() == src.read_bytes()
        finally:
            link.close()
        assert not Path(remote).exists()  # in the device's root, never the host's


def _boots(lab: Lab, name: str) -> int:
    return next(s["boots"] for s in lab.status() if s["name"] == name)


@pytest.mark.parametrize(("name", "kind"), [("kylin-v10", "ssh"), ("handset-hmos", "adb"),
                                            ("ohos-rk3568", "serial")])
def test_reboot_cycle_on_every_link(lab: Lab, name: str, kind: str) -> None:
    profile = load_profile(lab.inventory.get(name).profile)
    link = transport(lab, name, kind)
    observer = None
    if kind == "serial":  # watch the same console over its TCP side while the pty side reboots it
        observer = socket.create_connection(("127.0.0.1", lab.config.devices[name].console_port or 0))
    try:
        before = _boots(lab, name)
        assert link.run("echo alive > /tmp/marker && cat /tmp/marker", 10).stdout_text.strip() == "alive"
        link.reboot()
        link.wait_ready(20)
        # A profile whose ready check is trivial answers as soon as the links are up; the device counts
        # the boot when it completes, a moment later.
        poll_until(lambda: _boots(lab, name) == before + 1, 10, what=f"{name}'s boot to be counted")
        assert link.run(profile.boot_completed, 10).ok
        key, value = load_persona(name).boot_completed
        check, expected = {"ohos": (f"param get {key}", value), "android": (f"getprop {key}", value)}.get(
            profile.family, ("systemctl is-system-running", "running"))
        # Links answer a moment before boot-completed is set, as on a real device.
        poll_until(lambda: link.run(check, 10).stdout_text.strip() == expected, 5, what=f"{check} = {expected}")
        # A power cycle: /tmp is fresh.
        assert link.run("test -e /tmp/marker; echo $?", 10).stdout_text.strip() == "1"
        if observer is not None:
            console = load_persona(name).console
            last = console.kernel_messages[-1].encode()
            seen = read_until(observer, last, 10)
            went_down = seen.index(b"reboot: Restarting system")
            assert seen.index(console.banner.strip().splitlines()[0].encode(), went_down) < seen.rindex(last)
    finally:
        link.close()
        if observer is not None:
            observer.close()


def test_lab_down_leaves_no_process_behind(tmp_path: Path) -> None:
    inventory, _ = write_lab(tmp_path, only=("kylin-v10", "handset-hmos"))
    lab = Lab(inventory)
    lab.up()
    try:
        with pytest.raises(LabError, match="already up"):
            Lab(inventory).up()
        records = lab.records()
        assert records is not None and records.adb_server is not None
        pids = [p.pid for p in records.processes()]
        pids += [s["anchor_pid"] for s in lab.status()]
        assert all(start_time(pid) is not None for pid in pids)
    finally:
        stopped = Lab(inventory).down()  # another Lab object, as `harness lab down` would be
    assert sorted(stopped) == ["handset-hmos", "kylin-v10"]
    poll_until(lambda: all(start_time(pid) is None for pid in pids), 5, what="every lab process to be gone")
    assert not lab.records_path.exists()
    assert Lab(inventory).down() == []  # idempotent
    assert all(s["state"] == "down" for s in Lab(inventory).status())


def test_default_inventory_through_the_cli(tmp_path: Path, hdc_binaries: HdcBinaries) -> None:
    """The repository's devices.toml, on its fixed ports (its state dir in a temporary copy). Its hdc
    devices need the built hdc peers: waited for here, not inside `lab up`'s own timeout."""
    inventory = tmp_path / "devices.toml"
    shutil.copy(REPO / "devices.toml", inventory)
    config = parse_inventory(inventory.read_text(), inventory).lab
    ports = [config.adb_server_port, config.hdc_server_port] + [
        p for d in config.devices.values() for p in (d.ssh_port, d.adb_port, d.hdc_port, d.console_port) if p]
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} of the default lab is taken"
    try:
        up = harness_cli("lab", "up", "--inventory", str(inventory))
        assert up.returncode == 0, up.stderr
        status = harness_cli("lab", "status", "--inventory", str(inventory), "--json")
        assert status.returncode == 0, status.stderr
        states = {s["name"]: s for s in json.loads(status.stdout)}
        assert set(states) == set(OS_NAMES) | {"handset-ohos"}  # the hdc handset beside the five
        assert all(s["state"] == "up" and s["pid"] for s in states.values())
        devices = harness_cli("-i", str(inventory), "devices", "--json")
        assert devices.returncode == 0, devices.stdout + devices.stderr
    finally:
        down = harness_cli("lab", "down", "--inventory", str(inventory))
    assert down.returncode == 0 and "6 devices stopped" in down.stdout
    assert all(start_time(s["pid"]) is None for s in states.values())


BAD_LAB = [
    ('persona = "kylin-v10"', 'persona = "kylin-v11"', ["lab.devices.kylin-v10.persona", "did you mean 'kylin-v10'"]),
    ("boot_time = 0.3\n", "boot_time = 0.3\nfaults = { latency = 5 }\n", ["faults", "unknown fault 'latency'"]),
    ("boot_time = 0.3\n", "boot_time = 0.3\nbot_time = 1\n", ["bot_time", "did you mean 'boot_time'"]),
    ('state_dir = "state"\nadb_server = ', 'state_dir = "state"\nadb_server = 5037\n# ', ["adb_server", "5037"]),
]


@pytest.mark.parametrize(("old", "new", "words"), BAD_LAB)
def test_lab_section_errors_are_one_precise_line(tmp_path: Path, old: str, new: str, words: list[str]) -> None:
    inventory, _ = write_lab(tmp_path, only=("kylin-v10",))
    text = inventory.read_text()
    assert old in text
    inventory.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        parse_inventory(inventory.read_text(), inventory)
    message = str(err.value)
    assert "\n" not in message and str(inventory) in message
    for word in words:
        assert word in message
    out = harness_cli("lab", "up", "--inventory", str(inventory))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
