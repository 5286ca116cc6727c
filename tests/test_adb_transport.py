"""AdbTransport against the real adb server connected to the simulated adbd, with shell_v2 on and off."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import CommandTimeout, ConnectFailed, ConnectionLost, NotReady, TransferError
from harness.lab.adb_server import AdbServer
from harness.lab.adbd import SimulatedAdbd
from harness.specs import AdbSpec
from harness.transports.adb import AdbTransport, _split_marker_tail
from harness.transports.base import Transport
from harness.waiting import poll_until

from .adb_peers import adb_server, connected_adbd

__all__ = ["adb_server"]


@pytest.fixture(scope="module", params=[True, False], ids=["shell_v2", "legacy"])
def device(request: pytest.FixtureRequest, adb_server: AdbServer) -> Iterator[SimulatedAdbd]:
    with connected_adbd(adb_server, shell_v2=request.param) as adbd:
        yield adbd


def transport_for(server: AdbServer, adbd: SimulatedAdbd) -> AdbTransport:
    return AdbTransport(AdbSpec(serial=adbd.serial, server_port=server.port, connect=adbd.serial))


@pytest.fixture
def dut(adb_server: AdbServer, device: SimulatedAdbd) -> Iterator[AdbTransport]:
    t = transport_for(adb_server, device)
    yield t
    t.close()


def test_is_a_transport_and_knows_shell_v2(dut: AdbTransport, device: SimulatedAdbd) -> None:
    assert isinstance(dut, Transport) and dut.kind == "adb"
    assert dut.shell_v2 is device.shell_v2


@pytest.mark.parametrize("code", [0, 1, 127, 255])
def test_exit_codes(dut: AdbTransport, code: int) -> None:
    result = dut.run(f"echo before; exit {code}")
    assert (result.exit_code, result.stdout) == (code, b"before\n")


def test_missing_command_is_127(dut: AdbTransport) -> None:
    assert dut.run("no-such-command-xyz").exit_code == 127


def test_stderr(dut: AdbTransport, device: SimulatedAdbd) -> None:
    result = dut.run("echo out; echo err >&2")
    assert result.stderr_separate is device.shell_v2
    if device.shell_v2:
        assert (result.stdout, result.stderr) == (b"out\n", b"err\n")
    else:
        assert sorted(result.stdout.splitlines()) == [b"err", b"out"] and result.stderr == b""


def test_output_without_trailing_newline_and_marker_lookalikes(dut: AdbTransport) -> None:
    result = dut.run("printf 'no newline'")
    assert result.stdout == b"no newline"
    result = dut.run("printf 'HARNESS_EXIT_\\n\\nHARNESS_EXIT_1\\n'; exit 4")
    assert (result.exit_code, result.stdout) == (4, b"HARNESS_EXIT_\n\nHARNESS_EXIT_1\n")


def test_ten_megabytes_intact(dut: AdbTransport, device: SimulatedAdbd) -> None:
    blob = os.urandom(10 * 1000 * 1000)
    (device.ctx.scratch / "ten.bin").write_bytes(blob)
    seen: list[int] = []
    result = dut.run("cat ten.bin", timeout=30, on_output=lambda name, chunk: seen.append(len(chunk)))
    assert len(result.stdout) == len(blob) and sum(seen) == len(blob)
    assert hashlib.sha256(result.stdout).digest() == hashlib.sha256(blob).digest()


def test_binary_and_non_utf8(dut: AdbTransport) -> None:
    result = dut.run("printf '\\000\\377\\376\\n\\r\\033[0m\\351t\\351'")
    assert result.stdout == b"\x00\xff\xfe\n\r\x1b[0m\xe9t\xe9"
    assert "\ufffd" in result.stdout_text


def test_output_is_bounded(dut: AdbTransport) -> None:
    result = dut.run("head -c 100000 /dev/zero", max_output=1000)
    assert len(result.stdout) == 1000 and result.truncated and result.exit_code == 0


def test_timeout_kills_remote_command_and_transport_stays_usable(
    dut: AdbTransport, device: SimulatedAdbd
) -> None:
    with pytest.raises(CommandTimeout) as info:
        dut.run("echo $$; exec sleep 60", timeout=1.0)
    assert info.value.usable
    pid = int(info.value.stdout.strip())
    poll_until(lambda: not Path(f"/proc/{pid}").exists(), 10, what="timed-out command to be killed")
    assert dut.run("echo next").stdout == b"next\n"


def test_connection_dropped_mid_output(adb_server: AdbServer) -> None:
    with connected_adbd(adb_server, shell_v2=True) as adbd:
        dut = transport_for(adb_server, adbd)
        assert dut.run("true").exit_code == 0
        adbd.faults.drop_mid_output_after = 100_000
        with pytest.raises((ConnectionLost, ConnectFailed)) as info:
            dut.run("cat /dev/zero | head -c 50000000", timeout=20)
        assert "127.0.0.1" in str(info.value)


@pytest.mark.parametrize("shell_v2", [True, False], ids=["shell_v2", "legacy"])
def test_connection_dropped_after_n_commands(adb_server: AdbServer, shell_v2: bool) -> None:
    with connected_adbd(adb_server, shell_v2=shell_v2) as adbd:
        dut = transport_for(adb_server, adbd)
        adbd.faults.drop_after_commands = 1
        assert dut.run("echo one").stdout == b"one\n"
        with pytest.raises((ConnectionLost, ConnectFailed)):
            dut.run("echo two", timeout=10)


def test_unknown_serial_is_connect_failed(adb_server: AdbServer) -> None:
    dut = AdbTransport(AdbSpec(serial="NOSUCHDEVICE", server_port=adb_server.port))
    with pytest.raises(ConnectFailed, match="not found"):
        dut.run("true")


def test_push_pull_round_trip(dut: AdbTransport, device: SimulatedAdbd, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    remote = str(device.ctx.scratch / "up" / "src.bin")
    dut.push(src, remote)
    assert hashlib.sha256(Path(remote).read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    back = tmp_path / "back.bin"
    dut.pull(remote, back)
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()


def test_pull_missing_file_is_transfer_error(dut: AdbTransport, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="does not exist"):
        dut.pull("/no/such/file", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_push_into_unwritable_place_is_transfer_error(dut: AdbTransport, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    with pytest.raises(TransferError):
        dut.push(src, "/proc/harness-cannot-write-here")


@pytest.mark.parametrize("shell_v2", [True, False], ids=["shell_v2", "legacy"])
def test_reboot_and_wait_ready(adb_server: AdbServer, shell_v2: bool) -> None:
    with connected_adbd(adb_server, shell_v2=shell_v2, boot_time=0.4, boot_complete_delay=0.4) as adbd:
        dut = transport_for(adb_server, adbd)
        dut.reboot()
        assert adbd.ctx.properties.get("sys.boot_completed") is None
        dut.wait_ready(timeout=20)
        assert adbd.boots == 2
        assert dut.run("getprop sys.boot_completed").stdout == b"1\n"


def test_wait_ready_gives_not_ready_when_boot_never_completes(adb_server: AdbServer) -> None:
    with connected_adbd(adb_server, boot_time=0.2, boot_complete_delay=3600) as adbd:
        dut = transport_for(adb_server, adbd)
        dut.reboot()
        with pytest.raises(NotReady, match="sys.boot_completed"):
            dut.wait_ready(timeout=3)


def test_marker_tail_split() -> None:
    marker = b"HARNESS_EXIT_ab"
    assert _split_marker_tail(b"abc\nHARNESS_EX", marker) == (b"abc", b"\nHARNESS_EX")
    assert _split_marker_tail(b"abc\n", marker) == (b"abc", b"\n")
    assert _split_marker_tail(b"abc\nxyz", marker) == (b"abc\nxyz", b"")
    assert _split_marker_tail(b"a\nHARNESS_EXIT_ab12\n", marker) == (b"a", b"\nHARNESS_EXIT_ab12\n")
