"""The serial console transport against real peers: a login program and a real shell behind a socat pty,
reached as a device path, and through ser2net 4 as socket:// and rfc2217://. What every link promises
(exit codes, streams, the output limit, timeouts, files, reboot) is tested on these three ways in by
test_transport_contract.py; here is what only a console does: its login, a fresh shell per command, its
framing and line noise, signals ignored, a dropped line."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import AuthFailed, CommandTimeout, ConnectionLost, NotReady, TransferError
from harness.lab.peers.console import ConsolePeer
from harness.specs import SerialSpec
from harness.transports.serial import SerialTransport
from harness.transports.serial_protocol import BODY_TAG, END_TAG, PROMPT_TAG, STATUS_TAG, posix_cksum
from harness.waiting import free_port, poll_until
from tests.host_processes import processes_with, unique_duration

pytestmark = pytest.mark.peer("console")

KINDS = ["pty", "socket", "rfc2217"]


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def peer(kind: str) -> Iterator[ConsolePeer]:
    # One console per way in: ser2net and a direct user must never share a pty (both would read it).
    with ConsolePeer(ser2net=kind != "pty") as console:
        yield console


@pytest.fixture(scope="module")
def console(peer: ConsolePeer, kind: str) -> Iterator[SerialTransport]:
    transport = SerialTransport(peer.serial_spec(peer.url(kind)), connect_timeout=15)
    transport.connect()
    yield transport
    transport.close()


def test_logs_in_and_runs_in_the_boards_shell(console: SerialTransport, peer: ConsolePeer) -> None:
    result = console.run("echo $HOME")
    assert result.stdout.decode() == f"{peer.home}\n"  # the login program's environment, not ours
    assert peer.dmesg_log.read_text().splitlines() == ["-n 1"]  # console printk silenced once


def test_the_command_does_not_read_the_console(console: SerialTransport) -> None:
    # stdin is /dev/null, as over ssh: a command that reads it must not eat the driver's next lines.
    assert console.run("cat; read line; echo rc=$?").stdout == b"rc=1\n"
    assert console.run("echo next").stdout == b"next\n"


def test_each_command_gets_a_fresh_shell_as_over_ssh(console: SerialTransport) -> None:
    # A suite's `exit 3` must end its own command, not the console's login shell.
    assert console.run("echo before; exit 3").exit_code == 3
    assert console.run("cd /; FOO=leaked").exit_code == 0
    after = console.run('echo "${FOO:-clean} $(pwd)"')
    assert after.exit_code == 0 and after.stdout_text.split()[0] == "clean"
    assert after.stdout_text.split()[1] != "/" or console.run("pwd").stdout_text.strip() == "/"


def test_multiline_and_non_utf8_output_arrive_exactly(console: SerialTransport) -> None:
    assert console.run("printf 'one\\ntwo\\n\\nfour'").stdout == b"one\ntwo\n\nfour"
    assert console.run("printf '\\377\\376'").stdout == b"\xff\xfe"
    assert console.run("printf 'cr\\r\\nlf\\n'").stdout == b"cr\r\nlf\n"  # ONLCR is off: bytes as sent
    assert console.run("echo '中文 # not a comment'").stdout == "中文 # not a comment\n".encode()


def test_streamed_output_never_shows_markers(console: SerialTransport) -> None:
    chunks: list[tuple[str, bytes]] = []
    console.run("for i in 1 2 3; do echo line$i; done; echo warn >&2",
                on_output=lambda s, c: chunks.append((s, c)))
    assert chunks == [("stdout", b"line1\nline2\nline3\n"), ("stderr", b"warn\n")]
    for _, chunk in chunks:
        assert not any(tag.encode() in chunk for tag in (STATUS_TAG, BODY_TAG, END_TAG, PROMPT_TAG))


def test_timeout_ends_a_command_that_ignores_signals(console: SerialTransport) -> None:
    # INT, HUP and TERM ignored, by the command and by a child of its own: SIGKILL after the grace.
    first, second = unique_duration(), unique_duration()
    cmd = (f"trap '' INT HUP TERM; sh -c \"trap '' INT HUP TERM; sleep {second}\" & "
           f"echo started; while :; do sleep {first}; done")
    with pytest.raises(CommandTimeout) as caught:
        console.run(cmd, timeout=1.0)
    assert caught.value.usable and caught.value.stdout == b"started\n"
    # Verified gone by the driver before it returned: nothing to wait for here.
    assert processes_with("sleep", first) == [] and processes_with("sleep", second) == []
    assert console.run("echo after").stdout == b"after\n"


def test_timeout_asks_with_sigterm_first(console: SerialTransport) -> None:
    duration = unique_duration()
    with pytest.raises(CommandTimeout) as caught:
        console.run(f"trap 'echo cleaned up; exit 9' TERM; echo started; sleep {duration} & wait",
                    timeout=1.0)
    assert caught.value.usable and caught.value.stdout == b"started\ncleaned up\n"
    assert processes_with("sleep", duration) == []


def test_a_command_finishing_does_not_wait_for_what_it_left_running(console: SerialTransport) -> None:
    duration = unique_duration()
    result = console.run(f"sleep {duration} >/dev/null 2>&1 & echo left", timeout=5)
    assert result.stdout == b"left\n" and result.exit_code == 0
    for pid in processes_with("sleep", duration):
        os.kill(pid, 9)


def test_wrong_password_is_auth_failed_and_never_shown(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-pw-4711"
    # A console nobody has logged in on yet (the shared one already has a shell).
    with ConsolePeer(ser2net=kind != "pty") as peer:
        transport = SerialTransport(peer.serial_spec(peer.url(kind), password=wrong), connect_timeout=10)
        with pytest.raises(AuthFailed) as caught:
            transport.connect()
        transport.close()
        right = SerialTransport(peer.serial_spec(peer.url(kind)), connect_timeout=10)
        assert right.run("echo in").stdout == b"in\n"  # the console asks again; the right one works
        right.close()
    for text in (str(caught.value), repr(transport), caplog.text):
        assert wrong not in text and peer.password not in text


def test_link_dropped_mid_command_is_connection_lost(kind: str) -> None:
    with ConsolePeer(ser2net=kind != "pty") as peer:
        transport = SerialTransport(peer.serial_spec(peer.url(kind)), connect_timeout=15)
        transport.connect()
        drop = peer.kill_socat if kind == "pty" else peer.kill_ser2net
        duration = unique_duration()
        dropped = threading.Event()

        def drop_once_running() -> None:
            # The board's shell runs on this host: its command is seen in /proc once it runs.
            poll_until(lambda: bool(processes_with("sleep", duration)), 15, interval=0.02)
            dropped.set()
            drop()

        dropper = threading.Thread(target=drop_once_running, daemon=True)
        dropper.start()
        with pytest.raises(ConnectionLost):
            transport.run(f"echo running; sleep {duration}", timeout=15)
        dropper.join(5)
        assert dropped.is_set()
        transport.close()
        for pid in processes_with("sleep", duration):
            os.kill(pid, 9)


@pytest.mark.parametrize("shell", ["sh", "bash", "ash"])
def test_shell_variants(shell: str) -> None:
    if shell == "ash" and shutil.which("busybox") is None:
        pytest.skip("busybox is not installed")
    with ConsolePeer(shell=shell) as peer, SerialTransport(peer.serial_spec(), connect_timeout=15) as console:
        console.connect()
        assert console.run("echo $0").exit_code == 0
        assert console.run("printf 'a\\nb'").stdout == b"a\nb"
        assert console.run("(exit 7)").exit_code == 7
        assert console.run("printf '\\033[?2004h\\033[6nraw'").stdout == b"\x1b[?2004h\x1b[6nraw"
        duration = unique_duration()
        with pytest.raises(CommandTimeout) as caught:
            console.run(f"sleep {duration}", timeout=0.5)
        assert caught.value.usable and processes_with("sleep", duration) == []
        assert console.run("echo still").stdout == b"still\n"
        stubborn = unique_duration()  # ignores INT, HUP and TERM: SIGKILL, and the shell lives on
        with pytest.raises(CommandTimeout) as caught:
            console.run(f"trap '' INT HUP TERM; while :; do sleep {stubborn}; done", timeout=0.5)
        assert caught.value.usable and processes_with("sleep", stubborn) == []
        assert console.run("echo and still").stdout == b"and still\n"


def test_console_already_logged_in() -> None:
    with ConsolePeer(login=False) as peer, SerialTransport(peer.serial_spec(), connect_timeout=15) as console:
        assert console.run("echo no login needed").stdout == b"no login needed\n"
        assert peer.dmesg_log.read_text().splitlines() == ["-n 1"]  # silenced without a login too


def test_pull_past_its_limit_is_a_transfer_error(console: SerialTransport, tmp_path: Path) -> None:
    console.run("head -c 10000 /dev/urandom > big.bin")
    console.pull_limit = 4096  # a file larger than the limit must not be kept whole in memory
    try:
        with pytest.raises(TransferError, match="too large"):
            console.pull("big.bin", tmp_path / "big.bin")
    finally:
        del console.pull_limit
    assert not (tmp_path / "big.bin").exists()
    console.pull("big.bin", tmp_path / "big.bin")
    assert (tmp_path / "big.bin").stat().st_size == 10000


def test_wait_ready_paces_the_ready_command(console: SerialTransport) -> None:
    # Fails twice, then succeeds; each attempt leaves its time in a file.
    console.run("rm -f ready.log")
    console.ready_command = 'date +%s.%N >> ready.log; [ "$(wc -l < ready.log)" -ge 3 ]'
    try:
        console.wait_ready(timeout=10)
    finally:
        console.ready_command = None
    times = [float(t) for t in console.run("cat ready.log").stdout.split()]
    assert len(times) == 3
    assert all(b - a >= 0.4 for a, b in zip(times, times[1:], strict=False))  # no busy loop


def test_wait_ready_with_a_hanging_ready_command_is_not_ready(console: SerialTransport) -> None:
    console.ready_command = f"sleep {unique_duration()}"
    try:
        with pytest.raises(NotReady):  # not the CommandTimeout of the last attempt
            console.wait_ready(timeout=1)
    finally:
        console.ready_command = None
    assert console.run("echo after").stdout == b"after\n"


def report(token: bytes, code: int, out: bytes, err: bytes = b"", *, body: bytes | None = None) -> bytes:
    """A report as the board's functions print it (serial_protocol); `body` sends other bytes."""
    status = b"__HR%s %d %d %d %d %d\n" % (token, code, posix_cksum(out), len(out), posix_cksum(err), len(err))
    sent = b"\n" + status * 2
    if out or err:
        sent += b"__HB" + token + b"\n" + (out + err if body is None else body) + b"\n" + (b"__HZ" + token + b"\n") * 2
    return sent + b"@HP" + token + b"# "


