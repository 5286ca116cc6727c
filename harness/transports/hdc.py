"""The hdc transport (OpenHarmony Device Connector): commands, files and reboots through an hdc server.

Commands speak the client-server socket protocol directly (hdc_host), one channel each. hdc itself
gives no exit codes and merges stderr into stdout, so each command is framed (hdc_wire): the shell's
pid first, `$?` after a fresh marker at the end. stderr stays merged (`stderr_separate` is False).
A timeout kills the command's process group by that pid from a second channel, then closes the
first: the link stays usable. Files go through the real hdc client (`hdc file send/recv`, the only
implementation of hdc's file frames), to a temporary name checked by size and SHA-256 on both sides
before it takes the real name: whole or nothing."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path

from harness.errors import (
    CommandTimeout,
    ConnectFailed,
    ConnectionLost,
    NotReady,
    TransferError,
    TransportError,
)
from harness.links.hdc import HdcSpec
from harness.profiles import Profile
from harness.waiting import Deadline, poll_until

from ..atomic_file import replace_durably
from .adb import _parse_marker_end, _split_marker_tail  # the same end-of-output marker parsing
from .base import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, BoundedBuffer, CommandResult, OutputCallback, monotonic
from .hdc_host import Channel, ChannelTimeout, HdcHost
from .hdc_wire import FAIL_PREFIX, exit_marker, framed_command, kill_group_command, split_pid_line

KILL_TIMEOUT = 5.0
REBOOT_DOWN_TIMEOUT = 60.0
# `list targets` says this of a device it cannot talk to any more; after a reboot a TCP device is
# dropped from the list and must be `tconn`ed again.
ONLINE = "Connected"
NO_TARGET = ("Not match target", "need connect-key", "Device not found", "No any connected target")


class HdcTransport:
    kind = "hdc"

    def __init__(self, spec: HdcSpec, *, boot_completed_prop: str = "bootevent.boot.completed",
                 boot_completed_value: str = "true") -> None:
        self.spec = spec
        self.target = spec.target
        self.boot_completed_prop = boot_completed_prop
        self.boot_completed_value = boot_completed_value
        self.host = HdcHost(spec.server_host, spec.server_port)

    # Targets

    def state(self, timeout: float = 5.0) -> str:
        """The target's state on the server (`Connected`, `Offline`, ...), `missing` when not listed."""
        return self.host.targets(timeout).get(self.target, "missing")

    def _tconn(self, timeout: float = 10.0) -> str:
        assert self.spec.connect is not None
        return self.host.query(f"tconn {self.spec.connect}", timeout=timeout).strip()

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
        try:
            return self._run_once(cmd, timeout, deadline, started, on_output, max_output)
        except _NoTarget as missing:
            if not self.spec.connect or deadline.expired:
                raise ConnectFailed(f"hdc: {missing.reason}") from None
            answer = self._tconn(max(min(deadline.remaining(), 10.0), 0.5))  # a TCP device, connect it
            if "Connect OK" not in answer and "connected" not in answer.lower():
                raise ConnectFailed(f"hdc tconn {self.spec.connect}: {answer}") from None
        try:
            return self._run_once(cmd, timeout, deadline, started, on_output, max_output)
        except _NoTarget as missing:
            raise ConnectFailed(f"hdc: {missing.reason} (after tconn {self.spec.connect})") from None

    def _run_once(self, cmd: str, timeout: float, deadline: Deadline, started: float,
                  on_output: OutputCallback | None, max_output: int) -> CommandResult:
        token = uuid.uuid4().hex
        channel = self.host.open(self.target, "shell " + framed_command(cmd, token),
                                 max(deadline.remaining(), 0.001))
        stdout = BoundedBuffer(max_output)
        reader = _FramedOutput(token, stdout, on_output)
        try:
            while (messages := channel.messages(deadline)) is not None:
                for message in messages:
                    reader.feed(message)
        except ChannelTimeout:
            usable = self._stop(reader.pid, channel)
            raise CommandTimeout(
                f"command timed out after {timeout:g}s on {self.target}"
                + ("" if usable else " (its pid was never seen: it may still run)"),
                usable=usable, stdout=reader.partial(), timeout=timeout,
            ) from None
        except OSError as exc:
            raise ConnectionLost(f"hdc: lost {self.target} through {self.host.address}: {exc}") from None
        finally:
            channel.close()
        code = reader.finish(self.target)
        return CommandResult(command=cmd, exit_code=code, stdout=stdout.getvalue(), stderr=b"",
                             duration=monotonic() - started, truncated=stdout.truncated,
                             stderr_separate=False)

    def _stop(self, pid: int | None, channel: Channel) -> bool:
        """Kill the timed-out command's process group from a second channel, then close the first
        (hdcd only signals the shell itself when its channel goes)."""
        try:
            if pid is None:
                return False
            try:
                kill = self.host.open(self.target, "shell " + kill_group_command(pid), KILL_TIMEOUT)
                deadline = Deadline(KILL_TIMEOUT)
                while kill.messages(deadline) is not None:
                    pass
                kill.close()
            except (TransportError, ChannelTimeout, OSError):
                return False
            return True
        finally:
            channel.close()

    # Files

    def push(self, local: Path, remote: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = Deadline(timeout)
        try:
            size, digest = _local_digest(Path(local))
        except OSError as exc:
            raise TransferError(f"cannot read {local}: {exc.strerror}") from None
        partial = f"{remote}.harness-partial-{uuid.uuid4().hex[:12]}"
        q_partial, q_remote = shlex.quote(partial), shlex.quote(remote)
        parent = os.path.dirname(remote) or "."
        prep = self.run(f"mkdir -p {shlex.quote(parent)}", timeout=_left(deadline))
        if not prep.ok:
            raise TransferError(f"push {local} -> {remote}: cannot make {parent}: {prep.stdout_text.strip()}")
        try:
            self._client("file", "send", str(local), partial, deadline=deadline,
                         what=f"push {local} -> {remote}")
            got = self._remote_digest(partial, deadline)
            if got != (size, digest):
                raise TransferError(f"push {local} -> {remote}: the device has {got[0]} bytes "
                                    f"(sha256 {got[1][:12]}), sent {size} (sha256 {digest[:12]})")
            moved = self.run(f"mv -f {q_partial} {q_remote}", timeout=_left(deadline))
            if not moved.ok:
                raise TransferError(f"push {local} -> {remote}: {moved.stdout_text.strip()}")
        except BaseException:
            self._discard(partial)
            raise

    def pull(self, remote: str, local: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = Deadline(timeout)
        local = Path(local)
        check = self.run(f"test -f {shlex.quote(remote)}", timeout=_left(deadline))
        if not check.ok:
            raise TransferError(f"pull {remote}: remote file does not exist (or is not a regular file)")
        expected = self._remote_digest(remote, deadline)
        partial = local.with_name(f".{local.name}.partial-{uuid.uuid4().hex[:12]}")
        try:
            self._client("file", "recv", remote, str(partial), deadline=deadline, what=f"pull {remote}")
            try:
                got = _local_digest(partial)
            except FileNotFoundError:
                raise TransferError(f"pull {remote}: the hdc client wrote no file") from None
            if got != expected:
                raise TransferError(f"pull {remote}: got {got[0]} bytes (sha256 {got[1][:12]}), the device "
                                    f"has {expected[0]} (sha256 {expected[1][:12]})")
            replace_durably(partial, local)
        finally:
            partial.unlink(missing_ok=True)

    def _remote_digest(self, path: str, deadline: Deadline) -> tuple[int, str]:
        q = shlex.quote(path)
        result = self.run(f"wc -c < {q} && sha256sum < {q}", timeout=_left(deadline))
        lines = result.stdout_text.split("\n")
        try:
            if not result.ok:
                raise ValueError
            return int(lines[0].strip()), lines[1].split()[0].lower()
        except (ValueError, IndexError):
            said = result.stdout_text.strip()[:200]
            raise TransferError(f"cannot check {path} on the device: {said}") from None

    def _discard(self, partial: str) -> None:
        with contextlib.suppress(TransportError):  # link gone: a stale partial name is all that is left
            self.run(f"rm -f {shlex.quote(partial)}", timeout=10)

    def client_binary(self) -> str:
        """The real hdc client: the spec's `client`, else `hdc` on PATH."""
        if self.spec.client is not None:
            if not os.access(self.spec.client, os.X_OK):
                raise TransferError(f"hdc.client {self.spec.client}: not an executable file")
            return str(self.spec.client)
        found = shutil.which("hdc")
        if found is None:
            raise TransferError("files over hdc need the hdc client (the OpenHarmony SDK's toolchains/hdc): "
                                "put it on PATH or set hdc.client")
        return found

    def _client(self, *args: str, deadline: Deadline, what: str) -> None:
        # The server answered just before (the size check or mkdir ran through it): the client, which
        # would start a server of its own when none answers, finds this one.
        argv = [self.client_binary(), "-s", self.host.address, "-t", self.target, *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OHOS_HDC")}
        try:
            done = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, env=env,
                                  timeout=max(deadline.remaining(), 0.1))
        except subprocess.TimeoutExpired:
            raise TransferError(f"{what}: timed out") from None
        except OSError as exc:
            raise TransferError(f"{what}: cannot run {argv[0]}: {exc.strerror}") from None
        text = (done.stdout + done.stderr).decode("utf-8", errors="replace").strip()
        if done.returncode != 0 or "[Fail]" in text or "FileTransfer finish" not in text:
            raise TransferError(f"{what}: {text[:300] or f'hdc exited {done.returncode}'}")

    # Reboot

    def reboot(self, down_timeout: float = REBOOT_DOWN_TIMEOUT) -> None:
        """`target boot`, then return once the server has lost the device (a wait_ready before that
        would still reach the old boot). NotReady if it never goes down."""
        answer = self.host.query("target boot", self.target, timeout=10.0).strip()
        if answer.startswith(FAIL_PREFIX.decode()):
            raise TransportError(f"hdc target boot on {self.target}: {answer}", usable=True)
        try:
            poll_until(lambda: self._gone(), down_timeout, interval=0.05, what=f"{self.target} to go down")
        except TimeoutError:
            raise NotReady(f"{self.target} still up {down_timeout:g}s after target boot") from None

    def _gone(self) -> bool:
        try:
            return self.state(timeout=5.0) != ONLINE
        except TransportError:
            return False  # the server itself is in trouble: that is not the device going down

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = Deadline(timeout)
        last = "no answer yet"

        def probe() -> bool:
            nonlocal last
            try:
                state = self.state(timeout=max(min(deadline.remaining(), 5.0), 0.1))
                if state != ONLINE:
                    last = f"hdc state is {state}"
                    if self.spec.connect:
                        self._tconn(max(min(deadline.remaining(), 5.0), 0.1))
                    return False
                if deadline.remaining() < 0.05:
                    return False
                result = self.run(f"param get {shlex.quote(self.boot_completed_prop)}",
                                  timeout=min(deadline.remaining(), 10.0))
            except TransportError as exc:
                last = str(exc)
                return False
            value = result.stdout_text.strip()
            last = f"{self.boot_completed_prop}={value!r}"
            return value == self.boot_completed_value

        try:
            poll_until(probe, timeout, interval=0.05, what="boot completed")
        except TimeoutError:
            raise NotReady(f"{self.target} not ready after {timeout:g}s: {last}") from None

    def close(self) -> None:
        pass  # each command uses its own channel: nothing stays open between calls


class _NoTarget(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _FramedOutput:
    """Turns the merged stream of a framed command into its output, its pid and its exit code."""

    def __init__(self, token: str, out: BoundedBuffer, on_output: OutputCallback | None) -> None:
        self.marker = exit_marker(token).encode()
        self.token = token
        self.out = out
        self.on_output = on_output
        self.pid: int | None = None
        self._head = b""  # before the pid line is complete
        self._started = False
        self._pending = b""

    def feed(self, data: bytes) -> None:
        if not self._started:
            self._head += data
            split = split_pid_line(self._head, self.token)
            if split is None:
                return
            pid, rest = split
            if pid is None:
                text = self._head.decode("utf-8", errors="replace").strip()
                if self._head.startswith(FAIL_PREFIX) and any(n in text for n in NO_TARGET):
                    raise _NoTarget(text.splitlines()[0])
                if self._head.startswith(FAIL_PREFIX):
                    raise ConnectFailed(f"hdc: {text.splitlines()[0]}")
                raise ConnectionLost(f"hdc: the shell did not start as framed; it said {text[:200]!r}")
            self.pid, self._started, self._head = pid, True, b""
            data = rest
        self._pending += data
        emit, self._pending = _split_marker_tail(self._pending, self.marker)
        self._emit(emit)

    def _emit(self, data: bytes) -> None:
        if data:
            self.out.add(data)
            if self.on_output is not None:
                self.on_output("stdout", data)

    def partial(self) -> bytes:
        return self.out.getvalue() + self._pending

    def finish(self, target: str) -> int:
        if not self._started:
            text = self._head.decode("utf-8", errors="replace").strip()
            if self._head.startswith(FAIL_PREFIX):
                if any(n in text for n in NO_TARGET):
                    raise _NoTarget(text.splitlines()[0])
                raise ConnectFailed(f"hdc: {text.splitlines()[0]}")
            raise ConnectionLost(f"hdc: lost {target} before the command started"
                                 + (f" ({text[:200]!r})" if text else ""))
        end = _parse_marker_end(self._pending, self.marker)
        if end is None:
            raise ConnectionLost(f"hdc: lost {target} before the command's exit status")
        out, code = end
        self._emit(out)
        return code


def _local_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as src:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _left(deadline: Deadline) -> float:
    remaining = deadline.remaining()
    if remaining <= 0:
        raise TransferError("transfer timed out")
    return remaining


def from_spec(spec: HdcSpec, profile: Profile) -> HdcTransport:
    """The hdc link's transport (harness.links.hdc names it): boot completes by the profile's parameter."""
    return HdcTransport(spec, boot_completed_prop=profile.boot_completed_prop or "bootevent.boot.completed")
