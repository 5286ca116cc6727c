"""The serial console transport: commands typed into a board's shell over a UART, socket:// or rfc2217://.

Console driver on connect (and again after a reboot): wake the line, answer the login and password
prompts, then make the shell predictable: a unique prompt, no echo, no ONLCR, console printk silenced,
bash's bracketed paste off. Each command is framed between fresh markers (see transports.console),
so its output and real exit code are cut from the stream exactly; nothing waits a fixed time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import secrets
from pathlib import Path
from types import TracebackType

from ..errors import (
    AuthFailed,
    CommandTimeout,
    ConnectFailed,
    ConnectionLost,
    NotReady,
    TransferError,
    TransportError,
)
from ..secrets import mask_command, redact
from ..specs import SerialSpec
from ..waiting import Deadline, poll_until
from .base import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, BoundedBuffer, CommandResult, OutputCallback, monotonic
from .console import ConsoleState, Frame, FrameParser, ParseError, PromptPatterns, classify, shell_quote
from .serial_link import ByteLink, open_link

log = logging.getLogger(__name__)

# Without new bytes for this long while waiting for a prompt, press Enter again (a board still booting
# or a prompt printed before we listened). This is a nudge interval, not a wait for an event.
NUDGE_AFTER = 1.0
RESYNC_TIMEOUT = 3.0
SCREEN_KEEP = 4096
# Canonical-mode ttys cut input lines at 4095 bytes; push keeps each typed line well under that.
PUSH_LINE = 3000
PUSH_LINES_PER_COMMAND = 16
# pull keeps the file's base64 in memory: a device may not make it grow without bound.
PULL_MAX_BASE64 = 256 * 1024 * 1024
# How long wait_ready waits before asking ready_command again.
READY_INTERVAL = 0.5

SETUP = (
    "stty -echo 2>/dev/null; stty -onlcr 2>/dev/null; dmesg -n 1 2>/dev/null; "
    "bind 'set enable-bracketed-paste off' 2>/dev/null; unset PROMPT_COMMAND; PS2=''; "
)


class _Expired(Exception):
    """Internal: the deadline of the current exchange passed."""


class SerialTransport:
    """A shell on a serial console. Opens the link and logs in on construction."""

    kind = "serial"
    pull_limit = PULL_MAX_BASE64  # bytes of base64 text a pull may take

    def __init__(
        self,
        spec: SerialSpec,
        *,
        reboot_command: str = "reboot",
        ready_command: str | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        self.spec = spec
        self.reboot_command = reboot_command
        self.ready_command = ready_command
        self.connect_timeout = connect_timeout
        self._patterns = PromptPatterns(spec.login_prompt, spec.password_prompt, spec.prompt)
        self._link: ByteLink | None = None
        self._pending = b""
        self._prompt = b""
        self._stale_prompt = b""  # our prompt from before a reboot: seeing it means "not rebooted yet"
        self._translate_crlf = True
        self._ready = False

    @property
    def label(self) -> str:
        return f"console {self.spec.port}"

    @property
    def connected(self) -> bool:
        return self._link is not None and self._ready

    def connect(self, timeout: float | None = None) -> None:
        """Open the link, log in and set the shell up, unless that is done. Idempotent."""
        if self.connected:
            return
        self._bring_up(Deadline(self.connect_timeout if timeout is None else timeout), ConnectFailed)

    def _bring_up(self, deadline: Deadline, not_up: type[TransportError]) -> None:
        if self._link is None:
            self._link = open_link(self.spec.port, self.spec.baud)
            self._pending = b""
        try:
            self._console_up(deadline, not_up, self._stale_prompt)
        except BaseException:
            self._drop()
            raise
        self._stale_prompt = b""

    def _drop(self) -> None:
        self._ready = False
        if self._link is not None:
            self._link.close()
            self._link = None

    @property
    def _line(self) -> ByteLink:
        if self._link is None:
            raise ConnectionLost(f"{self.label} is not connected")
        return self._link

    # -- the console driver ----------------------------------------------------------------------
    def _console_up(self, deadline: Deadline, not_up: type[TransportError], stale_prompt: bytes) -> None:
        if not self._log_in(deadline, stale_prompt):
            raise not_up(f"no login or shell prompt on console {self.spec.port}")
        token = secrets.token_hex(4)
        prompt = f"@HP{token}# "
        # Split in the typed line so the echo of this very line never shows the prompt itself.
        setup = SETUP + f"PS1='@HP''{token}# '"
        self._prompt = prompt.encode()
        try:
            self._exchange(setup, deadline, None, BoundedBuffer(SCREEN_KEEP), subshell=False)
            # Does the tty still turn \n into \r\n (no stty)? Then output must be normalised.
            probe = BoundedBuffer(64)
            self._translate_crlf = False
            self._exchange("printf 'a\\nb'", deadline, None, probe)
        except _Expired:
            raise not_up(f"console {self.spec.port} did not take the setup commands") from None
        self._translate_crlf = probe.getvalue() != b"a\nb"
        self._ready = True
        log.debug(redact(f"console {self.spec.port} ready (crlf translation: {self._translate_crlf})"))

    def _log_in(self, deadline: Deadline, stale_prompt: bytes = b"") -> bool:
        """Answer login/password prompts until a shell prompt shows. False when the deadline passes."""
        screen = bytearray(self._pending)
        self._pending = b""
        sent_user = sent_password = False
        self._line.write(b"\r")
        last_bytes = monotonic()
        while not deadline.expired:
            data = self._line.read(min(deadline.remaining(), NUDGE_AFTER))
            if not data:
                if not sent_user and monotonic() - last_bytes >= NUDGE_AFTER:
                    self._line.write(b"\r")
                    last_bytes = monotonic()
                continue
            last_bytes = monotonic()
            screen += data
            del screen[:-SCREEN_KEEP]
            state = classify(bytes(screen), self._patterns)
            if state is ConsoleState.SHELL:
                if stale_prompt and stale_prompt in screen[-len(stale_prompt) - 16 :]:
                    continue  # our own prompt from before the reboot: the board has not gone down yet
                return True
            if state is ConsoleState.PASSWORD:
                password = self.spec.password.reveal()
                if password is None or sent_password:
                    raise AuthFailed(f"{self.label} refused the login for user {self.spec.user!r}")
                self._line.write(password.encode() + b"\r")
                sent_password = True
                screen.clear()
            elif state in (ConsoleState.LOGIN, ConsoleState.INCORRECT):
                if sent_password or (sent_user and state is ConsoleState.INCORRECT):
                    raise AuthFailed(f"{self.label} refused the login for user {self.spec.user!r}")
                if sent_user:
                    continue  # the prompt again, answering our wake-up Enter: the user is on its way
                if self.spec.user is None:
                    raise AuthFailed(f"{self.label} asks for a login but no user is configured")
                self._line.write(self.spec.user.encode() + b"\r")
                sent_user = True
                screen.clear()
        return False

    # -- one framed exchange ---------------------------------------------------------------------
    def _read(self, deadline: Deadline) -> bytes:
        if deadline.expired:
            raise _Expired
        return self._line.read(deadline.remaining())

    def _exchange(
        self,
        cmd: str,
        deadline: Deadline,
        on_output: OutputCallback | None,
        out: BoundedBuffer,
        subshell: bool = True,
    ) -> int:
        """Type one framed command, stream its output into `out`, wait for the prompt; the exit code."""
        frame = Frame(secrets.token_hex(6))
        parser = FrameParser(frame, translate_crlf=self._translate_crlf)
        self._line.write((frame.command(cmd, subshell) + "\r").replace("\n", "\r").encode())
        data, self._pending = self._pending, b""
        while True:
            try:
                chunk = parser.feed(data)
            except ParseError as exc:
                # The stream is not what we framed: nothing on this link can be trusted any more.
                self._drop()
                raise ConnectionLost(f"{self.label}: garbled console stream: {exc}", usable=False) from None
            self._hand_on(chunk, out, on_output)
            if parser.done:
                break
            try:
                data = self._read(deadline)
            except (_Expired, ConnectionLost):
                self._hand_on(parser.flush(), out, on_output)  # partial output is kept
                raise
        # The prompt after the end marker says the shell is ready for the next line.
        tail = parser.rest
        while (at := tail.find(self._prompt)) < 0:
            tail = tail[-len(self._prompt) :] + self._read(deadline)
        self._pending = tail[at + len(self._prompt) :]
        assert parser.exit_code is not None
        return parser.exit_code

    @staticmethod
    def _hand_on(chunk: bytes, out: BoundedBuffer, on_output: OutputCallback | None) -> None:
        if chunk:
            out.add(chunk)
            if on_output is not None:
                on_output("stdout", chunk)

    def _resync(self) -> bool:
        """After a timeout: Ctrl-C, then a fresh framed no-op must come back. True if it did."""
        for _ in range(2):
            self._line.write(b"\x03")
            try:
                self._exchange(":", Deadline(RESYNC_TIMEOUT / 2), None, BoundedBuffer(SCREEN_KEEP))
                return True
            except _Expired:
                continue
        return False

    # -- the Transport contract ------------------------------------------------------------------
    def run(
        self,
        cmd: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        on_output: OutputCallback | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> CommandResult:
        self.connect()
        started = monotonic()
        out = BoundedBuffer(max_output)
        try:
            code = self._exchange(cmd, Deadline(timeout), on_output, out)
        except _Expired:
            usable = self._resync()
            self._ready = usable
            log.info(mask_command(f"console command timed out after {timeout:g}s (usable={usable}): {cmd}"))
            raise CommandTimeout(
                f"command timed out after {timeout:g}s on console {self.spec.port}: {mask_command(cmd)}",
                usable=usable, stdout=out.getvalue(), timeout=timeout,
            ) from None
        except ConnectionLost:
            self._drop()
            raise
        return CommandResult(
            command=cmd, exit_code=code, stdout=out.getvalue(), stderr=b"",
            duration=monotonic() - started, truncated=out.truncated, stderr_separate=False,
        )

    def push(self, local: Path, remote: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Copy a file to the board over the console itself: base64 lines, then a SHA-256 check."""
        deadline = Deadline(timeout)
        data = Path(local).read_bytes()
        target = shell_quote(remote)
        self._must(f": > {target}", deadline, "cannot create")
        encoded = base64.b64encode(data).decode()
        step = PUSH_LINE * PUSH_LINES_PER_COMMAND
        for at in range(0, len(encoded), step):
            piece = encoded[at : at + step]
            lines = "\n".join(piece[i : i + PUSH_LINE] for i in range(0, len(piece), PUSH_LINE))
            self._must(f"printf %s {shell_quote(lines)} | base64 -d >> {target}", deadline, "cannot write")
        self._check_digest(remote, hashlib.sha256(data).hexdigest(), deadline)

    def pull(self, remote: str, local: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Copy a file from the board: its base64 over the console, then a SHA-256 check."""
        deadline = Deadline(timeout)
        encoded = self._must(f"base64 {shell_quote(remote)}", deadline, "cannot read", self.pull_limit)
        try:
            data = base64.b64decode(b"".join(encoded.split()))
        except binascii.Error as exc:
            raise TransferError(f"pull {remote}: the board sent damaged base64: {exc}") from None
        self._check_digest(remote, hashlib.sha256(data).hexdigest(), deadline)
        Path(local).write_bytes(data)

    def _must(self, cmd: str, deadline: Deadline, what: str, limit: int = 1 << 20) -> bytes:
        result = self.run(cmd, max(deadline.remaining(), 0.001), max_output=limit)
        if result.exit_code != 0:
            raise TransferError(f"{what} {cmd.split()[-1]} on the board: {result.stdout_text[-200:].strip()}")
        if result.truncated:
            raise TransferError(f"{cmd.split()[-1]}: more than {limit} bytes of output; too large to copy")
        return result.stdout

    def _check_digest(self, remote: str, expected: str, deadline: Deadline) -> None:
        listing = self._must(f"sha256sum {shell_quote(remote)}", deadline, "cannot checksum")
        got = listing.split()[0].decode(errors="replace") if listing.split() else ""
        if got != expected:
            raise TransferError(f"{remote}: SHA-256 on the board {got or '?'} differs from {expected}")

    def reboot(self) -> None:
        """Type the reboot command (it never answers, so it is not framed) and forget the session."""
        self.connect()
        self._line.write(self.reboot_command.encode() + b"\r")
        self._stale_prompt, self._ready = self._prompt, False

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait for a login or shell prompt again, log in, set the console up, then for ready_command."""
        deadline = Deadline(timeout)
        while not self.connected:
            try:
                self._bring_up(deadline, NotReady)
            except (ConnectFailed, ConnectionLost):
                # The link itself (a USB adapter, ser2net) may come back later than the board.
                try:
                    poll_until(self._reopens, deadline.remaining(), interval=0.2, what=f"{self.label}")
                except TimeoutError:
                    raise NotReady(f"{self.label} did not come back within {timeout:g}s") from None
        ready_command = self.ready_command
        if ready_command is None:
            return

        def ready() -> bool:
            try:
                return self.run(ready_command, max(deadline.remaining(), 0.5)).ok
            except CommandTimeout:
                return False  # not ready yet; the deadline decides

        try:
            poll_until(ready, deadline.remaining(), interval=READY_INTERVAL, what=repr(ready_command))
        except TimeoutError:
            raise NotReady(f"{self.label}: {ready_command!r} did not succeed within {timeout:g}s") from None

    def _reopens(self) -> bool:
        try:
            self._link = open_link(self.spec.port, self.spec.baud)
        except ConnectFailed:
            return False
        return True

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> SerialTransport:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SerialTransport(port={self.spec.port!r}, user={self.spec.user!r})"
