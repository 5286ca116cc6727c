"""The serial console transport: commands typed into a board's shell over a UART, socket:// or rfc2217://.

Console driver on connect (and again after a reboot): wake the line, answer the login and password
prompts, then make the shell predictable (serial_session, serial_protocol): no echo, no output
translation, console printk silenced, a prompt that carries a fresh token, and the functions that run
each command as a background job whose stdout and stderr are kept apart on the board and sent back
checked, so text others write to the console never reaches a result. Nothing waits a fixed time.
close() leaves the console as it was found: terminal, printk level and prompt restored, logged out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from pathlib import Path
from types import TracebackType

from ..atomic_file import write_atomic
from ..errors import (
    AuthFailed,
    CommandTimeout,
    ConnectFailed,
    ConnectionLost,
    NotReady,
    TransferError,
    TransportError,
)
from ..links.serial import SerialSpec
from ..profiles import Profile
from ..secrets import mask_command, redact
from ..waiting import Deadline, poll_until
from .adb_files import temporary_remote_name
from .base import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, CommandResult, OutputCallback, monotonic
from .serial_framing import ConsoleState, PromptPatterns, classify, last_line, shell_quote
from .serial_link import ByteLink, open_link
from .serial_session import ConsoleSession, Expired, Outcome

log = logging.getLogger(__name__)

# Without new bytes for this long while waiting for a prompt, press Enter again (a board still booting
# or a prompt printed before we listened). This is a nudge interval, not a wait for an event.
NUDGE_AFTER = 1.0
SCREEN_KEEP = 4096
# One try at the setup; a board that rebooted under it is logged in again.
SETUP_TIMEOUT = 10.0
# The end of a prompt of ours (its token, maybe cut off at the front by a read).
_OUR_PROMPT = re.compile(r"[0-9a-f]{12,13}# $")
# close() waits this long at most for the restore to be done and for the login prompt after logout.
LOGOUT_WAIT = 2.0
# Canonical-mode ttys cut input lines at 4095 bytes; push keeps each typed line well under that.
PUSH_LINE = 3000
PUSH_LINES_PER_COMMAND = 16
DISCARD_TIMEOUT = 5.0  # removing a failed push's temporary file: a quick command, or the console is gone
# pull keeps the file's base64 in memory: a device may not make it grow without bound.
PULL_MAX_BASE64 = 256 * 1024 * 1024
# How long wait_ready waits before asking ready_command again.
READY_INTERVAL = 0.5


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
        self._session: ConsoleSession | None = None
        self._pending = b""
        self._rebooting = False  # a prompt of ours now means "not gone down yet"
        self._logged_in = False  # we answered a login prompt: close() logs out again
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
            self._console_up(deadline, not_up, self._rebooting)
        except BaseException:
            self._drop()
            raise
        self._rebooting = False

    def _drop(self) -> None:
        self._ready = False
        self._session = None
        if self._link is not None:
            self._link.close()
            self._link = None

    @property
    def _line(self) -> ByteLink:
        if self._link is None:
            raise ConnectionLost(f"{self.label} is not connected")
        return self._link

    # -- the console driver ----------------------------------------------------------------------
    def _console_up(self, deadline: Deadline, not_up: type[TransportError], rebooting: bool) -> None:
        while True:
            if not self._log_in(deadline, rebooting):
                raise not_up(f"no login or shell prompt on console {self.spec.port}")
            session = ConsoleSession(self._line, self.label)
            screen, self._pending = self._pending, b""
            try:
                session.setup(Deadline(min(deadline.remaining(), SETUP_TIMEOUT)), screen)
                break
            except Expired:
                # A board that went down (or back to its login prompt) under the setup: log in again.
                if deadline.expired:
                    raise not_up(f"console {self.spec.port} did not take the setup commands") from None
                log.debug("%s: setup not taken, logging in again", self.label)
        self._session = session
        self._ready = True
        log.debug(redact(f"console {self.spec.port} ready (shell {session.shell or '?'}, "
                         f"{session.strategy.value}, crlf translation: {session.translate_crlf})"))

    def _log_in(self, deadline: Deadline, rebooting: bool = False) -> bool:
        """Answer login/password prompts until a shell prompt shows. False when the deadline passes."""
        screen = bytearray(self._pending)
        self._pending = b""
        sent_user = sent_password = False
        self._logged_in = False
        self._line.write(b"\r")
        last_bytes = monotonic()
        while not deadline.expired:
            data = self._line.read(min(deadline.remaining(), NUDGE_AFTER))
            if not data:
                # Quiet, and no prompt we know: press Enter for a fresh one (foreign text may have cut
                # it), except at the password prompt, where Enter would be an empty password.
                if (not sent_user or sent_password) and monotonic() - last_bytes >= NUDGE_AFTER:
                    self._line.write(b"\r")
                    last_bytes = monotonic()
                continue
            last_bytes = monotonic()
            screen += data
            del screen[:-SCREEN_KEEP]
            state = classify(bytes(screen), self._patterns)
            if state is ConsoleState.SHELL:
                if rebooting and _OUR_PROMPT.search(last_line(bytes(screen))):
                    continue  # our own prompt from before the reboot: the board has not gone down yet
                self._logged_in = sent_user
                self._pending = bytes(screen)
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

    # -- the Transport contract ------------------------------------------------------------------
    def run(
        self,
        cmd: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        on_output: OutputCallback | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> CommandResult:
        """The command's output comes once it has ended and been checked (on_output is then called
        once per stream): a console is shared, and what others wrote on it must not pass for output."""
        self.connect()
        session = self._session
        assert session is not None
        started = monotonic()
        try:
            got = session.run(cmd, max_output, Deadline(timeout))
        except Expired:
            got = self._timed_out(session, cmd, timeout, max_output)
        except ConnectionLost:
            self._drop()
            raise
        if on_output is not None:
            for stream, data in (("stdout", got.stdout), ("stderr", got.stderr)):
                if data:
                    on_output(stream, data)
        return CommandResult(
            command=cmd, exit_code=got.code, stdout=got.stdout, stderr=got.stderr,
            duration=monotonic() - started, truncated=got.truncated,
        )

    def _timed_out(self, session: ConsoleSession, cmd: str, timeout: float, max_output: int) -> Outcome:
        """Stop the command for good; its result when it had ended after all, else CommandTimeout."""
        try:
            usable, finished, partial = session.stop_command(max_output)
        except (Expired, ConnectionLost):
            usable, finished, partial = False, None, None
        if finished is not None:
            return finished
        self._ready = usable
        if not usable:
            self._drop()
        log.info(mask_command(f"console command timed out after {timeout:g}s (usable={usable}): {cmd}"))
        raise CommandTimeout(
            f"command timed out after {timeout:g}s on console {self.spec.port}: {mask_command(cmd)}",
            usable=usable, timeout=timeout,
            stdout=partial.stdout if partial else b"", stderr=partial.stderr if partial else b"",
        ) from None

    def push(self, local: Path, remote: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Copy a file to the board over the console itself: base64 lines into a temporary name beside
        the target, a SHA-256 check, then a rename over it: a failed push leaves the old target whole."""
        deadline = Deadline(timeout)
        data = Path(local).read_bytes()
        partial = temporary_remote_name(remote)
        target = shell_quote(partial)
        try:
            self._must(f": > {target}", deadline, "cannot create")
            encoded = base64.b64encode(data).decode()
            step = PUSH_LINE * PUSH_LINES_PER_COMMAND
            for at in range(0, len(encoded), step):
                piece = encoded[at : at + step]
                lines = "\n".join(piece[i : i + PUSH_LINE] for i in range(0, len(piece), PUSH_LINE))
                self._must(f"printf %s {shell_quote(lines)} | base64 -d >> {target}", deadline,
                           "cannot write")
            self._check_digest(partial, hashlib.sha256(data).hexdigest(), deadline)
            self._must(f"mv -f {target} {shell_quote(remote)}", deadline, "cannot rename")
        except BaseException:
            self._discard(partial)
            raise

    def _discard(self, partial: str) -> None:
        """Best effort: remove a failed push's temporary file (logging in again if the timeout cost the
        session); a console that no longer answers keeps it, hidden beside the untouched target."""
        try:
            self.run(f"rm -f {shell_quote(partial)}", DISCARD_TIMEOUT)
        except TransportError:
            log.debug("could not remove %s on the board after a failed push", partial)

    def pull(self, remote: str, local: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Copy a file from the board: its base64 over the console, then a SHA-256 check; the local
        file appears whole or not at all."""
        deadline = Deadline(timeout)
        encoded = self._must(f"base64 {shell_quote(remote)}", deadline, "cannot read", self.pull_limit)
        try:
            data = base64.b64decode(b"".join(encoded.split()))
        except binascii.Error as exc:
            raise TransferError(f"pull {remote}: the board sent damaged base64: {exc}") from None
        self._check_digest(remote, hashlib.sha256(data).hexdigest(), deadline)
        try:
            write_atomic(Path(local), data)
        except OSError as exc:
            raise TransferError(f"pull {remote}: cannot write {local}: {exc.strerror or exc}") from None

    def _must(self, cmd: str, deadline: Deadline, what: str, limit: int = 1 << 20) -> bytes:
        result = self.run(cmd, max(deadline.remaining(), 0.001), max_output=limit)
        if result.exit_code != 0:
            said = (result.stderr_text or result.stdout_text)[-200:].strip()
            raise TransferError(f"{what} {cmd.split()[-1]} on the board: {said}")
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
        self._rebooting, self._ready, self._session = True, False, None

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
        """Leave the console as it was found (terminal, printk level, prompt; logged out), then let go."""
        session, link = self._session, self._link
        if session is not None and link is not None and self._ready:
            try:
                session.restore(self._logged_in, Deadline(LOGOUT_WAIT))
                if self._logged_in:
                    self._await_login_prompt(link)
            except (TransportError, Expired):
                pass  # the link is going anyway
        self._drop()

    def _await_login_prompt(self, link: ByteLink) -> None:
        """Briefly, until the console asks for a login again (the logout took); never an error."""
        deadline, screen = Deadline(LOGOUT_WAIT), b""
        while not deadline.expired:
            screen = (screen + link.read(deadline.remaining()))[-SCREEN_KEEP:]
            if classify(screen, self._patterns) is ConsoleState.LOGIN:
                return

    def __enter__(self) -> SerialTransport:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SerialTransport(port={self.spec.port!r}, user={self.spec.user!r})"


def from_spec(spec: SerialSpec, profile: Profile) -> SerialTransport:
    """The serial link's transport (harness.links.serial names it): the profile's reboot and ready
    commands."""
    return SerialTransport(spec, reboot_command=profile.reboot_command, ready_command=profile.boot_completed)
