"""AdbTransport against the real adb server connected to the simulated adbd, with shell_v2 on and off.
What every link promises (exit codes, streams, the output limit, timeouts, files whole or not at all,
reboot) is tested on both by test_transport_contract.py; here is what only adb does: its exit-code
marker without shell_v2, dropped links, host replies no real server gives, the digest rule."""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.errors import (
    ConnectFailed,
    ConnectionLost,
    NotReady,
    TransferError,
    TransportError,
)
from harness.lab.adbd.server import SimulatedAdbd
from harness.lab.peers.adb_server import AdbServer
from harness.specs import AdbSpec
from harness.transports.adb import AdbTransport, _parse_marker_end, _split_marker_tail
from harness.transports.adb_files import check_digest, parse_sha256sum
from harness.transports.base import Transport
from harness.waiting import Deadline, free_port, poll_until

from .adb_peers import adb_server, connected_adbd, device

__all__ = ["adb_server", "device"]


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


def test_output_without_trailing_newline_and_marker_lookalikes(dut: AdbTransport) -> None:
    result = dut.run("printf 'no newline'")
    assert result.stdout == b"no newline"
    result = dut.run("printf 'HARNESS_EXIT_\\n\\nHARNESS_EXIT_1\\n'; exit 4")
    assert (result.exit_code, result.stdout) == (4, b"HARNESS_EXIT_\n\nHARNESS_EXIT_1\n")


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


def test_marker_tail_split() -> None:
    marker = b"HARNESS_EXIT_ab"
    assert _split_marker_tail(b"abc\nHARNESS_EX", marker) == (b"abc", b"\nHARNESS_EX")
    assert _split_marker_tail(b"abc\n", marker) == (b"abc", b"\n")
    assert _split_marker_tail(b"abc\nxyz", marker) == (b"abc\nxyz", b"")
    assert _split_marker_tail(b"a\nHARNESS_EXIT_ab12\n", marker) == (b"a", b"\nHARNESS_EXIT_ab12\n")


def test_marker_parsing_accepts_a_ptys_crlf() -> None:
    # Old adbd ran legacy shell commands on a pty: every \n arrives as \r\n, the marker line's too.
    marker = b"HARNESS_EXIT_ab"
    stream = b"out\r\n\r\nHARNESS_EXIT_ab3\r\n"
    assert _parse_marker_end(stream, marker) == (b"out\r\n", 3)
    assert _parse_marker_end(b"out\n\nHARNESS_EXIT_ab0\n", marker) == (b"out\n", 0)
    assert _parse_marker_end(b"out\r\nHARNESS_EXIT_ab", marker) is None
    # Streaming: the \r before the marker line (or at the very end, still undecided) is held back.
    assert _split_marker_tail(b"out\r\n\r\nHARNESS_EXIT_ab3\r", marker) == (
        b"out\r\n", b"\r\nHARNESS_EXIT_ab3\r")
    assert _split_marker_tail(b"out\r\n\r", marker) == (b"out\r\n", b"\r")
    assert _split_marker_tail(b"a\rb\r\nHARNESS_EX", marker) == (b"a\rb", b"\r\nHARNESS_EX")
    # Feeding the stream in every split gives the output once and no marker bytes.
    for cut in range(len(stream) + 1):
        head, pending = _split_marker_tail(stream[:cut], marker)
        end = _parse_marker_end(pending + stream[cut:], marker)
        assert end is not None and head + end[0] == b"out\r\n" and end[1] == 3


# -- a scripted adb server, for replies no real adb server gives -------------------------------------
Answer = tuple[bytes, str]  # bytes to send, then "more" (read the next request), "close", "hold", "reset"


