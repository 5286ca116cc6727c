"""One SSH session channel's command on the simulated device: a real process in its own process group,
its stdin/stdout/stderr pumped to and from the channel, its real exit status sent back, and the whole
group killed when the client closes the channel (or the link drops) before the command ends."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from harness.lab.device.command_log import CommandLog
from harness.lab.faults import Faults

READ_SIZE = 64 * 1024
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# SshTransport runs each command behind a line that exports its tag (harness.transports.ssh_channel): the
# fault patterns (`^hang`) match the command the user gave.
_TAG_LINE = re.compile(r"\Aexport HARNESS_CMD_TAG=[0-9a-f]+\n")

# SSH "signal" request names (RFC 4254 6.10) a client may send to a running command.
SIGNALS = {
    "HUP": signal.SIGHUP,
    "INT": signal.SIGINT,
    "KILL": signal.SIGKILL,
    "QUIT": signal.SIGQUIT,
    "TERM": signal.SIGTERM,
    "USR1": signal.SIGUSR1,
    "USR2": signal.SIGUSR2,
}


def posix_shell_argv(command: str) -> list[str]:
    return ["/bin/sh", "-c", command]


@dataclass
class ExecRunner:
    """How the device runs a command: the argv for it (a persona sandbox plugs in its own), the
    environment and the working directory. cwd None: the server's scratch dir."""

    argv_for: Callable[[str], Sequence[str]] = posix_shell_argv
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    # What an interactive `shell` request starts.
    shell_argv: Sequence[str] = ("/bin/sh", "-i")
    # The device's own record of the commands it runs (harness.lab.device.command_log), if it keeps one.
    command_log: CommandLog | None = None


@dataclass
class PtyRequest:
    """What the client's "pty-req" asked for."""

    term: str = "vt100"
    columns: int = 80
    rows: int = 24


