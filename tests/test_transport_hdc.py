"""HdcTransport against the real hdc server and the real hdcd (inside a simulated HarmonyOS NEXT handset's
own namespaces). Mirrors the ADB transport's contract tests (test_adb_transport.py) case for case where
the contract is the same; hdc's own differences (merged stderr, files by the real client, `tconn`) are
said where they are tested. Named to run late: the peers' first build overlaps the earlier tests."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import CommandTimeout, ConnectFailed, ConnectionLost, NotReady, TransferError
from harness.lab.device.simulated import SimulatedDevice
from harness.lab.faults import Faults
from harness.lab.hdc.build import HdcBinaries
from harness.lab.hdc.server import HdcServer
from harness.specs import HdcSpec
from harness.transports.base import Transport
from harness.transports.hdc import HdcTransport
from harness.waiting import free_port, poll_until

from .hdc_peers import hdc_binaries, hdc_device, hdc_server, transport_for

__all__ = ["hdc_binaries", "hdc_server"]
pytestmark = pytest.mark.peer("hdc")


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory, hdc_server: HdcServer,
           hdc_binaries: HdcBinaries) -> Iterator[SimulatedDevice]:
    with hdc_device(tmp_path_factory.mktemp("hdc-dev"), hdc_server, hdc_binaries) as dev:
        yield dev


@pytest.fixture
def dut(device: SimulatedDevice) -> Iterator[HdcTransport]:
    t = transport_for(device)
    yield t
    t.close()


def on_device(device: SimulatedDevice, path: str) -> Path:
    return device.sandbox.host_path(path)


def test_is_a_transport(dut: HdcTransport) -> None:
    assert isinstance(dut, Transport) and dut.kind == "hdc"
    assert dut.state() == "Connected"


@pytest.mark.parametrize("code", [0, 1, 127, 255])
def test_exit_codes(dut: HdcTransport, code: int) -> None:
    result = dut.run(f"echo before; exit {code}")
    assert (result.exit_code, result.stdout) == (code, b"before\n")


def test_missing_command_is_127(dut: HdcTransport) -> None:
    assert dut.run("no-such-command-xyz").exit_code == 127


def test_stderr_is_merged_and_said_so(dut: HdcTransport) -> None:
    # hdcd gives the command one pipe for both streams: merged, and the result says it.
    result = dut.run("echo out; echo err >&2")
    assert result.stderr_separate is False and result.stderr == b""
    assert sorted(result.stdout.splitlines()) == [b"err", b"out"]


def test_multi_line_commands_background_jobs_and_comments(dut: HdcTransport) -> None:
    result = dut.run("a=1\nif [ $a = 1 ]; then echo one; fi\ntrue & # a trailing job and comment")
    assert (result.exit_code, result.stdout) == (0, b"one\n")
    assert dut.run("exec false").exit_code == 1


def test_output_without_trailing_newline_and_marker_lookalikes(dut: HdcTransport) -> None:
    assert dut.run("printf 'no newline'").stdout == b"no newline"
    result = dut.run("printf 'HARNESS_EXIT_\\n\\nHARNESS_EXIT_1\\nHARNESS_PID_ 4\\n'; exit 4")
    assert (result.exit_code, result.stdout) == (4, b"HARNESS_EXIT_\n\nHARNESS_EXIT_1\nHARNESS_PID_ 4\n")


def test_commands_do_not_read_their_own_output(dut: HdcTransport) -> None:
    # hdcd's child has the output pipe as its stdin too: a `cat` must see end-of-file, not itself.
    result = dut.run("echo x; cat; echo done", timeout=10)
    assert (result.exit_code, result.stdout) == (0, b"x\ndone\n")


def test_ten_megabytes_intact(dut: HdcTransport, device: SimulatedDevice) -> None:
    blob = os.urandom(10 * 1000 * 1000)
    on_device(device, "/data/local/tmp/ten.bin").write_bytes(blob)
    seen: list[int] = []
    result = dut.run("cat /data/local/tmp/ten.bin", timeout=60,
                     on_output=lambda name, chunk: seen.append(len(chunk)))
    assert len(result.stdout) == len(blob) and sum(seen) == len(blob)
    assert hashlib.sha256(result.stdout).digest() == hashlib.sha256(blob).digest()


def test_binary_and_non_utf8(dut: HdcTransport) -> None:
    result = dut.run("printf '\\000\\377\\376\\n\\r\\033[0m\\351t\\351'")
    assert result.stdout == b"\x00\xff\xfe\n\r\x1b[0m\xe9t\xe9"
    assert "\ufffd" in result.stdout_text


def test_output_is_bounded(dut: HdcTransport) -> None:
    result = dut.run("head -c 100000 /dev/zero", max_output=1000)
    assert len(result.stdout) == 1000 and result.truncated and result.exit_code == 0


def test_timeout_kills_remote_command_and_transport_stays_usable(dut: HdcTransport) -> None:
    with pytest.raises(CommandTimeout) as info:
        dut.run("echo $$; sleep 60 & sleep 61; echo never", timeout=1.0)
    assert info.value.usable and b"never" not in info.value.stdout
    pid = int(info.value.stdout.strip())
    # Both sleeps (the job and the foreground one) are gone, not only the shell hdcd signals.
    def gone() -> bool:
        return dut.run(f"kill -0 -{pid} 2>/dev/null; echo $?").stdout == b"1\n"  # no process in its group
    poll_until(gone, 10, interval=0.1, what="the timed-out command's processes to be killed")
    assert dut.run("echo next").stdout == b"next\n"


def test_unknown_target_is_connect_failed(hdc_server: HdcServer) -> None:
    dut = HdcTransport(HdcSpec(target="NOSUCHDEVICE", server_port=hdc_server.port))
    with pytest.raises(ConnectFailed, match="[Nn]ot match target|[Nn]ot found"):
        dut.run("true")


def test_no_server_is_a_typed_error_and_none_is_started() -> None:
    port = free_port()
    dut = HdcTransport(HdcSpec(target="127.0.0.1:1", server_port=port))
    with pytest.raises(ConnectFailed, match=rf"hdc server 127\.0\.0\.1:{port} not reachable.*never starts one"):
        dut.run("true")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # still nothing listens there


def test_push_pull_round_trip(dut: HdcTransport, device: SimulatedDevice, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    dut.push(src, "/data/local/tmp/up/src.bin")
    remote = on_device(device, "/data/local/tmp/up/src.bin")
    assert hashlib.sha256(remote.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    assert [p.name for p in remote.parent.iterdir()] == ["src.bin"]  # no partial left behind
    back = tmp_path / "back.bin"
    dut.pull("/data/local/tmp/up/src.bin", back)
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.bin", "src.bin"]


def test_pull_missing_file_is_transfer_error(dut: HdcTransport, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="does not exist"):
        dut.pull("/no/such/file", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_push_into_unwritable_place_is_transfer_error(dut: HdcTransport, device: SimulatedDevice,
                                                      tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    with pytest.raises(TransferError):
        dut.push(src, "/system/harness-cannot-write-here")  # /system is read-only on the device
    assert not on_device(device, "/system/harness-cannot-write-here").exists()


def test_push_damaged_on_the_way_is_refused_whole(dut: HdcTransport, device: SimulatedDevice,
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The check after the transfer is what makes it whole-or-nothing: a file that arrives different
    # never takes the real name (here the device's copy is cut short just after the client's send).
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(100_000))
    real = dut._client

    def cut_short(*args: str, **kwargs: object) -> None:
        real(*args, **kwargs)  # type: ignore[arg-type]
        if args[1] == "send":
            with open(on_device(device, args[3]), "r+b") as f:
                f.truncate(50_000)

    monkeypatch.setattr(dut, "_client", cut_short)
    with pytest.raises(TransferError, match="50000 bytes"):
        dut.push(src, "/data/local/tmp/cut.bin")
    assert sorted(p.name for p in on_device(device, "/data/local/tmp").iterdir() if "cut" in p.name) == []


def test_reboot_and_wait_ready(tmp_path: Path, hdc_server: HdcServer, hdc_binaries: HdcBinaries) -> None:
    with hdc_device(tmp_path, hdc_server, hdc_binaries, boot_time=0.4) as device:
        dut = transport_for(device)
        assert device.boots == 1
        dut.reboot()  # `target boot`: hdcd asks init (the lab's device) for the power cycle
        dut.wait_ready(timeout=30)
        assert device.boots == 2
        assert dut.run("param get bootevent.boot.completed").stdout == b"true\n"
        assert dut.run("echo again").stdout == b"again\n"


def test_wait_ready_gives_not_ready_when_boot_never_completes(tmp_path: Path, hdc_server: HdcServer,
                                                              hdc_binaries: HdcBinaries) -> None:
    with hdc_device(tmp_path, hdc_server, hdc_binaries) as device:
        dut = transport_for(device)
        device.set_faults(Faults(fail_boot=True))
        dut.reboot()
        with pytest.raises(NotReady, match="not ready after 2s"):
            dut.wait_ready(timeout=2)


def test_device_vanishing_from_list_targets(tmp_path: Path, hdc_server: HdcServer,
                                            hdc_binaries: HdcBinaries) -> None:
    with hdc_device(tmp_path, hdc_server, hdc_binaries) as device:
        dut = transport_for(device)
        assert dut.run("true").exit_code == 0
        device.set_faults(Faults(fail_boot=True))
        device.reboot()  # down for good: hdcd dies with the device, the server drops it
        poll_until(lambda: dut.state() != "Connected", 10, what="the server to notice")
        with pytest.raises(ConnectFailed):
            dut.run("true", timeout=5)


def test_server_gone_mid_command_then_back(tmp_path: Path, hdc_binaries: HdcBinaries) -> None:
    port = free_port()
    server = HdcServer(hdc_binaries.hdc, port=port, home=tmp_path / "home").start()
    try:
        with hdc_device(tmp_path / "dev", server, hdc_binaries) as device:
            dut = transport_for(device)
            assert dut.run("echo up").stdout == b"up\n"
            seen: list[bytes] = []

            def stop_server_on_output(name: str, chunk: bytes) -> None:
                seen.append(chunk)
                if len(seen) == 1:
                    server.stop()

            with pytest.raises(ConnectionLost, match="before the command's exit status"):
                dut.run("echo started; sleep 30", timeout=20, on_output=stop_server_on_output)
            with pytest.raises(ConnectFailed, match="not reachable"):
                dut.run("true", timeout=5)
            server = HdcServer(hdc_binaries.hdc, port=port, home=tmp_path / "home").start()
            # The new server knows no device: the transport `tconn`s it (its spec has `connect`).
            assert dut.run("echo back", timeout=20).stdout == b"back\n"
    finally:
        server.stop()
