"""The SSH transport: one persistent paramiko connection per device, an exec channel per command,
SFTP for files. Connection set-up (config, host keys, login, jump host) lives in ssh_connect."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
import shlex
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import paramiko

from ..errors import (
    AuthFailed,
    CommandTimeout,
    ConfigError,
    ConnectFailed,
    ConnectionLost,
    HostKeyMismatch,
    NotReady,
    TransferError,
    TransportError,
)
from ..links.ssh import SshSpec
from ..profiles import Profile
from ..secrets import mask_command, redact
from ..waiting import Deadline, poll_until
from . import ssh_sftp
from .base import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, BoundedBuffer, CommandResult, OutputCallback
from .ssh_channel import (
    LINK_ERRORS,
    StreamsReady,
    drain,
    parse_stopper,
    refused,
    report_exit_signals,
    send_signal,
    start_exec,
    stopper_command,
    tag_command,
)
from .ssh_connect import HostKeyCheck, SshEndpoint, connect_endpoint, resolve

# After a timeout: how long the command's processes get to end on SIGTERM (their traps run) before
# SIGKILL, and how long SIGKILL may take to be seen through.
STOP_GRACE = 1.0
# Generous: a look at an emulated or busy board's /proc can take seconds.
KILL_TIMEOUT = 20.0
# A wait for a channel's output (ssh_channel.StreamsReady) is bounded by this, a belt over the braces of
# its lock: were a wake-up ever lost, it would cost this long, never a hang (paramiko's own fileno pipe
# did lose them, on dropbear with both streams busy and the window full).
EVENT_RECHECK = 0.1
# Between two looks at whether the processes are gone (each look is a command on the device).
STOP_POLL = 0.05
# How long a device may take to drop the link after it accepted the reboot command.
REBOOT_DOWN_TIMEOUT = 60.0


# paramiko logs a device that breaks off mid-handshake as an ERROR with a traceback; with no logging
# set up, Python's last-resort handler would print that on stderr (`harness exec` output). The typed
# error says it in one line; a user who configures logging still gets paramiko's records.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

StopperLook = tuple[int, tuple[int, ...]]  # how many of the command's processes were alive, their pids
TransferAction = Callable[[paramiko.SFTPClient, Deadline], None]


class SshTransport:
    kind = "ssh"

    def __init__(self, spec: SshSpec, *, reboot_command: str = "reboot", ready_command: str | None = None):
        self.spec = spec
        self.reboot_command = reboot_command
        self.ready_command = ready_command
        self._target: SshEndpoint | None = None
        self._hostkeys: HostKeyCheck | None = None
        self._transport: paramiko.Transport | None = None
        self._jump: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._channels: set[paramiko.Channel] = set()
        self._lock = threading.RLock()

    @property
    def label(self) -> str:
        if self._target is not None:
            return self._target.label
        return f"{self.spec.user or '?'}@{self.spec.host}:{self.spec.port}"

    @property
    def connected(self) -> bool:
        return self._transport is not None and self._transport.is_active()

    # -- connection ----------------------------------------------------------------------------

    def connect(self, timeout: float | None = None) -> None:
        """Open the connection unless it is up; a dropped one is replaced. Idempotent."""
        with self._lock:
            if self.connected:
                return
            self._drop()
            spec = self.spec if timeout is None else dataclasses.replace(self.spec, connect_timeout=timeout)
            target, jump_endpoint, config = resolve(spec)
            self._target = target
            if self._hostkeys is None:  # kept across reconnects: it remembers opted-in unknown keys
                self._hostkeys = HostKeyCheck(spec, config)
            try:
                if jump_endpoint is not None:
                    self._jump = connect_endpoint(jump_endpoint, spec, self._hostkeys, via=None, pinned=False)
                self._transport = connect_endpoint(target, spec, self._hostkeys, via=self._jump, pinned=True)
            except LINK_ERRORS as exc:  # anything ssh_connect did not map: still lab trouble, typed
                self._drop()
                raise ConnectFailed(redact(f"cannot connect to {target.label}: {exc}")) from None
            except BaseException:
                self._drop()
                raise
            self._transport.set_keepalive(30)
            report_exit_signals(self._transport)

    def _drop(self) -> None:
        """Forget the connection (closing what is left of it), keeping this object reusable."""
        with self._lock:
            for chan in list(self._channels):
                with contextlib.suppress(*LINK_ERRORS):
                    chan.close()
            self._channels.clear()
            for closable in (self._sftp, self._transport, self._jump):
                if closable is not None:
                    with contextlib.suppress(*LINK_ERRORS):
                        closable.close()
            self._sftp = self._transport = self._jump = None

    def _open_channel(self) -> paramiko.Channel:
        self.connect()
        for attempt in (1, 2):
            transport = self._transport
            assert transport is not None
            try:
                chan = transport.open_session(timeout=self.spec.connect_timeout)
                break
            except paramiko.ChannelException as exc:  # refused (MaxSessions...), the link is fine
                raise TransportError(f"{self.label} refused a new session: {exc}", usable=True) from None
            except LINK_ERRORS as exc:
                # The link died while idle and paramiko had not noticed yet. Nothing ran, so one
                # reconnect and retry is safe.
                self._drop()
                if attempt == 2:
                    message = f"cannot open a channel to {self.label}: {exc}"
                    raise ConnectionLost(message, usable=True) from exc
                self.connect()
        with self._lock:
            self._channels.add(chan)
        return chan

    def _release(self, chan: paramiko.Channel) -> None:
        # Closing a channel on a link that just died (a reboot, a drop) has nothing left to do.
        with contextlib.suppress(*LINK_ERRORS):
            chan.close()
        with self._lock:
            self._channels.discard(chan)

    # -- commands ------------------------------------------------------------------------------

    def run(
        self,
        cmd: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        on_output: OutputCallback | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> CommandResult:
        started = time.monotonic()
        deadline = Deadline(timeout)
        chan = self._open_channel()
        out, err = BoundedBuffer(max_output), BoundedBuffer(max_output)
        tag = secrets.token_hex(8)  # what the command's processes carry, to find them all if it must stop
        try:
            try:
                start_exec(chan, tag_command(cmd, tag))
            except LINK_ERRORS as exc:
                raise self._lost(f"could not start {cmd!r}: {exc}", chan.get_transport()) from None
            exit_code = self._collect(chan, cmd, deadline, timeout, out, err, on_output)
        except CommandTimeout as exc:
            if not self._stop_remote(chan, tag):
                exc.args = (f"{exc.args[0]}; its processes could not be verified gone",)
            exc.usable = self.connected
            raise
        except BaseException:
            # Also on Ctrl-C or a failing on_output: do not leave the remote command running.
            if not chan.closed:
                self._stop_remote(chan, tag)
            raise
        finally:
            self._release(chan)
        return CommandResult(
            command=cmd,
            exit_code=exit_code,
            stdout=out.getvalue(),
            stderr=err.getvalue(),
            duration=time.monotonic() - started,
            truncated=out.truncated or err.truncated,
        )

    def _collect(
        self,
        chan: paramiko.Channel,
        cmd: str,
        deadline: Deadline,
        timeout: float,
        out: BoundedBuffer,
        err: BoundedBuffer,
        on_output: OutputCallback | None,
    ) -> int:
        # Sleeps until data, EOF or close arrives, with no polling interval to add latency.
        ready = StreamsReady(chan)
        while True:
            drain(chan, out, err, on_output)
            if chan.eof_received or chan.closed:
                drain(chan, out, err, on_output)
                break
            if deadline.expired:
                self._timed_out(chan, cmd, timeout, out, err, on_output)
            ready.wait(min(deadline.remaining(), EVENT_RECHECK))
        # Output ended; the exit status may still be on its way (or the command closed its output
        # and keeps running).
        if not chan.status_event.wait(deadline.remaining()):
            self._timed_out(chan, cmd, timeout, out, err, on_output)
        if chan.exit_status == -1 and _link_broken(chan.get_transport()):
            raise self._lost(f"connection dropped while running {cmd!r}", chan.get_transport())
        if refused(chan):
            raise TransportError(mask_command(f"{self.label} refused to run {cmd!r}"), usable=True)
        # -1 only from a server that sends neither exit-status nor exit-signal.
        return chan.exit_status

    def _stop_remote(self, chan: paramiko.Channel, tag: str) -> bool:
        """Stop every process of a command that must not go on, whichever server runs it and whoever
        their parent is by now: SIGTERM (its traps run), a grace, SIGKILL, until a look at the device
        finds none left. True once verified gone. Where that cannot run (no /proc, no channel), signal
        requests are what is left (OpenSSH honours them for non-root logins; dropbear signals only the
        shell), and the answer is False."""
        try:
            gone = self._stop_tagged(tag)
        except (TransportError, *LINK_ERRORS):
            gone = None
        if gone is None:
            send_signal(chan, "TERM")
            if not chan.status_event.wait(STOP_GRACE):
                send_signal(chan, "KILL")
        with contextlib.suppress(*LINK_ERRORS):
            chan.close()
        return bool(gone)

    def _stop_tagged(self, tag: str) -> bool | None:
        found: set[int] = set()  # every pid seen: one adopted by init after its parent died is still ours

        def look(signal_name: str) -> int | None:
            answer = self._stopper(tag, signal_name, tuple(sorted(found)))
            if answer is None:
                return None
            found.update(answer[1])
            return answer[0]

        live = look("TERM")
        grace = Deadline(STOP_GRACE)
        while live and not grace.expired:
            time.sleep(STOP_POLL)  # the poll interval between looks, not a guess at how long it takes
            live = look("0")
        killing = Deadline(KILL_TIMEOUT)
        while live:  # each look sends SIGKILL to what it finds (a child forked since the last one too)
            if killing.expired:
                return False
            live = look("KILL")
        return None if live is None else True

    def _stopper(self, tag: str, signal_name: str, known: tuple[int, ...]) -> StopperLook | None:
        """One look (and signal) by harness.transports.ssh_channel.STOPPER on a fresh channel; None when the
        device cannot say (the stopper exits 3 without /proc) or the look itself fails."""
        if not self.connected:
            return None
        chan = self._open_channel()
        out, err = BoundedBuffer(64 * 1024), BoundedBuffer(64 * 1024)
        try:
            chan.exec_command(stopper_command(tag, signal_name, known))
            deadline = Deadline(KILL_TIMEOUT)
            ready = StreamsReady(chan)
            while not (chan.eof_received or chan.closed) and not deadline.expired:
                drain(chan, out, err, None)
                ready.wait(min(deadline.remaining(), EVENT_RECHECK))
            drain(chan, out, err, None)
            if not chan.status_event.wait(deadline.remaining()) or chan.exit_status != 0:
                return None
            return parse_stopper(out.getvalue())
        finally:
            self._release(chan)

    def _timed_out(
        self,
        chan: paramiko.Channel,
        cmd: str,
        timeout: float,
        out: BoundedBuffer,
        err: BoundedBuffer,
        on_output: OutputCallback | None,
    ) -> None:
        # run() stops the remote command on the way out; usable is judged after that.
        drain(chan, out, err, on_output)
        raise CommandTimeout(
            mask_command(f"{cmd!r} on {self.label} ran past {timeout:g}s and was stopped"),
            usable=True,
            stdout=out.getvalue(),
            stderr=err.getvalue(),
            timeout=timeout,
        )

    def _lost(self, what: str, broken: paramiko.Transport | None = None) -> ConnectionLost:
        with self._lock:
            # Another thread may already have replaced the broken connection: keep the new one.
            if broken is None or broken is self._transport:
                self._drop()
        # usable: the next run() reconnects on its own.
        return ConnectionLost(redact(f"{self.label}: {what}"), usable=True)

    # -- files ---------------------------------------------------------------------------------

    def _sftp_client(self) -> paramiko.SFTPClient:
        self.connect()
        with self._lock:
            channel = self._sftp.get_channel() if self._sftp is not None else None
            if self._sftp is None or channel is None or channel.closed:
                assert self._transport is not None
                try:
                    self._sftp = paramiko.SFTPClient.from_transport(self._transport)
                except LINK_ERRORS as exc:
                    raise TransferError(f"cannot start SFTP on {self.label}: {exc}") from None
                if self._sftp is None:
                    raise TransferError(f"cannot start SFTP on {self.label}")
            return self._sftp

    def _transfer(self, what: str, timeout: float, action: TransferAction) -> None:
        deadline = Deadline(timeout)
        sftp = self._sftp_client()
        channel = sftp.get_channel()
        if channel is not None:
            channel.settimeout(timeout)  # bounds each SFTP round trip; the deadline bounds the whole
        try:
            action(sftp, deadline)
        except ssh_sftp.Damaged as exc:
            raise TransferError(f"{what}: {exc}") from None
        except (ssh_sftp.TransferTimeout, paramiko.SFTPError, *LINK_ERRORS) as exc:
            # A transfer cut anywhere (a read timed out inside paramiko's prefetch, say) can leave the
            # SFTP session mid-packet: the next request would read the rest as "garbage". Never reuse it.
            self._sftp = None
            with contextlib.suppress(Exception):
                sftp.close()
            if isinstance(exc, ssh_sftp.TransferTimeout | TimeoutError) or deadline.expired:
                raise TransferError(f"{what}: timed out after {timeout:g}s") from None
            if _link_broken(self._transport):
                raise self._lost(f"{what}: connection dropped", self._transport) from None
            raise TransferError(f"{what}: {ssh_sftp.reason(exc)}") from None

    def push(self, local: Path, remote: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        local = Path(local)
        what = f"push {local} -> {self.label}:{remote}"
        if not local.is_file():
            raise TransferError(f"{what}: no such local file")
        self._transfer(what, timeout,
                       lambda sftp, deadline: ssh_sftp.put(sftp, local, remote, deadline, self._digest))

    def pull(self, remote: str, local: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        local = Path(local)
        what = f"pull {self.label}:{remote} -> {local}"
        self._transfer(what, timeout,
                       lambda sftp, deadline: ssh_sftp.get(sftp, remote, local, deadline, self._digest))

    def _digest(self, remote: str, deadline: Deadline) -> str | None:
        """The device's own SHA-256 of `remote`; None where it has no sha256sum (busybox may lack it)."""
        try:
            result = self.run(f"sha256sum {shlex.quote(remote)}", max(deadline.remaining(), 1.0),
                              max_output=4096)
        except CommandTimeout:
            return None
        fields = result.stdout.split()
        if result.exit_code != 0 or not fields or len(fields[0]) != 64:
            return None
        return fields[0].decode(errors="replace").lower()

    # -- reboot --------------------------------------------------------------------------------

    def reboot(self, down_timeout: float = REBOOT_DOWN_TIMEOUT) -> None:
        """Send the reboot command and return once the device has dropped the link. A device takes a
        moment to go down after it accepts `reboot`; a reconnect before that reaches the old boot, and
        wait_ready would report a reboot that never happened. NotReady if the link stays up."""
        chan = self._open_channel()
        link = chan.get_transport()
        # exec_command returns once sshd has started it; a device that drops the link before the
        # reply got the request anyway.
        with contextlib.suppress(*LINK_ERRORS):
            chan.exec_command(self.reboot_command)
        self._release(chan)
        if link is not None:
            link.join(down_timeout)  # paramiko's transport thread ends with the connection
        went_down = link is None or not link.is_active()
        self._drop()
        if not went_down:
            raise NotReady(f"{self.label} still up {down_timeout:g}s after {self.reboot_command!r}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = Deadline(timeout)

        def answers() -> bool:
            budget = max(0.5, deadline.remaining())
            try:
                self.connect(timeout=min(self.spec.connect_timeout, budget))
                if not self.run("true", timeout=budget).ok:
                    return False
                return self.ready_command is None or self.run(self.ready_command, timeout=budget).ok
            except (AuthFailed, HostKeyMismatch, ConfigError):
                raise  # will not get better by waiting
            except TransportError:
                self._drop()
                return False

        try:
            poll_until(answers, timeout, interval=0.5, what=f"{self.label} to answer")
        except TimeoutError:
            raise NotReady(f"{self.label} did not become ready within {timeout:g}s") from None

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> SshTransport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SshTransport({self.label}, connected={self.connected})"


def _link_broken(transport: paramiko.Transport | None) -> bool:
    # paramiko records the socket error before it closes the channels and only later marks the
    # transport inactive: a channel closed by a dying link may still see is_active() True.
    # (It also keeps auth and channel-open refusals there; those say nothing about the link.)
    if transport is None or not transport.is_active():
        return True
    error = transport.saved_exception
    harmless = (paramiko.AuthenticationException, paramiko.ChannelException)
    return isinstance(error, LINK_ERRORS) and not isinstance(error, harmless)


def from_spec(spec: SshSpec, profile: Profile) -> SshTransport:
    """The ssh link's transport (harness.links.ssh names it): the profile's reboot and ready commands."""
    return SshTransport(spec, reboot_command=profile.reboot_command, ready_command=profile.boot_completed)