def set_window_size(fd: int, columns: int, rows: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


@dataclass
class SessionContext:
    """Everything one session needs from its server, fixed when the command starts."""

    runner: ExecRunner
    cwd: Path
    faults: Faults
    env: dict[str, str] = field(default_factory=dict)
    # Drops the whole SSH connection (a fault); the session's channel dies with it.
    drop_connection: Callable[[], None] = lambda: None
    # Set when the client asked for a terminal: the command then runs on a pty, as its ctty.
    pty: PtyRequest | None = None


def exit_code_of(returncode: int) -> int:
    # Killed by a signal: report it as shells do (128 + signal number), never as a negative number.
    return 128 - returncode if returncode < 0 else returncode


class CommandSession:
    """Runs on its own thread; `signal` may be called from the transport thread meanwhile."""

    def __init__(self, channel: paramiko.Channel, command: str | None, ctx: SessionContext) -> None:
        self.channel = channel
        self.command = command  # None: an interactive shell
        self.ctx = ctx
        self.proc: subprocess.Popen[bytes] | None = None
        self.master_fd: int | None = None  # the pty's master side, when there is a pty
        self.thread = threading.Thread(target=self._serve, name=f"ssh-exec-{channel.get_id()}", daemon=True)
        self._finished = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        self.thread.start()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def signal(self, name: str) -> bool:
        sig = SIGNALS.get(name)
        if sig is None or self._finished.is_set():
            return False
        self._kill_group(sig)
        return True

    def resize(self, columns: int, rows: int) -> None:
        if self.master_fd is not None:
            set_window_size(self.master_fd, columns, rows)

    # -- internals -----------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            self._run()
        finally:
            self._finished.set()
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                self.channel.close()

    def _run(self) -> None:
        faults, chan, runner = self.ctx.faults, self.channel, self.ctx.runner
        # Waiting on the channel's close event: the delay ends early if the client gives up.
        if faults.latency_s > 0 and chan.status_event.wait(faults.latency_s):
            return
        if self.command is not None and faults.hangs(_TAG_LINE.sub("", self.command, count=1)):
            chan.status_event.wait()  # never finishes: sits there until the channel closes
            return
        argv = list(runner.shell_argv if self.command is None else runner.argv_for(self.command))
        try:
            with self._lock:
                self.proc = self._spawn_pty(argv) if self.ctx.pty else self._spawn_pipes(argv)
        except OSError as exc:
            # sh's conventions: 127 not found, 126 found but not runnable.
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                chan.sendall_stderr(f"{argv[0]}: {exc.strerror}\n".encode())
                chan.send_exit_status(127 if isinstance(exc, FileNotFoundError) else 126)
            return
        proc = self.proc
        log = runner.command_log if self.command is not None else None
        logged = log.started(self.command or "") if log is not None else 0
        threading.Thread(target=self._watch_close, name="ssh-exec-watch", daemon=True).start()
        if self.master_fd is not None:
            master = self.master_fd
            self._start(self._pump_stdin, lambda data: _write_all(master, data), lambda: None)
            self._pump_output(master, chan.sendall, faults.drop_mid_output)
        else:
            assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
            stdin = proc.stdin
            self._start(self._pump_stdin, lambda data: _write_all(stdin.fileno(), data), stdin.close)
            err_pump = self._start(self._pump_output, proc.stderr.fileno(), chan.sendall_stderr, False)
            self._pump_output(proc.stdout.fileno(), chan.sendall, faults.drop_mid_output)
            err_pump.join()
        returncode = proc.wait()
        if log is not None:  # before the client hears the exit status and sends its next command
            log.ended(logged, exit_code_of(returncode))
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if self.master_fd is not None:
            os.close(self.master_fd)
            self.master_fd = None
        if chan.closed:
            return
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            chan.send_exit_status(exit_code_of(returncode))

    def _spawn_pipes(self, argv: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.ctx.cwd,
            env=self.ctx.env,
            start_new_session=True,  # its own process group, killed as one
        )

    def _spawn_pty(self, argv: list[str]) -> subprocess.Popen[bytes]:
        pty = self.ctx.pty
        assert pty is not None
        master, slave = os.openpty()
        set_window_size(master, pty.columns, pty.rows)
        # `setsid -c`: a new session (and process group) whose controlling terminal is the pty, so
        # Ctrl-C typed by the client reaches the foreground job, as on a real login.
        setsid = shutil.which("setsid")
        try:
            proc = subprocess.Popen(
                [setsid, "-c", *argv] if setsid else argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self.ctx.cwd,
                env={**self.ctx.env, "TERM": pty.term},
                start_new_session=setsid is None,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)  # the child has its own copy; ours would keep the master from seeing EIO
        self.master_fd = master
        return proc

    @staticmethod
    def _start(target: Callable[..., None], *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        return thread

    def _pump_output(self, fd: int, send: Callable[[bytes], None], drop_after_first: bool) -> None:
        while True:
            try:
                data = os.read(fd, READ_SIZE)
            except OSError:  # EIO: every holder of the pty's slave side has gone
                return
            if not data:
                return
            try:
                send(data)
            except (OSError, EOFError, paramiko.SSHException):
                self._kill_group(signal.SIGKILL)  # the client is gone: nobody reads the rest
                return
            if drop_after_first:
                self.ctx.drop_connection()
                return

    def _pump_stdin(self, write: Callable[[bytes], None], close: Callable[[], None]) -> None:
        try:
            while True:
                data = self.channel.recv(READ_SIZE)
                if not data:  # EOF from the client, or the channel closed
                    return
                write(data)
        except (OSError, ValueError, EOFError, paramiko.SSHException):
            return
        finally:
            with contextlib.suppress(OSError, ValueError):
                close()

    def _watch_close(self) -> None:
        """A channel closed before the command ended (client timeout, link dropped): kill the group,
        as the client can no longer see what it does."""
        self.channel.status_event.wait()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            self._kill_group(signal.SIGKILL)

    def _kill_group(self, sig: int) -> None:
        with self._lock:
            proc = self.proc
            if proc is None:
                return
            # The group id is the leader's pid (start_new_session); Linux never hands out a pid that
            # is still some group's id, so the group is ours even after the leader has exited.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
