"""harness devices / exec / push / pull through the real CLI, against a real OpenSSH sshd."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.peers.sshd import OpenSshServer
from harness.waiting import free_port, poll_until


@pytest.fixture(scope="module")
def sshd() -> Iterator[OpenSshServer]:
    with OpenSshServer() as server:
        yield server


@pytest.fixture
def inventory(tmp_path: Path, sshd: OpenSshServer) -> Path:
    path = tmp_path / "devices.toml"
    path.write_text(
        f'[devices.board]\nkind = "board"\nprofile = "generic-linux"\n'
        f'ssh = {{ host = "127.0.0.1", port = {sshd.port}, user = "{sshd.user}", '
        f'key_file = "{sshd.client_key}", host_key = "{sshd.fingerprint}" }}\n\n'
        f'[devices.gone]\nkind = "board"\nprofile = "openeuler"\n'
        f'ssh = {{ host = "127.0.0.1", port = {free_port()}, user = "root", connect_timeout = 2 }}\n'
    )
    return path


def harness(inventory: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "harness", "-i", str(inventory), *args],
                          capture_output=True, timeout=timeout)


def test_exec_keeps_stdout_stderr_and_the_remote_exit_code(inventory: Path) -> None:
    out = harness(inventory, "exec", "board", "--", "printf out; printf err >&2; exit 3")
    assert (out.returncode, out.stdout, out.stderr) == (3, b"out", b"err")
    assert harness(inventory, "exec", "board", "--", "true").returncode == 0


def test_exec_with_several_arguments_keeps_each_one_whole(inventory: Path) -> None:
    # argv after `--` is preserved, as docker exec / kubectl exec users expect: quoted one by one.
    out = harness(inventory, "exec", "board", "--", "sh", "-c", "exit 7")
    assert out.returncode == 7, out.stderr
    out = harness(inventory, "exec", "board", "--", "printf", "[%s]\\n", "a b", "$HOME", "it's", "*")
    assert (out.returncode, out.stdout) == (0, b"[a b]\n[$HOME]\n[it's]\n[*]\n")


def test_exec_with_one_argument_runs_it_as_a_shell_command_line(inventory: Path) -> None:
    out = harness(inventory, "exec", "board", "--", "echo one | tr o 0; exit 4")
    assert (out.returncode, out.stdout) == (4, b"0ne\n")


def test_exec_streams_output_as_it_arrives(inventory: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # the device side blocks reading it; we write only once output arrived
    os.mkfifo(gate)
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "-i", str(inventory), "exec", "board", "--",
         f"echo first; read x < {gate}; echo second"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"first\n"  # before the command has finished
        with open(gate, "w") as fifo:
            fifo.write("go\n")
        rest, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert rest == b"second\n" and proc.returncode == 0


def test_exec_timeout_is_124_and_stops_the_command(inventory: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    out = harness(inventory, "exec", "board", "--timeout", "1", "--", f"echo $$ > {pidfile}; exec sleep 1000")
    assert out.returncode == 124 and b"ran past 1s and was stopped" in out.stderr
    pid = int(pidfile.read_text())
    poll_until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, what="the remote sleep to stop")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_exec_on_an_unreachable_device_is_255_in_one_line(inventory: Path) -> None:
    out = harness(inventory, "exec", "gone", "--", "true")
    assert out.returncode == 255
    assert len(out.stderr.decode().strip().splitlines()) == 1 and b"gone" in out.stderr


def test_push_pull_round_trip_and_a_failed_pull_leaves_nothing(inventory: Path, tmp_path: Path) -> None:
    src = tmp_path / "blob"
    src.write_bytes(os.urandom(2 * 1024 * 1024))
    remote = str(tmp_path / "remote-blob")
    assert harness(inventory, "push", "board", str(src), remote).returncode == 0
    back = tmp_path / "back"
    assert harness(inventory, "pull", "board", remote, str(back)).returncode == 0
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    missing = tmp_path / "never"
    out = harness(inventory, "pull", "board", "/no/such/file", str(missing))
    assert out.returncode == 255 and b"/no/such/file" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if "never" in p.name) == []  # nothing half-written


def test_devices_json_reports_identity_or_why_not(inventory: Path) -> None:
    out = harness(inventory, "devices", "--json", "--timeout", "5")
    assert out.returncode == 3  # one device is unreachable: lab trouble
    records = {r["name"]: r for r in json.loads(out.stdout)}
    board, gone = records["board"], records["gone"]
    assert board["reachable"] is True and board["error"] is None
    assert board["identity"]["kernel"] == os.uname().release and board["identity"]["arch"] == os.uname().machine
    assert board["transports"] == ["ssh"] and board["profile"] == "generic-linux"
    assert gone["reachable"] is False and gone["error"] and gone["identity"] is None
