"""The lab over hdc, end to end through the CLI: `Lab` starts its own real hdc server and each device's
real hdcd (in the device's own network namespace); `harness devices`, `exec`, `push`, `pull` and `run`
reach the HarmonyOS NEXT handset (hdc only) and the OpenHarmony board (hdc beside its console); the
handset, declared as OpenHarmony, passes the os-services suite's OpenHarmony requirements over hdc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.hdc.build import HdcBinaries
from harness.lab.lab import Lab, _listening
from harness.lab.lab_records import start_time
from harness.waiting import free_port, poll_until

from .hdc_peers import hdc_binaries

__all__ = ["hdc_binaries"]
pytestmark = pytest.mark.peer("hdc")
REPO = Path(__file__).resolve().parents[1]


def write_inventory(folder: Path) -> Path:
    server, handset, board, console = (free_port() for _ in range(4))
    hdc = f'server = "127.0.0.1:{server}", client = "state/bin/hdc"'
    path = folder / "devices.toml"
    path.write_text(f"""
[lab]
state_dir = "state"
hdc_server = {server}

[devices.handset-ohos]
kind = "handset"
profile = "harmonyos"
hdc = {{ target = "127.0.0.1:{handset}", connect = "127.0.0.1:{handset}", {hdc} }}
declared = {{ os_name = "HarmonyOS", os_version = "5.0.0" }}
[lab.devices.handset-ohos]
persona = "handset-ohos"
boot_time = 0.3

[devices.ohos-rk3568]
kind = "board"
profile = "openharmony"
hdc = {{ target = "127.0.0.1:{board}", connect = "127.0.0.1:{board}", {hdc} }}
serial = {{ port = "state/tty/ohos-rk3568" }}
[lab.devices.ohos-rk3568]
persona = "ohos-rk3568"
boot_time = 0.3
console_port = {console}
""")
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, hdc_binaries: HdcBinaries) -> Iterator[Lab]:
    with Lab(write_inventory(tmp_path_factory.mktemp("hdc-lab"))) as the_lab:
        yield the_lab


def harness_cli(lab: Lab, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_LOCK_DIR": str(lab.config.state_dir / "locks")}
    return subprocess.run([sys.executable, "-m", "harness", "-i", str(lab.inventory_path), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


def test_devices_lists_both_over_hdc_with_their_identity(lab: Lab) -> None:
    out = harness_cli(lab, "devices", "--json")
    assert out.returncode == 0, out.stderr
    records = {r["name"]: r for r in json.loads(out.stdout)}
    handset, board = records["handset-ohos"], records["ohos-rk3568"]
    assert handset["reachable"] and board["reachable"], (handset["error"], board["error"])
    assert handset["transports"] == ["hdc"] and board["transports"] == ["hdc", "serial"]
    # HarmonyOS NEXT over hdc: read with `param` (its profile's [links.hdc]), not Android's getprop.
    assert (handset["identity"]["os_name"], handset["identity"]["os_version"]) == ("HarmonyOS", "5.0.0")
    assert handset["identity"]["model"] == "EXN-NX00"
    assert (board["identity"]["os_name"], board["identity"]["os_version"]) == ("OpenHarmony", "4.1.7.5")


def test_exec_gives_the_device_exit_code(lab: Lab) -> None:
    out = harness_cli(lab, "exec", "handset-ohos", "--", "echo on-device; exit 7")
    assert (out.returncode, out.stdout) == (7, "on-device\n"), out.stderr
    out = harness_cli(lab, "exec", "ohos-rk3568", "--via", "hdc", "--", "param get const.ohos.fullname")
    assert (out.returncode, out.stdout) == (0, "OpenHarmony-4.1.7.5\n"), out.stderr
    out = harness_cli(lab, "exec", "handset-ohos", "--timeout", "1", "--", "sleep 30")
    assert out.returncode == 124, out.stderr


def test_push_and_pull_through_the_cli(lab: Lab, tmp_path: Path) -> None:
    src = tmp_path / "payload.bin"
    src.write_bytes(os.urandom(200_000))
    out = harness_cli(lab, "push", "handset-ohos", str(src), "/data/local/tmp/payload.bin")
    assert out.returncode == 0, out.stderr
    out = harness_cli(lab, "pull", "handset-ohos", "/data/local/tmp/payload.bin", str(tmp_path / "back.bin"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()


def test_run_smoke_over_hdc(lab: Lab, tmp_path: Path) -> None:
    out = harness_cli(lab, "run", "smoke", "--device", "handset-ohos", "--junit", str(tmp_path / "j.xml"),
                      timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    junit = (tmp_path / "j.xml").read_text()
    assert 'failures="0"' in junit and 'errors="0"' in junit


def test_a_reboot_mid_suite_over_hdc(lab: Lab, tmp_path: Path) -> None:
    # The stability suite reboots the handset (`target boot`) several times, then goes on testing it.
    def boots() -> int:
        return next(int(d["boots"]) for d in lab.status() if d["name"] == "handset-ohos")

    before = boots()
    out = harness_cli(lab, "run", "stability", "--device", "handset-ohos", "--junit", str(tmp_path / "j.xml"),
                      timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    junit = (tmp_path / "j.xml").read_text()
    assert "test_reboot_cycles_within_budget" in junit and "test_kernel_log_clean" in junit
    assert 'failures="0"' in junit and 'errors="0"' in junit
    assert boots() > before  # really power-cycled, over hdc


def journal_outcomes(run_dir: Path) -> dict[str, tuple[str, str]]:
    """(outcome, message) by requirement id, from a run's journals."""
    found: dict[str, tuple[str, str]] = {}
    for journal in sorted((run_dir / "journal").glob("*.jsonl")):
        for line in journal.read_text().splitlines():
            record = json.loads(line)
            if record.get("type") == "result":
                for req in record["requirements"]:
                    found[req] = (record["outcome"], record.get("message") or "")
    return found


