"""The transport contract (harness.transports.base.Transport), the same tests on every link kind's real
peers (tests/link_peers.py): exit codes, stdout and stderr, binary output, the output limit, timeouts
that stop the command and leave the link usable, files whole or not at all, typed errors, reboot and
wait_ready. What only one kind does (ssh's signals and jump hosts, adb's and hdc's framing, the serial
console's login and line noise, injected link faults) stays in that kind's own test file.

Each peer starts once for all the tests here (a module-scoped parameter: pytest runs every test on one
peer, then moves to the next), and the tests leave it usable for the next."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import CommandTimeout, ConnectFailed, NotReady, TransferError
from harness.links import LINKS
from harness.transports.base import Transport
from harness.waiting import poll_until
from tests.host_processes import processes_with, unique_duration

from .link_peers import MB, PEERS, LinkPeer, contract_adb_server, start_peer

__all__ = ["contract_adb_server"]


@pytest.fixture(scope="module", params=PEERS)
def peer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinkPeer]:
    with start_peer(str(request.param), request, tmp_path_factory.mktemp("contract")) as started:
        started.host_path(started.remote_dir).mkdir(parents=True, exist_ok=True)
        yield started


@pytest.fixture
def dut(peer: LinkPeer) -> Transport:
    return peer.transport


@pytest.fixture
def remote(peer: LinkPeer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh folder on the device for one test."""
    path = f"{peer.remote_dir}/{request.node.name.split('[')[0][5:40]}"
    host = peer.host_path(path)
    host.mkdir(parents=True)
    yield path
    _remove(host)


def _remove(path: Path) -> None:
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def cut_size(peer: LinkPeer) -> int:
    """A file no pull moves in the cutting timeout. A console's pull is cut by its size limit instead
    (LinkPeer.cutting), which a small file passes as well as a large one."""
    if peer.kind == "ssh":
        return 64 * MB  # with AES-GCM, paramiko moves 8 MB over loopback inside the 0.05 s cut
    return 8 * MB if peer.bulk >= 8 * MB else 6000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the link --------------------------------------------------------------------------------------


def test_is_a_transport_of_its_kind(dut: Transport, peer: LinkPeer) -> None:
    assert isinstance(dut, Transport) and dut.kind == peer.kind and peer.kind in LINKS


def test_a_device_that_does_not_answer_is_connect_failed(peer: LinkPeer) -> None:
    transport = peer.nowhere()
    try:
        with pytest.raises(ConnectFailed):
            transport.run("true", timeout=10)
    finally:
        transport.close()


# -- commands --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 1, 2, 127, 255])
def test_the_exit_code_is_the_commands(dut: Transport, code: int) -> None:
    result = dut.run(f"echo before; exit {code}", timeout=20)
    assert (result.exit_code, result.ok, result.stdout) == (code, code == 0, b"before\n")


def test_a_missing_command_is_127(dut: Transport) -> None:
    result = dut.run("no-such-command-xyz", timeout=20)
    assert result.exit_code == 127 and b"not found" in result.stdout + result.stderr


def test_stdout_and_stderr_apart_or_said_to_be_merged(dut: Transport, peer: LinkPeer) -> None:
    result = dut.run("echo out; echo err >&2; exit 3", timeout=20)
    assert result.exit_code == 3 and result.stderr_separate is peer.stderr_separate
    if peer.stderr_separate:
        assert (result.stdout, result.stderr) == (b"out\n", b"err\n")
    else:
        assert sorted(result.stdout.splitlines()) == [b"err", b"out"] and result.stderr == b""


def test_binary_and_non_utf8_output_arrive_exactly(dut: Transport) -> None:
    result = dut.run("printf '\\000\\377\\376\\n\\r\\033[0m\\351t\\351'; printf 'no newline'", timeout=20)
    assert result.stdout == b"\x00\xff\xfe\n\r\x1b[0m\xe9t\xe9no newline"
    assert "\ufffd" in result.stdout_text


def test_large_output_arrives_whole_and_streamed(dut: Transport, peer: LinkPeer, remote: str) -> None:
    blob = os.urandom(peer.bulk)
    peer.host_path(f"{remote}/bulk.bin").write_bytes(blob)
    chunks: list[bytes] = []
    result = dut.run(f"cat {remote}/bulk.bin", timeout=60, on_output=lambda _stream, c: chunks.append(c))
    assert result.exit_code == 0 and not result.truncated
    assert len(result.stdout) == len(blob) and sha(result.stdout) == sha(blob)
    assert b"".join(chunks) == result.stdout  # handed on as it came, nothing of the framing in it


def test_output_past_the_limit_is_cut_and_marked_truncated(dut: Transport) -> None:
    result = dut.run("head -c 100000 /dev/zero; exit 3", timeout=20, max_output=1000)
    assert (result.stdout, result.truncated, result.exit_code) == (b"\0" * 1000, True, 3)
    assert dut.run("echo next", timeout=20).stdout == b"next\n"


