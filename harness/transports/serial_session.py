"""A logged-in console shell, set up for commands (see serial_protocol): lines typed in, checked
reports out, a timed-out command stopped for good, and the console left as it was found.

Nothing here waits a fixed time. Each exchange waits for its report against the caller's deadline;
when the line stays quiet the driver presses Enter (a fresh prompt stands in for markers that foreign
text may have damaged), less and less often."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from ..errors import ConnectFailed, ConnectionLost
from ..waiting import Deadline
from .base import monotonic
from .serial_link import ByteLink
from .serial_protocol import (
    COMMAND,
    CONTROL,
    CONTROL_MAX,
    Capture,
    PromptWatch,
    Report,
    ReportParser,
    Strategy,
    chunk_line,
    control_line,
    posix_cksum,
    report_line,
    restore_line,
    run_line,
    runner_line,
    setup_lines,
    strategy_for,
    undo_onlcr,
)

log = logging.getLogger(__name__)

# Quiet line: press Enter after this long, then after twice as long, up to NUDGE_MAX.
NUDGE_FIRST = 0.5
NUDGE_MAX = 8.0
# A report whose status lines were both lost is asked for again this many times.
REPORT_TRIES = 6
# Damaged output is fetched again in chunks of this size, halved after each failure down to CHUNK_MIN.
CHUNK = 65536
CHUNK_MIN = 1024
CHUNK_TRIES = 8
# After a timeout: SIGTERM, KILL_GRACE for the command to go, then SIGKILL and KILL_WAIT to see it gone.
KILL_GRACE = 2.0
KILL_WAIT = 5.0
POLL_INTERVAL = 0.1
RESYNC_TIMEOUT = 3.0
# Each driver command after a timeout (a slow board scans /proc slowly).
CONTROL_TIMEOUT = 10.0
# A flood of foreign text beyond this (over the body's own size) is dropped; the body comes in chunks.
SLACK = 1 << 20


class Expired(Exception):
    """The deadline of the current exchange passed."""


class _Stream(Protocol):
    def feed(self, data: bytes) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: bytes
    stderr: bytes
    truncated: bool


class ConsoleSession:
    """The driver's side of one login on a console. `label` names the console in messages."""

    def __init__(self, link: ByteLink, label: str) -> None:
        self.link, self.label = link, label
        self.translate_crlf = False
        self.strategy = Strategy.CHILD
        self.shell = ""
        self._running = ""  # the token of the last command started

    # -- setup -----------------------------------------------------------------------------------
    def setup(self, deadline: Deadline, screen: bytes = b"") -> None:
        """Make the shell predictable and define the functions. Raises Expired, ConnectFailed."""
        token = _token()
        first = True
        for line, prompt in setup_lines(token):
            self._type(line)
            self._await(PromptWatch(prompt), deadline, screen if first else b"")
            first = False
        self.translate_crlf = self._onlcr(deadline)
        code, probe, _ = self.control(
            'readlink /proc/$$/exe; echo "b:$BASH_VERSION"; [ -n "$__hd" ] && echo "d:$__hd"; '
            "command -v dd >/dev/null 2>&1 && echo dd:", deadline)
        lines = probe.decode(errors="replace").splitlines()
        if not any(line.startswith("d:") for line in lines):
            raise ConnectFailed(f"{self.label}: no writable folder on the board for command output "
                                "(tried $TMPDIR, /tmp, /dev/shm, /data/local/tmp, /var/tmp, $HOME)")
        self.shell = lines[0] if lines and not lines[0].startswith(("b:", "d:")) else ""
        bash = next((line[2:] for line in lines if line.startswith("b:")), "")
        self.strategy = strategy_for(self.shell, bash)
        token = _token()
        self._type(runner_line(token, self.strategy))
        self._await(PromptWatch(token), deadline)
        log.debug("%s ready: shell %s, strategy %s, crlf translation %s", self.label, self.shell or "?",
                  self.strategy.value, self.translate_crlf)

    def _onlcr(self, deadline: Deadline) -> bool:
        """Does the tty still turn \n into \r\n (no stty on the board)? Asked until a body checks."""
        for _ in range(REPORT_TRIES * 2):
            token = _token()
            parser = ReportParser(token, CONTROL_MAX)
            self._type(control_line(token, "printf 'a\\nb'"))
            self._await(parser, deadline)
            report = parser.report()
            if report.streams() == (b"a\nb", b""):
                return False
            if report.body is not None and Report(report.status, undo_onlcr(report.body)).streams() == (
                    b"a\nb", b""):
                return True
        raise ConnectionLost(f"{self.label}: console output keeps arriving damaged", usable=False)

    # -- exchanges -------------------------------------------------------------------------------
    def _type(self, line: str) -> None:
        # A typed newline is Enter; the tty (ICRNL) gives the shell \n, and continuation lines work.
        self.link.write((line + "\r").replace("\n", "\r").encode())

    def _await(self, stream: _Stream, deadline: Deadline, first: bytes = b"") -> None:
        if stream.feed(first):
            return
        quiet, last = NUDGE_FIRST, monotonic()
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise Expired
            data = self.link.read(min(remaining, quiet - (monotonic() - last)))
            if data:
                if stream.feed(data):
                    return
                last = monotonic()
            elif monotonic() - last >= quiet:
                log.debug("%s: quiet for %.1fs, pressing Enter", self.label, quiet)
                self.link.write(b"\r")  # a fresh prompt, in case foreign text broke the markers
                last, quiet = monotonic(), min(quiet * 2, NUDGE_MAX)

    def fetch(self, line: str, token: str, capture: Capture, limit: int, deadline: Deadline) -> Outcome:
        """Type `line` (which prints the report of `token`); its checked outcome."""
        parser = ReportParser(token, limit, translate_crlf=self.translate_crlf, slack=SLACK)
        self._type(line)
        self._await(parser, deadline)
        return self._complete(parser.report(), capture, limit, deadline)

    def _complete(self, report: Report, capture: Capture, limit: int, deadline: Deadline) -> Outcome:
        status = report.status
        for _ in range(REPORT_TRIES):
            if status is not None:
                break
            log.debug("%s: status lines damaged, asking again", self.label)
            token = _token()  # both status lines were damaged: ask for the status alone
            parser = ReportParser(token, 0, translate_crlf=self.translate_crlf)
            self._type(report_line(token, capture, 0))
            self._await(parser, deadline)
            status = parser.report().status
        if status is None:
            raise ConnectionLost(f"{self.label}: console output keeps arriving damaged", usable=False)
        streams = Report(status, report.body).streams()
        if streams is not None and status.total <= limit:
            return Outcome(status.code, streams[0], streams[1], False)
        if status.total <= limit:
            log.debug("%s: output damaged on the way, fetching it again in chunks", self.label)
        out = self._chunks(capture.out, status.out_len, status.out_crc, limit, deadline)
        err = self._chunks(capture.err, status.err_len, status.err_crc, limit, deadline)
        return Outcome(status.code, out, err, status.out_len > limit or status.err_len > limit)

    def _chunks(self, path: str, length: int, crc: int | None, limit: int, deadline: Deadline) -> bytes:
        """The first min(length, limit) bytes of a capture file, chunk by checked chunk."""
        wanted = min(length, limit)
        data = bytearray()
        size = CHUNK
        while len(data) < wanted:
            piece = None
            for _ in range(CHUNK_TRIES):
                token = _token()
                parser = ReportParser(token, size, translate_crlf=self.translate_crlf)
                self._type(chunk_line(token, path, size, len(data) // size))
                self._await(parser, deadline)
                streams = parser.report().streams()
                if streams is not None and len(streams[0]) == min(size, length - len(data)):
                    piece = streams[0]
                    break
                size = max(size // 2, CHUNK_MIN)
            if piece is None:
                raise ConnectionLost(f"{self.label}: console output keeps arriving damaged", usable=False)
            data += piece
        if wanted == length and crc is not None and posix_cksum(bytes(data)) != crc:
            raise ConnectionLost(f"{self.label}: output changed while it was read", usable=False)
        return bytes(data[:wanted])

    def control(self, cmd: str, deadline: Deadline) -> tuple[int, bytes, bytes]:
        """A driver command in the login shell itself."""
        token = _token()
        got = self.fetch(control_line(token, cmd), token, CONTROL, CONTROL_MAX, deadline)
        return got.code, got.stdout, got.stderr

    def run(self, cmd: str, limit: int, deadline: Deadline) -> Outcome:
        token = self._running = _token()
        return self.fetch(run_line(token, cmd, limit), token, COMMAND, limit, deadline)

    # -- after a timeout -------------------------------------------------------------------------
    def stop_command(self, limit: int) -> tuple[bool, Outcome | None, Outcome | None]:
        """Stop the command that ran past its deadline: Ctrl-C gives the shell back, then its process
        group gets SIGTERM, after KILL_GRACE SIGKILL, and must be seen gone.

        Returns (usable, finished, partial): `finished` when the command had ended after all (its
        report had not come whole in time), else `partial`, the output it left."""
        if not self._resync():
            return False, None, None
        deadline = Deadline(CONTROL_TIMEOUT)
        # One driver command does it all on the board: the job must die while the shell is busy (an
        # idle busybox ash reading its line can exit when SIGCHLD interrupts the read).
        steps = round(KILL_GRACE / POLL_INTERVAL)
        _, said, _ = self.control(
            f'if [ "$__hw" != {self._running} ]; then echo never; elif [ -n "$__hp" ]; then '
            'kill -TERM -"$__hp" "$__hp" 2>/dev/null; __hn=0; '
            f'while __hg && [ $__hn -lt {steps} ]; do sleep {POLL_INTERVAL}; __hn=$((__hn+1)); done; '
            'if __hg; then kill -KILL -"$__hp" "$__hp" 2>/dev/null; fi; wait "$__hp" 2>/dev/null; '
            'jobs >/dev/null 2>&1; echo running; __hg && echo alive || __hp=; fi',
            Deadline(CONTROL_TIMEOUT + KILL_GRACE))
        state = said.split()
        if state == [b"never"]:  # the line never reached the function: nothing ran, nothing left
            return True, None, None
        if not state:
            token = _token()
            return True, self.fetch(report_line(token, COMMAND, limit), token, COMMAND, limit, deadline), None
        gone = b"alive" not in state or self._gone_within(KILL_WAIT)
        token = _token()
        partial = self.fetch(report_line(token, COMMAND, limit), token, COMMAND, limit,
                             Deadline(CONTROL_TIMEOUT))
        return gone, None, partial

    def _resync(self) -> bool:
        for _ in range(2):
            self.link.write(b"\x03")
            try:
                self.control(":", Deadline(RESYNC_TIMEOUT / 2))
                return True
            except Expired:
                continue
        return False

    def _gone_within(self, seconds: float) -> bool:
        deadline = Deadline(seconds)
        while True:
            _, alive, _ = self.control("__hg && echo alive", Deadline(CONTROL_TIMEOUT))
            if not alive:
                return True
            if deadline.expired:
                return False
            self.link.read(min(POLL_INTERVAL, deadline.remaining()))  # paces the poll; takes stray bytes

    # -- leaving ---------------------------------------------------------------------------------
    def restore(self, log_out: bool, deadline: Deadline) -> None:
        """Undo the setup (terminal, printk level, prompt, functions, folder) and see it done; log out
        if we logged in. Raises Expired."""
        token = _token()
        self._type(restore_line(token, log_out))
        self._await(_Seen(b"__HQ" + token.encode()), deadline)


class _Seen:
    """Waits for one exact byte string in the stream."""

    def __init__(self, wanted: bytes) -> None:
        self.wanted, self._tail = wanted, b""

    def feed(self, data: bytes) -> bool:
        seen = self._tail + data
        self._tail = seen[-len(self.wanted) :]
        return self.wanted in seen


def _token() -> str:
    return secrets.token_hex(6)