def test_openharmony_services_of_the_handset_over_hdc(lab: Lab, tmp_path: Path) -> None:
    # The same handset, as a bench that certifies it as OpenHarmony would declare it: the os-services
    # suite's OpenHarmony requirements read samgr, init, hilog, the bundle manager and HDF over hdc.
    text = lab.inventory_path.read_text()
    assert text.count('profile = "harmonyos"') == 1
    inventory = lab.inventory_path.with_name("openharmony.toml")
    inventory.write_text(text.replace('profile = "harmonyos"', 'profile = "openharmony"'))
    env = {**os.environ, "HARNESS_LOCK_DIR": str(lab.config.state_dir / "locks")}
    out = subprocess.run([sys.executable, "-m", "harness", "-i", str(inventory), "run", "os-services", "--device",
                          "handset-ohos", "--reports", str(tmp_path), "--run-id", "oss"],
                         capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    outcomes = journal_outcomes(tmp_path / "oss")
    ohos = {req: o for req, o in outcomes.items() if req.startswith("OSS-OH-")}
    assert set(ohos) == {"OSS-OH-SA-001", "OSS-OH-PARAM-001", "OSS-OH-PARAM-002", "OSS-OH-INIT-001",
                         "OSS-OH-HILOG-001", "OSS-OH-BM-001", "OSS-OH-HDF-001"}
    assert all(outcome == "PASS" for outcome, _ in ohos.values()), ohos
    # The Linux distributions' requirements do not apply to an OpenHarmony handset: each a SKIP saying so.
    others = {req: o for req, o in outcomes.items() if req not in ohos}
    assert others and all(o == "SKIP" and "not applicable to profile openharmony" in m
                          for o, m in others.values()), others


def hdc_server_pid(supervisor: int) -> int:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    assert len(children) == 1
    return int(children[0])


def test_lab_records_restarts_and_stops_its_hdc_server(tmp_path: Path, hdc_binaries: HdcBinaries) -> None:
    lab = Lab(write_inventory(tmp_path))
    lab.up()
    try:
        records = lab.records()
        assert records is not None and records.hdc_server is not None and records.hdc_server.alive
        assert records.hdc_server_port == lab.config.hdc_server_port != 8710
        supervisor = records.hdc_server
        first = hdc_server_pid(supervisor.pid)
        # The real server can die (it aborts on a libuv assertion when a session drops at a bad moment):
        # the lab starts it again and the transport connects its device again by itself.
        os.kill(first, signal.SIGKILL)
        poll_until(lambda: start_time(first) is None, 10, what="the killed server to be gone")
        poll_until(lambda: _listening(lab.config.hdc_server_port), 20, what="the server to be back")
        second = hdc_server_pid(supervisor.pid)
        assert second != first
        out = harness_cli(lab, "exec", "handset-ohos", "--", "echo back")  # a server that knows no device
        assert (out.returncode, out.stdout) == (0, "back\n"), out.stderr
    finally:
        lab.down()
    assert start_time(supervisor.pid) is None and start_time(second) is None  # both gone with the lab