def test_a_timeout_stops_the_command_and_leaves_the_link_usable(dut: Transport) -> None:
    job, foreground = unique_duration(), unique_duration()
    with pytest.raises(CommandTimeout) as caught:
        dut.run(f"echo started; sleep {job} & sleep {foreground}; echo never", timeout=0.5)
    assert caught.value.usable and caught.value.stdout.startswith(b"started\n")
    assert b"never" not in caught.value.stdout
    # What the command started in the background goes too, not only the shell the link signals.
    poll_until(lambda: not processes_with("sleep", job) and not processes_with("sleep", foreground), 10,
               interval=0.05, what="the timed-out command's processes to end")
    assert dut.run("echo next", timeout=20).stdout == b"next\n"


# -- files -----------------------------------------------------------------------------------------


def test_push_and_pull_round_trip(dut: Transport, peer: LinkPeer, remote: str, tmp_path: Path) -> None:
    payload = os.urandom(peer.files) + b"\r\n\x03\x04'\"$`"
    local = tmp_path / "up.bin"
    local.write_bytes(payload)
    target = f"{remote}/pushed file.bin"  # a space in the name
    dut.push(local, target, timeout=60)
    assert sha(peer.host_path(target).read_bytes()) == sha(payload)
    back = tmp_path / "down.bin"
    dut.pull(target, back, timeout=60)
    assert back.read_bytes() == payload
    assert sorted(p.name for p in tmp_path.iterdir()) == ["down.bin", "up.bin"]  # no partial left


def test_push_replaces_the_old_file_whole_and_leaves_no_temporary(
        dut: Transport, peer: LinkPeer, remote: str, tmp_path: Path) -> None:
    target = peer.host_path(f"{remote}/settings.bin")
    target.write_bytes(b"the old settings\n")
    local = tmp_path / "new.bin"
    local.write_bytes(os.urandom(100_000))
    dut.push(local, f"{remote}/settings.bin", timeout=60)
    assert target.read_bytes() == local.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["settings.bin"]


def test_a_push_cut_short_leaves_the_old_file_whole(
        dut: Transport, peer: LinkPeer, remote: str, tmp_path: Path) -> None:
    target = peer.host_path(f"{remote}/settings.bin")
    target.write_bytes(b"the old settings\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(max(8 * MB, cut_size(peer))))  # only its first part ever travels
    with peer.cutting() as timeout, pytest.raises((CommandTimeout, TransferError)):
        dut.push(big, f"{remote}/settings.bin", timeout=timeout)
    # Whole or nothing: the old file, or (when only the answer to the final rename was late) the new one.
    poll_until(lambda: [p.name for p in target.parent.iterdir()] == ["settings.bin"], 10, interval=0.05,
               what="no temporary file left beside the target")
    assert target.read_bytes() in (b"the old settings\n", big.read_bytes())
    assert dut.run("echo after", timeout=20).stdout == b"after\n"
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(10_000))
    dut.push(small, f"{remote}/settings.bin", timeout=60)  # and the next push lands whole
    assert target.read_bytes() == small.read_bytes()


def test_a_pull_cut_short_leaves_the_local_file_as_it_was(
        dut: Transport, peer: LinkPeer, remote: str, tmp_path: Path) -> None:
    peer.host_path(f"{remote}/big.bin").write_bytes(os.urandom(cut_size(peer)))
    local = tmp_path / "big.bin"
    local.write_bytes(b"old copy")
    with peer.cutting() as timeout, pytest.raises((CommandTimeout, TransferError)):
        dut.pull(f"{remote}/big.bin", local, timeout=timeout)
    assert local.read_bytes() == b"old copy"
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]  # no partial file beside it
    assert dut.run("echo after", timeout=20).stdout == b"after\n"


def test_pull_of_a_missing_file_is_a_transfer_error_and_writes_nothing(
        dut: Transport, remote: str, tmp_path: Path) -> None:
    missing = f"{remote}/not-there.bin"
    with pytest.raises(TransferError, match="not-there.bin"):
        dut.pull(missing, tmp_path / "dest.bin", timeout=20)
    assert list(tmp_path.iterdir()) == []
    assert dut.run("true", timeout=20).ok


def test_push_where_nothing_can_be_written_is_a_transfer_error(
        dut: Transport, peer: LinkPeer, tmp_path: Path) -> None:
    local = tmp_path / "x.bin"
    local.write_bytes(b"x")
    with pytest.raises(TransferError):
        dut.push(local, peer.unwritable, timeout=20)
    assert not peer.host_path(peer.unwritable).exists()
    assert dut.run("true", timeout=20).ok


# -- reboot and readiness (last: the other tests need no reboot) -----------------------------------


def test_reboot_then_wait_ready_brings_the_link_back(dut: Transport) -> None:
    dut.reboot()
    dut.wait_ready(timeout=30)
    assert dut.run("echo back", timeout=20).stdout == b"back\n"
    assert dut.run("exit 5", timeout=20).exit_code == 5


def test_wait_ready_on_a_device_that_never_gets_ready_is_not_ready(peer: LinkPeer) -> None:
    with peer.never_ready() as transport:
        transport.reboot()
        with pytest.raises(NotReady):
            transport.wait_ready(timeout=0.5)
    assert peer.transport.run("echo still", timeout=30).stdout == b"still\n"
