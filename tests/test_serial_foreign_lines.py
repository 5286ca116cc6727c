"""Serial output holds only the command's output, whatever else is written on the console and whenever
(issue 9, item 3): a real shell behind a login program, reached through a relay that writes
syslog-, kernel-, dropbear- and init-style lines into the stream at random points and inside the
driver's markers and prompts. And close() leaves the console as it was found."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.peers.console import ConsolePeer
from harness.lab.peers.console_noise import NoisyConsole
from harness.transports.serial import SerialTransport
from harness.transports.serial_link import open_link
from harness.waiting import Deadline

pytestmark = pytest.mark.peer("console")


@pytest.fixture(params=["sh", "bash", "ash"])
def noisy(request: pytest.FixtureRequest) -> Iterator[tuple[SerialTransport, NoisyConsole]]:
    with ConsolePeer(shell=request.param) as peer, NoisyConsole(peer.path, seed=9) as relay, \
            SerialTransport(peer.serial_spec(relay.path), connect_timeout=30) as console:
        console.connect()
        yield console, relay


def test_foreign_lines_never_reach_a_result(noisy: tuple[SerialTransport, NoisyConsole],
                                            tmp_path: Path) -> None:
    console, relay = noisy
    rng = random.Random(3)
    blob = bytes(rng.randrange(256) for _ in range(3000))
    (tmp_path / "blob").write_bytes(blob)
    for i in range(40):
        words = " ".join(f"w{rng.randrange(10**6)}" for _ in range(rng.randrange(0, 30)))
        result = console.run(f"echo {words}; echo e{i} >&2; (exit {i % 4})", timeout=20)
        assert (result.exit_code, result.stdout, result.stderr) == (i % 4, f"{words}\n".encode(),
                                                                     f"e{i}\n".encode())
    assert console.run(f"cat {tmp_path / 'blob'}", timeout=20).stdout == blob
    lines = console.run("seq 1 3000", timeout=30).stdout
    assert lines == "".join(f"{n}\n" for n in range(1, 3001)).encode()
    # The noise was there, and inside the markers too: this passed through it, not around it.
    assert relay.injected > 40 and relay.inside_markers > 10


def test_close_leaves_a_login_console_logged_out_with_its_printk_level(tmp_path: Path) -> None:
    level = Path("/proc/sys/kernel/printk").read_text().split()[0]
    with ConsolePeer(respawn=True) as peer:  # a getty: a logout gives a login prompt again
        console = SerialTransport(peer.serial_spec(), connect_timeout=15)
        folder = console.run("echo $__hd").stdout_text.strip()
        assert folder and os.path.isdir(folder)  # where the board keeps command output
        console.close()
        assert not os.path.exists(folder)
        assert peer.dmesg_log.read_text().splitlines() == ["-n 1", f"-n {level}"]
        link = open_link(peer.path, 115200)
        try:
            link.write(b"\r")
            assert read_until(link, b"login: ").endswith(b"login: ")  # logged out again
        finally:
            link.close()


def test_close_leaves_a_shell_console_with_its_prompt_and_echo() -> None:
    with ConsolePeer(login=False) as peer:
        console = SerialTransport(peer.serial_spec(), connect_timeout=15)
        assert console.run("true").ok
        console.close()
        link = open_link(peer.path, 115200)
        try:
            link.write(b"echo ps1=$PS1.\r")
            seen = read_until(link, b"ps1=root@board:~# .")
            assert b"echo ps1=$PS1." in seen  # the terminal echoes again
            assert b"@HP" not in seen.split(b"ps1=")[-1]
        finally:
            link.close()


def read_until(link: object, wanted: bytes, timeout: float = 10.0) -> bytes:
    deadline, seen = Deadline(timeout), b""
    while wanted not in seen:
        if deadline.expired:
            raise AssertionError(f"no {wanted!r} on the console; got {seen[-300:]!r}")
        seen += link.read(deadline.remaining())  # type: ignore[attr-defined]
    return seen
