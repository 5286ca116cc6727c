"""Two `harness lab up` on one lab at the same moment (two terminals, a script started twice): one lab
comes up, the other command says it is up already, and `lab down` then stops every process either of
them started. Real CLI processes on a private lab (free ports, its own state dir)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from harness.waiting import poll_until

from .lab_inventory import write_lab

REPO = Path(__file__).resolve().parents[1]


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO)


def processes_of(folder: Path, adb_port: int) -> list[str]:
    """Processes started for this lab: device processes name its inventory; the adb server its port."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = b" ".join(argv).decode(errors="replace")
        if str(folder) in text or (b"-P" in argv and str(adb_port).encode() in argv and b"server" in argv):
            found.append(f"{entry}: {text}")
    return found


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_two_lab_ups_at_once_give_one_lab_and_down_stops_all_of_it(tmp_path: Path) -> None:
    inventory, ports = write_lab(tmp_path, only=("kylin-v10", "handset-hmos"))  # a device and an adb server
    argv = [sys.executable, "-m", "harness", "lab", "up", "--inventory", str(inventory)]
    ups = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
           for _ in range(2)]
    try:
        done = [(p.returncode, out, err) for p in ups for out, err in [p.communicate(timeout=120)]]
        codes = sorted(code for code, _, _ in done)
        assert codes == [0, 3], done
        loser = next(err for code, _, err in done if code == 3)
        assert len(loser.strip().splitlines()) == 1 and "already up" in loser, loser
        status = harness("lab", "status", "--inventory", str(inventory), "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        assert {s["name"]: s["state"] for s in json.loads(status.stdout)} == {"kylin-v10": "up",
                                                                             "handset-hmos": "up"}
    finally:
        down = harness("lab", "down", "--inventory", str(inventory))
    assert down.returncode == 0 and "2 devices stopped" in down.stdout, down.stdout + down.stderr
    poll_until(lambda: not processes_of(tmp_path, ports.adb_server), 10,
               what="every process of either `lab up` to be gone")
    assert not listening(ports.adb_server) and not listening(ports.kylin_ssh)
    # Nothing left to block the next start.
    again = harness("lab", "up", "--inventory", str(inventory))
    try:
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        assert harness("lab", "down", "--inventory", str(inventory)).returncode == 0
    poll_until(lambda: not processes_of(tmp_path, ports.adb_server), 10, what="the lab to be gone")


def test_a_failed_lab_up_leaves_no_process_behind(tmp_path: Path) -> None:
    inventory, ports = write_lab(tmp_path, only=("kylin-v10", "handset-hmos"))
    with socket.socket() as taken:  # kylin's SSH port is someone else's: its device cannot start
        taken.bind(("127.0.0.1", ports.kylin_ssh))
        taken.listen()
        up = harness("lab", "up", "--inventory", str(inventory))
    assert up.returncode == 3, up.stdout + up.stderr
    assert len(up.stderr.strip().splitlines()) == 1, up.stderr
    # Whatever had started (the adb server, the other device) is stopped, recorded or not.
    poll_until(lambda: not processes_of(tmp_path, ports.adb_server), 10,
               what="every process of the failed `lab up` to be gone")
    assert not listening(ports.adb_server) and not listening(ports.handset_adb)
    assert harness("lab", "status", "--inventory", str(inventory)).returncode == 3  # down, and says so
