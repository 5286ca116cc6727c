"""The simulated adbd is right when the REAL adb client and server say so: `adb shell`, `adb push`,
`adb pull`, `adb reboot` against it, with and without shell_v2."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from harness.lab.adbd.messages import (
    A_CNXN,
    A_VERSION,
    Message,
    MessageReader,
    ProtocolError,
    encode,
    parse_banner,
)
from harness.lab.adbd.server import SimulatedAdbd
from harness.lab.peers.adb_server import AdbServer
from harness.transports.adb_wire import ShellPacketReader, shell_packet
from harness.waiting import poll_until

from .adb_peers import adb_server, connected_adbd, device

__all__ = ["adb_server", "device"]


def adb(server: AdbServer, device: SimulatedAdbd, *args: str) -> subprocess.CompletedProcess[bytes]:
    return server.cli("-s", device.serial, *args)


# Pure framing, no peer needed.


def test_message_reader_reassembles_split_messages_and_rejects_bad_magic() -> None:
    raw = encode(Message(A_CNXN, A_VERSION, 4096, b"host::features=shell_v2")) * 2
    reader = MessageReader()
    got = [m for i in range(len(raw)) for m in reader.feed(raw[i : i + 1])]
    assert [m.data for m in got] == [b"host::features=shell_v2"] * 2
    bad = bytearray(raw[:24])
    bad[20] ^= 1
    with pytest.raises(ProtocolError):
        MessageReader().feed(bytes(bad))


def test_shell_packets_survive_any_split() -> None:
    raw = shell_packet(1, b"out") + shell_packet(2, b"") + shell_packet(3, b"\x07")
    reader = ShellPacketReader()
    got = [p for i in range(0, len(raw), 3) for p in reader.feed(raw[i : i + 3])]
    assert got == [(1, b"out"), (2, b""), (3, b"\x07")]


# Against the real adb client and server.


def test_devices_lists_banner_and_features(adb_server: AdbServer, device: SimulatedAdbd) -> None:
    listing = adb_server.cli("devices", "-l").stdout.decode()
    line = next(x for x in listing.splitlines() if x.startswith(device.serial))
    assert "device" in line.split() and "model:Simulated_Phone" in line
    features = adb(adb_server, device, "features").stdout.decode().split()
    assert ("shell_v2" in features) is device.shell_v2
    assert "stat_v2" not in features and "delayed_ack" not in features
    system, fields = parse_banner(b"device::ro.product.model=X;features=shell_v2")
    assert system == "device" and fields["features"] == "shell_v2"


def test_shell_exit_code_and_streams(adb_server: AdbServer, device: SimulatedAdbd) -> None:
    out = adb(adb_server, device, "shell", "echo out; echo err >&2; exit 3")
    if device.shell_v2:
        assert (out.returncode, out.stdout, out.stderr) == (3, b"out\n", b"err\n")
    else:  # the legacy shell has no exit status and merges stderr: the client reports 0
        assert out.returncode == 0
        assert sorted(out.stdout.splitlines()) == [b"err", b"out"]


def test_shell_runs_in_scratch_dir_with_getprop(adb_server: AdbServer, device: SimulatedAdbd) -> None:
    out = adb(adb_server, device, "shell", "pwd; getprop ro.product.model; getprop no.such.prop dflt")
    assert out.stdout.decode().splitlines() == [str(device.ctx.scratch), "Simulated Phone", "dflt"]


def test_large_binary_output_intact(adb_server: AdbServer, device: SimulatedAdbd) -> None:
    blob = os.urandom(3 * 1024 * 1024)
    (device.ctx.scratch / "blob").write_bytes(blob)
    out = adb(adb_server, device, "shell", "cat blob")
    assert hashlib.sha256(out.stdout).hexdigest() == hashlib.sha256(blob).hexdigest()


def test_push_pull_round_trip(adb_server: AdbServer, device: SimulatedAdbd, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(2 * 1024 * 1024 + 17))
    remote = str(device.ctx.scratch / "new" / "dir" / "f.bin")
    assert adb(adb_server, device, "push", str(src), remote).returncode == 0
    assert Path(remote).read_bytes() == src.read_bytes()
    back = tmp_path / "back.bin"
    assert adb(adb_server, device, "pull", remote, str(back)).returncode == 0
    assert back.read_bytes() == src.read_bytes()
    listing = adb(adb_server, device, "ls", str(device.ctx.scratch / "new" / "dir")).stdout.decode()
    assert "f.bin" in listing


def test_pull_missing_file_fails(adb_server: AdbServer, device: SimulatedAdbd, tmp_path: Path) -> None:
    out = adb(adb_server, device, "pull", "/no/such/file", str(tmp_path / "x"))
    assert out.returncode != 0 and b"does not exist" in out.stderr
    assert not (tmp_path / "x").exists()


def test_client_kill_stops_the_remote_command(adb_server: AdbServer, device: SimulatedAdbd) -> None:
    pidfile = device.ctx.scratch / "hang.pid"
    proc = subprocess.Popen(
        [str(adb_server.binary), "-P", str(adb_server.port), "-s", device.serial, "shell",
         "echo $$ > hang.pid; exec sleep 60"],
        env=adb_server.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        text = poll_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 10, what="pid")
        pid = int(str(text))
    finally:
        proc.kill()  # the client goes away: the server sends CLSE, adbd kills the process group
        proc.wait()
    poll_until(lambda: not Path(f"/proc/{pid}").exists(), 10, what="remote sleep to be killed")


def test_reboot_drops_then_comes_back_booting(adb_server: AdbServer) -> None:
    with connected_adbd(adb_server, boot_time=0.3, boot_complete_delay=0.5) as adbd:
        assert adb(adb_server, adbd, "reboot").returncode == 0
        assert adbd.ctx.properties.get("sys.boot_completed") is None
        # The adb server's own reconnect backs off; a fresh `adb connect` brings it back sooner.
        poll_until(lambda: b"connected to" in adb_server.cli("connect", adbd.serial).stdout, 10)
        adb_server.cli("-s", adbd.serial, "wait-for-device", timeout=10).check_returncode()
        assert adbd.boots == 2
        poll_until(
            lambda: adb(adb_server, adbd, "shell", "getprop sys.boot_completed").stdout.strip() == b"1",
            10,
            what="boot completed",
        )