class ScriptedAdbServer:
    """A real TCP peer speaking the adb host protocol's framing, answering each request from a script.
    The real adb server never sends damaged lengths, resets or a reboot that hangs; devices and
    broken lab links do."""

    def __init__(self, script: Callable[[str], Answer]) -> None:
        self.script = script
        self.requests: list[str] = []
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                header = conn.recv(4, socket.MSG_WAITALL)
                if len(header) < 4:
                    return
                request = conn.recv(int(header, 16), socket.MSG_WAITALL).decode()
                self.requests.append(request)
                data, then = self.script(request)
                conn.sendall(data)
                if then == "hold":
                    self.stop.wait(30)
                if then == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                if then != "more":
                    return

    def transport(self) -> AdbTransport:
        return AdbTransport(AdbSpec(serial="scripted", server_port=self.port))

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[str], Answer]], ScriptedAdbServer]]:
    servers: list[ScriptedAdbServer] = []

    def start(script: Callable[[str], Answer]) -> ScriptedAdbServer:
        servers.append(ScriptedAdbServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def block(text: str) -> bytes:
    return b"OKAY%04x" % len(text) + text.encode()


@pytest.mark.parametrize(
    "features_answer",
    [(b"OKAYzzzz", "close"), (b"OKAY", "reset"), (b"OKAY0010shell", "reset")],
    ids=["bad-length", "reset-before-block", "reset-mid-block"],
)
def test_broken_host_replies_are_connection_lost(
    scripted: Callable[[Callable[[str], Answer]], ScriptedAdbServer], features_answer: Answer
) -> None:
    server = scripted(lambda request: features_answer)
    with pytest.raises(ConnectionLost):  # not ValueError / ConnectionResetError
        server.transport().run("true", timeout=5)
    assert server.requests == ["host-serial:scripted:features"]


def test_oversized_shell_packet_is_connection_lost(
    scripted: Callable[[Callable[[str], Answer]], ScriptedAdbServer]
) -> None:
    def script(request: str) -> Answer:
        if request.endswith(":features"):
            return block("shell_v2"), "close"
        if request.startswith("shell,v2"):
            return b"OKAY" + struct.pack("<BI", 1, 0xFFFFFFFF), "hold"
        return b"OKAY", "more"

    server = scripted(script)
    with pytest.raises(ConnectionLost, match="larger than allowed"):  # not a raw ValueError
        server.transport().run("true", timeout=5)


def test_reboot_waits_for_the_device_to_go_down(
    scripted: Callable[[Callable[[str], Answer]], ScriptedAdbServer]
) -> None:
    # A device that accepts the reboot but never closes the stream has not gone down.
    server = scripted(lambda request: (b"OKAY", "hold" if request == "reboot:" else "more"))
    with pytest.raises(NotReady, match="still up"):
        server.transport().reboot(down_timeout=0.5)
    assert server.requests == ["host:transport:scripted", "reboot:"]


def test_reboot_that_failed_on_the_device_is_a_transport_error(
    scripted: Callable[[Callable[[str], Answer]], ScriptedAdbServer]
) -> None:
    def script(request: str) -> Answer:
        if request == "reboot:":
            return b"OKAYreboot (recovery) failed\n", "close"
        return b"OKAY", "more"

    server = scripted(script)
    with pytest.raises(TransportError, match="failed") as info:
        server.transport().reboot(down_timeout=5)
    assert not isinstance(info.value, NotReady)


def test_digest_rule_refuses_a_same_size_file_the_device_hashes_differently(tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"abc")
    good = hashlib.sha256(b"abc").hexdigest()
    check_digest("/r", local, lambda remote, deadline: good, Deadline(5), "push")
    check_digest("/r", local, lambda remote, deadline: None, Deadline(5), "push")  # no sha256sum
    with pytest.raises(TransferError, match="SHA-256"):
        check_digest("/r", local, lambda remote, deadline: "0" * 64, Deadline(5), "push")
    assert parse_sha256sum(0, f"{good}  /r\n".encode()) == good
    assert parse_sha256sum(127, b"sh: sha256sum: not found\n") is None
    assert parse_sha256sum(0, b"z" * 64 + b"  /r\n") is None


# -- a transfer's timeout is for the whole transfer -------------------------------------------------
# Each 64 KiB chunk waits 0.2 s on the device: every read and write is answered well within the
# 0.6 s timeout, the whole (16 chunks or more) is not. A timeout per read lets the pull finish.


def test_a_pull_that_trickles_past_its_timeout_is_cut(dut: AdbTransport, device: SimulatedAdbd,
                                                      tmp_path: Path) -> None:
    (device.ctx.scratch / "slow.bin").write_bytes(bytes(16 * 64 * 1024))
    local = tmp_path / "slow.bin"
    device.faults.transfer_chunk_delay = 0.2
    try:
        with pytest.raises(TransferError, match="timed out after 0.6s"):
            dut.pull(str(device.ctx.scratch / "slow.bin"), local, timeout=0.6)
    finally:
        device.faults.transfer_chunk_delay = 0.0
    assert not local.exists() and list(tmp_path.iterdir()) == []
    assert dut.run("echo after", timeout=20).stdout == b"after\n"


def test_a_push_that_trickles_past_its_timeout_is_cut(dut: AdbTransport, device: SimulatedAdbd,
                                                      tmp_path: Path) -> None:
    # Larger than the sockets between here and the device hold, so the sender waits on the device.
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(64 * 64 * 1024))
    target = device.ctx.scratch / "big.bin"
    device.faults.transfer_chunk_delay = 0.2
    try:
        started = Deadline(2.0)
        with pytest.raises(TransferError, match="timed out after 0.6s"):
            dut.push(big, str(target), timeout=0.6)
        # A timeout per write lets it go on until the sockets' backlog drains (about 4 s here).
        assert not started.expired
    finally:
        device.faults.transfer_chunk_delay = 0.0
    assert not target.exists()
    # Nor a partial file: the harness's own is removed before push returns, the device drops its one
    # when it sees the stream closed.
    poll_until(lambda: not [p.name for p in target.parent.iterdir() if "big.bin" in p.name], 10,
               interval=0.05, what="no partial file left on the device")
    assert dut.run("echo after", timeout=20).stdout == b"after\n"
