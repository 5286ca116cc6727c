"""The stability suite's kdump capture and memory check on the emulated arm64 board, started with kdump
(QemuBoard(kdump=True)): Debian's real arm64 kernel with crashkernel=256M, Debian 12's kexec-tools and
makedumpfile, a crash kernel loaded with `kexec -p`. The suite forces a real crash (sysrq c) under TCG;
the crash kernel boots, makedumpfile and vmcore-dmesg save the dump and the log to /var/crash on the
board's virtio disk, the board reboots, and the suite finds them. Pins what that gives, requirement by
requirement, and that the memory check judges the board's real sshd while saying what the busybox
userland lacks (no systemd, no journald)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.lab.qemu import QemuBoard, build_image, default_state_dir
from harness.lab.qemu.board import QEMU

# One boot, a crash, the crash kernel's capture and a second boot under TCG on a shared machine.
pytestmark = [pytest.mark.qemu, pytest.mark.peer("qemu"), pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parent.parent
DEVICE = "qemu-kdump"
PASSWORD_ENV = "HARNESS_QEMU_KDUMP_PW"
# The memory check first: it samples the board before the crash takes it down.
FILES = ("suites/stability/test_memleak.py", "suites/stability/test_kdump.py")


@dataclass(frozen=True)
class KdumpRun:
    outcomes: dict[str, str]
    messages: dict[str, str]
    metrics: dict[str, dict[str, float]]
    console: str
    seconds: float
    output: str


def inventory_text(board: QemuBoard) -> str:
    entry = board.inventory_entry(password_env=PASSWORD_ENV)
    entry["declared"]["capabilities"] = ["kdump-capture"]
    lines = [f"[devices.{DEVICE}]"] + [f"{k} = {json.dumps(v)}" for k, v in entry.items()
                                       if not isinstance(v, dict)]
    for table, values in entry.items():
        if isinstance(values, dict):
            lines.append(f"[devices.{DEVICE}.{table}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def kdump_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KdumpRun]:
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (scripts/system-deps.sh installs it)")
    work = tmp_path_factory.mktemp("qemu-kdump")
    state = default_state_dir()
    with QemuBoard(state, name="kdump-board", image=build_image(state), memory_mb=1024, kdump=True,
                   boot_timeout=180, board_dir=work / "board") as board:  # its own: two runs never share a disk
        inventory = work / "devices.toml"
        inventory.write_text(inventory_text(board))
        run_dir = work / "run"
        argv = [sys.executable, "-m", "pytest", *FILES, "--device", DEVICE, "--inventory", str(inventory),
                "--harness-run-dir", str(run_dir), "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                # The crash fixture runs for minutes under TCG: this checkout's 120 s pytest-timeout is
                # for its own tests (a `harness run` worker has its own --test-timeout).
                "-p", "no:timeout"]
        env = {**os.environ, PASSWORD_ENV: board.password}
        env.pop("HARNESS_REQUIRE_PEERS", None)  # the suites' verdicts, not missing peers
        started = time.monotonic()
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        seconds = time.monotonic() - started
        console = board.console_tail(1 << 22)
    outcomes: dict[str, str] = {}
    messages: dict[str, str] = {}
    metrics: dict[str, dict[str, float]] = {}
    for journal in sorted((run_dir / "journal").glob("*.jsonl")):
        for line in journal.read_text().splitlines():
            record = json.loads(line)
            if record.get("type") == "result":
                for req in record["requirements"]:
                    outcomes[req] = record["outcome"]
                    messages[req] = record.get("message") or ""
                    metrics[req] = {m["name"]: m["value"] for m in record.get("metrics") or []}
    yield KdumpRun(outcomes, messages, metrics, console, seconds, proc.stdout[-3000:] + proc.stderr[-3000:])


def test_a_real_crash_is_captured_by_the_crash_kernel(kdump_run: KdumpRun) -> None:
    for req in ("STAB-KDUMP-001", "STAB-KDUMP-002", "STAB-KDUMP-003"):
        assert kdump_run.outcomes.get(req) == "PASS", (req, kdump_run.outcomes, kdump_run.messages,
                                                       kdump_run.output)
    # The crash, the crash kernel's capture and the reboot really happened, in that order.
    console = kdump_run.console
    marks = ["sysrq: Trigger a crash", "Starting crashdump kernel", "kdump: capturing /proc/vmcore",
             "kdump: saved /var/crash/127.0.0.1-", "kdump: saved /var/crash/", "/vmcore-dmesg.txt",
             "kdump: /var/crash written to /dev/vda", "reboot: Restarting system", "kdump: crash kernel loaded"]
    at = 0
    for mark in marks:
        found = console.find(mark, at)
        assert found >= 0, (mark, console[at:at + 2000])
        at = found


def test_memory_check_judges_sshd_and_names_what_busybox_lacks(kdump_run: KdumpRun) -> None:
    assert kdump_run.outcomes.get("STAB-MEM-001") == "FAIL", kdump_run.output
    message = kdump_run.messages["STAB-MEM-001"]
    assert message.startswith("systemd: not running (no process named 'systemd' in /proc); systemd-journald: "
                              "not running (no process named 'systemd-journal' in /proc) (steady: sshd (pid "), message
    assert "RssAnon" in message, message
    assert kdump_run.metrics["STAB-MEM-001"]["memory_growth_sshd"] < 512, kdump_run.metrics

