"""The ADB transport: commands, files and reboots through an adb server (local or a lab host's).

Exit codes come from shell protocol v2 where the device offers it (stderr kept apart); otherwise a
fresh marker printed after the command carries `$?` (stderr merged, as the legacy shell does)."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import socket
import stat
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from harness.errors import (
    CommandTimeout,
    ConnectFailed,
    ConnectionLost,
    NotReady,
    TransferError,
    TransportError,
)
from harness.links.adb import AdbSpec
from harness.profiles import Profile
from harness.waiting import Deadline, poll_until

from ..atomic_file import replace_durably
from . import adb_files
from .adb_host import AdbHost, close_quietly
from .adb_sync import sync_quit, sync_recv, sync_send, sync_stat
from .adb_wire import (
    SHELL_CLOSE_STDIN,
    SHELL_EXIT,
    SHELL_STDERR,
    SHELL_STDOUT,
    ShellPacketReader,
    shell_packet,
)
from .base import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, BoundedBuffer, CommandResult, OutputCallback, monotonic

READ_SIZE = 256 * 1024
# An `adb connect`ed device that stays offline this long is disconnected and connected again: the
# adb server's own reconnect backs off for seconds after a reboot.
RECONNECT_AFTER = 1.0
MISSING_RETRY = 0.25
# How long a device may take to close the reboot stream (going down) after it accepted `reboot:`.
REBOOT_DOWN_TIMEOUT = 60.0


class _Timeout(Exception):
    pass


class AdbTransport:
    kind = "adb"

    def __init__(self, spec: AdbSpec, *, boot_completed_prop: str = "sys.boot_completed") -> None:
        self.spec = spec
        self.serial = spec.serial
        self.boot_completed_prop = boot_completed_prop
        self.host = AdbHost(spec.server_host, spec.server_port)
        self._features: frozenset[str] | None = None

    # Device features, learned once per boot.

    def features(self, timeout: float = 10.0) -> frozenset[str]:
        if self._features is None:
            deadline = Deadline(timeout)
            if self.spec.connect:
                self._wait_online(deadline)
            reply = self.host.query(f"host-serial:{self.serial}:features", max(deadline.remaining(), 0.5))
            self._features = frozenset(f for f in reply.strip().split(",") if f)
        return self._features

    @property
    def shell_v2(self) -> bool:
        return "shell_v2" in self.features()

    def _connect(self) -> str:
        assert self.spec.connect is not None
        return self.host.query(f"host:connect:{self.spec.connect}").strip()

    def _wait_online(self, deadline: Deadline) -> None:
        """For a network device: `host:connect` it, then wait until the server says `device`."""
        state = self.host.get_state(self.serial)
        if state == "device":
            return
        answer = self._connect()
        if "connected to" not in answer:
            raise ConnectFailed(f"adb connect {self.spec.connect}: {answer}")
        try:
            poll_until(lambda: self.host.get_state(self.serial) == "device", deadline.remaining())
        except TimeoutError:
            state = self.host.get_state(self.serial)
            raise ConnectFailed(f"adb: device '{self.serial}' is {state} after connect") from None

    # Commands

    def run(
        self,
        cmd: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        on_output: OutputCallback | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> CommandResult:
        started = monotonic()
        deadline = Deadline(timeout)
        stdout, stderr = BoundedBuffer(max_output), BoundedBuffer(max_output)
        marker = "HARNESS_EXIT_" + uuid.uuid4().hex
        # Legacy: a subshell so `exit N` and `exec` still reach the printf; newlines, not `;`, so a
        # trailing `&` or comment in the command cannot swallow it.
        legacy = f"shell:(\n{cmd}\n)\nprintf '\\n%s%d\\n' {marker} $?"
        try:
            v2 = "shell_v2" in self.features(max(timeout, 1.0))
            service = f"shell,v2,raw:{cmd}" if v2 else legacy
            sock = self.host.open_service(self.serial, service, max(deadline.remaining(), 0.001))
        except (OSError, ValueError) as exc:  # lab trouble never escapes untyped
            raise ConnectFailed(f"adb: cannot start a shell on {self.serial}: {exc}") from None
        try:
            if v2:
                sock.sendall(shell_packet(SHELL_CLOSE_STDIN, b""))
                code = self._read_v2(sock, deadline, stdout, stderr, on_output)
            else:
                code = self._read_legacy(sock, deadline, marker.encode(), stdout, on_output)
        except _Timeout:
            # Closing the stream makes the server send CLSE; adbd then kills the command.
            close_quietly(sock)
            raise CommandTimeout(
                f"command timed out after {timeout:g}s on {self.serial}",
                usable=True,
                stdout=stdout.getvalue(),
                stderr=stderr.getvalue(),
                timeout=timeout,
            ) from None
        except (OSError, ValueError) as exc:  # ValueError: a shell packet no adbd would send
            raise ConnectionLost(f"adb stream to {self.serial} failed: {exc}") from None
        finally:
            close_quietly(sock)
        return CommandResult(
            command=cmd,
            exit_code=code,
            stdout=stdout.getvalue(),
            stderr=stderr.getvalue(),
            duration=monotonic() - started,
            truncated=stdout.truncated or stderr.truncated,
            stderr_separate=v2,
        )

    @staticmethod
    def _recv(sock: socket.socket, deadline: Deadline) -> bytes:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _Timeout
        sock.settimeout(remaining)
        try:
            return sock.recv(READ_SIZE)
        except TimeoutError:
            raise _Timeout from None

    def _read_v2(
        self,
        sock: socket.socket,
        deadline: Deadline,
        stdout: BoundedBuffer,
        stderr: BoundedBuffer,
        on_output: OutputCallback | None,
    ) -> int:
        reader = ShellPacketReader()
        while True:
            data = self._recv(sock, deadline)
            if not data:
                raise ConnectionLost(f"adb: lost {self.serial} before the command's exit status")
            for kind, payload in reader.feed(data):
                if kind == SHELL_EXIT:
                    return payload[0] if payload else 255
                if kind in (SHELL_STDOUT, SHELL_STDERR):
                    name = "stdout" if kind == SHELL_STDOUT else "stderr"
                    (stdout if kind == SHELL_STDOUT else stderr).add(payload)
                    if on_output is not None:
                        on_output(name, payload)

    def _read_legacy(
        self,
        sock: socket.socket,
        deadline: Deadline,
        marker: bytes,
        stdout: BoundedBuffer,
        on_output: OutputCallback | None,
    ) -> int:
        pending = b""
        try:
            while data := self._recv(sock, deadline):
                pending += data
                out, pending = _split_marker_tail(pending, marker)
                if out:
                    stdout.add(out)
                    if on_output is not None:
                        on_output("stdout", out)
        except _Timeout:
            stdout.add(pending)  # partial output belongs to the timeout report
            raise
        end = _parse_marker_end(pending, marker)
        if end is None:
            raise ConnectionLost(f"adb: lost {self.serial} before the command's exit status")
        out, code = end
        if out:
            stdout.add(out)
            if on_output is not None:
                on_output("stdout", out)
        return code

    # Files

    def push(self, local: Path, remote: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        # Under a temporary name beside the target, checked, then renamed over it: a failed push
        # leaves no partial file and the old target whole.
        part = adb_files.temporary_remote_name(remote)
        what = f"push {local} -> {remote}"
        deadline = Deadline(timeout)
        landed = False

        def transfer(sock: socket.socket) -> None:
            size = sync_send(sock, Path(local), part, deadline)
            st = sync_stat(sock, part, deadline)
            if st.size != size & 0xFFFFFFFF:
                raise TransferError(f"{what}: device has {st.size} of the {size} bytes sent")

        try:
            self._sync(transfer, deadline, timeout, what)
            adb_files.check_digest(part, Path(local), self._digest, deadline, what)
            moved = self.run(f"mv -f {shlex.quote(part)} {shlex.quote(remote)}",
                             max(deadline.remaining(), 1.0), max_output=4096)
            if moved.exit_code != 0:
                why = adb_files.excerpt(moved.stdout, moved.stderr)
                raise TransferError(f"{what}: rename on the device failed: {why}")
            landed = True
        finally:
            if not landed:
                with contextlib.suppress(TransportError):
                    self.run(f"rm -f {shlex.quote(part)}", 5.0, max_output=4096)

    def pull(self, remote: str, local: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        # Into a temporary file beside the target, landed only once it has the device's size (and
        # SHA-256 where cheap): a failed pull leaves the local path as it was.
        local = Path(local)
        what = f"pull {remote} -> {local}"
        deadline = Deadline(timeout)
        try:
            fd, part = tempfile.mkstemp(prefix=f".{local.name}.", suffix=".part", dir=local.parent)
        except OSError as exc:
            raise TransferError(f"{what}: cannot write {local.parent}: {exc.strerror}") from None
        out = os.fdopen(fd, "wb")

        def transfer(sock: socket.socket) -> None:
            st = sync_stat(sock, remote, deadline)
            if not st.exists:
                raise TransferError(f"pull {remote}: remote file does not exist")
            received = sync_recv(sock, remote, out, deadline)
            out.close()
            if stat.S_ISREG(st.mode) and received & 0xFFFFFFFF != st.size:
                raise TransferError(f"{what}: received {received} of the {st.size} bytes the device has")

        try:
            self._sync(transfer, deadline, timeout, what)
            adb_files.check_digest(remote, Path(part), self._digest, deadline, what)
            try:
                replace_durably(part, local)
            except OSError as exc:
                raise TransferError(f"{what}: cannot write {local}: {exc.strerror}") from None
        finally:
            out.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(part)

    def _digest(self, remote: str, deadline: Deadline) -> str | None:
        """The device's own SHA-256 of `remote`; None where it cannot say (no sha256sum, say)."""
        try:
            result = self.run(f"sha256sum {shlex.quote(remote)}", max(deadline.remaining(), 1.0),
                              max_output=4096)
        except CommandTimeout:
            return None
        return adb_files.parse_sha256sum(result.exit_code, result.stdout)

    def _sync(self, transfer: Callable[[socket.socket], None], deadline: Deadline, timeout: float,
              what: str) -> None:
        self.features(max(min(deadline.remaining(), 10.0), 0.5))
        sock = self.host.open_service(self.serial, "sync:", max(deadline.remaining(), 0.001))
        try:
            transfer(sock)
            sync_quit(sock)
        except TimeoutError:
            raise TransferError(f"{what}: timed out after {timeout:g}s") from None
        except ConnectionError as exc:
            raise ConnectionLost(f"{what}: connection lost: {exc}") from None
        except OSError as exc:
            raise TransferError(f"{what}: {exc}") from None
        finally:
            close_quietly(sock)

    # Reboot

    def reboot(self, down_timeout: float = REBOOT_DOWN_TIMEOUT) -> None:
        """Ask adbd to reboot and return once it has closed the reboot stream as it goes down: a
        wait_ready before that would still reach the old boot. NotReady if it never goes down."""
        sock = self.host.open_service(self.serial, "reboot:", 10.0)
        deadline = Deadline(down_timeout)
        reply = BoundedBuffer(4096)  # adbd only writes here to say the reboot failed
        try:
            while True:
                remaining = deadline.remaining()
                if remaining <= 0:
                    raise NotReady(f"{self.serial} still up {down_timeout:g}s after reboot")
                sock.settimeout(remaining)
                try:
                    chunk = sock.recv(4096)
                except TimeoutError:
                    continue  # the deadline check above reports it
                except OSError:
                    break  # reset: the device went down
                if not chunk:
                    break
                reply.add(chunk)
        finally:
            close_quietly(sock)
            self._features = None
        text = reply.getvalue().decode("utf-8", errors="replace").strip()
        if "fail" in text.lower():
            raise TransportError(f"adb reboot of {self.serial}: {text}", usable=True)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = Deadline(timeout)
        last = "no answer yet"
        offline_since: float | None = None
        last_connect: float | None = None

        def probe() -> bool:
            nonlocal last
            try:
                return check()
            except TransportError as exc:
                last = str(exc)
                self._features = None
                return False

        def check() -> bool:
            nonlocal last, offline_since, last_connect
            state = self.host.get_state(self.serial, timeout=max(min(deadline.remaining(), 5.0), 0.1))
            if state != "device":
                last = f"adb state is {state}"
                now = monotonic()
                if offline_since is None:
                    offline_since = now
                # Missing from the server's list: connect again, but only every MISSING_RETRY (each
                # attempt has the server dial a port that may still be closed). Offline too long:
                # the server's own reconnect is slow; disconnect and connect.
                if state == "missing":
                    due = last_connect is None or now - last_connect >= MISSING_RETRY
                else:
                    due = now - offline_since >= RECONNECT_AFTER
                if self.spec.connect and due:
                    if state != "missing":
                        self.host.query(f"host:disconnect:{self.spec.connect}")
                    last_connect = offline_since = now
                    self._connect()
                return False
            offline_since = None
            if deadline.remaining() < 0.05:
                return False  # too late for a fair question; keep the last answer for the report
            result = self.run(f"getprop {self.boot_completed_prop}", timeout=min(deadline.remaining(), 10.0))
            value = result.stdout_text.strip()
            last = f"{self.boot_completed_prop}={value!r}"
            return value == "1"

        try:
            poll_until(probe, timeout, interval=0.05, what="boot completed")
        except TimeoutError:
            raise NotReady(f"{self.serial} not ready after {timeout:g}s: {last}") from None

    def close(self) -> None:
        # Each command uses its own short-lived stream: nothing stays open between calls.
        self._features = None