class GarblingConsole:
    """A console on a real TCP socket (what ser2net gives) that answers the driver's setup and its own
    commands as a board would, but for any command containing `garble` sends output that never
    matches its checksum, however often it is asked: a stream that is not what was framed, as line
    noise or a confused board produces. A real shell cannot be made to do it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _answer(self, line: bytes) -> bytes:
        if (called := re.match(rb"__h([lrxc]) (\w+)", line)) is not None:
            kind, token = called.groups()
            if kind == b"l":
                out = b"a\nb" if b"a\\nb" in line else b""
                if b"readlink" in line:
                    out = b"/bin/sh\nb:\nd:/tmp/fake\ndd:\n"
                return report(token, 0, out)
            if self.garbling or b"garble" in line:
                self.garbling = True
                return report(token, 0, b"partial", body=b"partiaX")
            return report(token, 0, b"")
        if prompt := re.findall(rb"__ht=(\w+)", line):
            return b"@HP" + prompt[-1] + b"# "
        return b"$ "

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        self.garbling, pending = False, b""
        with conn:
            while data := conn.recv(4096):
                pending += data
                while b"\r" in pending:
                    line, pending = pending.split(b"\r", 1)
                    conn.sendall(self._answer(line))

    def close(self) -> None:
        self.listener.close()


def test_output_that_never_matches_its_checksum_is_connection_lost() -> None:
    board = GarblingConsole()
    try:
        transport = SerialTransport(SerialSpec(port=board.url), connect_timeout=5)
        transport.connect()
        with pytest.raises(ConnectionLost) as caught:  # never the damaged bytes as output
            transport.run("garble", timeout=5)
        assert not caught.value.usable and not transport.connected
        transport.close()
    finally:
        board.close()
