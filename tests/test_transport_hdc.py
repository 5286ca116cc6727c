"""HdcTransport against the real hdc server and the real hdcd (inside a simulated HarmonyOS NEXT handset's
own namespaces). What every link promises (exit codes, merged-and-said-so stderr, the output limit,
timeouts, files, reboot) is tested on it by test_transport_contract.py; here is what only hdc does: its
framing of commands, files by the real client, `tconn`, a server or device that goes away. Named to run
late: the peers' first build overlaps the earlier tests."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConnectFailed, ConnectionLost, TransferError
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


def test_no_server_is_a_typed_error_and_none_is_started() -> None:
    port = free_port()
    dut = HdcTransport(HdcSpec(target="127.0.0.1:1", server_port=port))
    with pytest.raises(ConnectFailed, match=rf"hdc server 127\.0\.0\.1:{port} not reachable.*never starts one"):
        dut.run("true")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # still nothing listens there


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