# Old adbd ran legacy shell commands on a pty, which turns each \n into \r\n: accept both.
def _parse_marker_end(pending: bytes, marker: bytes) -> tuple[bytes, int] | None:
    """The output before the "\\n" MARKER digits "\\n" line that ends `pending`, and the exit code."""
    match = re.search(rb"\r?\n" + re.escape(marker) + rb"(\d+)\r?\n$", pending)
    if match is None:
        return None
    return pending[: match.start()], int(match.group(1))


def _split_marker_tail(pending: bytes, marker: bytes) -> tuple[bytes, bytes]:
    """Split off the part of `pending` that may be the start of the "\\n" MARKER digits "\\n" line,
    so the marker never reaches the caller, and nothing else is held back."""
    last = pending.rfind(b"\n")
    starts = [last]
    if last > 0:
        starts.insert(0, pending.rfind(b"\n", 0, last))
    for start in starts:
        if start < 0:
            continue
        tail = pending[start + 1 :]
        if tail.startswith(marker):
            if not re.fullmatch(rb"\d{0,3}\r?\n?", tail[len(marker) :]):
                continue
        elif not marker.startswith(tail):
            continue
        if start > 0 and pending[start - 1] == 0x0D:
            start -= 1  # the \r of a pty's \r\n belongs to the marker line too
        return pending[:start], pending[start:]
    if pending.endswith(b"\r"):
        return pending[:-1], pending[-1:]  # may become the \r\n before the marker
    return pending, b""


def from_spec(spec: AdbSpec, profile: Profile) -> AdbTransport:
    """The adb link's transport (harness.links.adb names it): boot completes by the profile's property."""
    return AdbTransport(spec, boot_completed_prop=profile.boot_completed_prop or "sys.boot_completed")
