"""The serial console of a simulated device: what a board's UART shows and takes.

Two ways in, one console (harness.lab.serial.line): a pty pair whose slave is linked at a path and,
optionally, a TCP listener for `socket://`. Bytes typed on either go to the console; what the console
prints goes to both.

Life of the console, driven by its device: power_on() prints the boot banner and the kernel messages
over the boot time; boot_done() shows `login: ` / `Password: ` (or drops straight into the shell when
the persona has no login); then the persona's shell runs on a pty inside the sandbox and bytes are
bridged both ways. power_off() kills the shell (a reboot); boot_failed() leaves a kernel panic.

Faults (read at each use, so they can change at run time): console_garbage (noise bursts at power-on,
before the login prompt and when a client attaches), kmsg_interleave (kernel lines dropped into the
stream on a fixed schedule while a command runs, unless the shell lowered the console log level with
`dmesg -n`), drop_mid_output / drop_after_commands (the TCP client is cut), latency_ms and hang_commands
(per typed line), auth_fail (Login incorrect), slow and failed boot (through the device's timing)."""

from __future__ import annotations

import contextlib
import enum
import os
import random
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness.lab.faults import Faults
from harness.lab.serial.line import ConsoleLine, start_thread

# Console log level the kernel messages we interleave are printed at (KERN_WARNING): shown while the
# console level is above it, as printk does.
KMSG_LEVEL = 4
DEFAULT_CONSOLE_LEVEL = 7
RUNTIME_KMSGS = (
    "usb 1-1: new high-speed USB device number {n} using xhci-hcd",
    "EXT4-fs (mmcblk0p7): re-mounted. Opts: (null)",
    "audit: type=1400 audit({t:.3f}:{n}): avc:  denied  {{ read }} for pid={n} comm=\"sh\"",
    "rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: {{ {n} }}",
    "thermal thermal_zone0: critical temperature reached, shutting down soon",
    "watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [kworker/1:{n}]",
)
# While a command runs, every KMSG_EVERY-th chunk of its output is preceded by a kernel line (and one comes
# as the line is typed): on a schedule, not by chance, so a test of the fault sees it every time.
KMSG_EVERY = 3
HANG_COMMAND = b"sleep 2147483647"
PANIC = ("Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(179,2)",
         "---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(179,2) ]---")


class ConsoleState(enum.Enum):
    OFF = "off"
    BOOTING = "booting"
    LOGIN = "login"
    PASSWORD = "password"
    SHELL = "shell"
    FAILED = "failed"


ShellSpawner = Callable[[], "tuple[subprocess.Popen[bytes], int]"]


class SerialConsole:
    def __init__(
        self,
        *,
        tty_link: Path,
        tcp_port: int | None,
        banner: str,
        kernel_messages: tuple[str, ...],
        login_prompt: str | None,
        user: str | None,
        password: str | None,
        spawn_shell: ShellSpawner,
        faults: Callable[[], Faults],
        console_level: Callable[[], int] = lambda: DEFAULT_CONSOLE_LEVEL,
    ) -> None:
        self.tty_link = tty_link
        self.tcp_port = tcp_port
        self.banner = banner.strip("\n").split("\n") if banner.strip() else []
        self.kernel_messages = kernel_messages
        # A login is asked for when the persona has one, or the inventory gives console credentials.
        self.login_prompt = login_prompt or ("login: " if user or password else None)
        self.user, self.password = user or "root", password
        self.spawn_shell, self.faults, self.console_level = spawn_shell, faults, console_level
        self.state = ConsoleState.OFF
        self.boots = 0
        self._lock = threading.RLock()  # state, shell and client
        self._out_lock = threading.Lock()  # one writer at a time on the line
        self._off = threading.Event()
        self._booted_at = time.monotonic()
        self._shell: subprocess.Popen[bytes] | None = None
        self._shell_fd = -1
        self._login_user = ""
        self._typed = bytearray()  # the line being typed (login, or the shell's input in line mode)
        self._after_cr = False
        self._command_running = False
        self._chunks_since_kmsg = 0
        self._playback: threading.Thread | None = None
        self.line = ConsoleLine(tty_link, tcp_port, on_input=self._on_input, on_attach=self._client_attached)

    # -- endpoints -------------------------------------------------------------------------------

    def start(self) -> SerialConsole:
        self.line.start()
        return self

    def close(self) -> None:
        self.power_off(quiet=True)
        self.line.close()

    def _client_attached(self) -> None:
        if self.faults().console_garbage:
            self.line.emit(_garbage())

    # -- power ------------------------------------------------------------------------------------

    def power_on(self, boot_seconds: float) -> None:
        """Start printing the boot log; boot_done() or boot_failed() ends the boot."""
        with self._lock:
            self.state = ConsoleState.BOOTING
            self._off = threading.Event()
            self._booted_at = time.monotonic()
            self.boots += 1
        self._playback = start_thread(lambda: self._play_boot_log(self._off, boot_seconds), "console-boot")

    def _play_boot_log(self, off: threading.Event, boot_seconds: float) -> None:
        if self.faults().console_garbage:
            self.line.emit(_garbage())
        self.line.emit(b"".join(line.encode() + b"\r\n" for line in self.banner))
        # The kernel's lines spread over the boot, as they come on a real board.
        step = boot_seconds * 0.8 / max(1, len(self.kernel_messages))
        for line in self.kernel_messages:
            if off.is_set():
                return
            self.line.emit(line.encode() + b"\r\n")
            if step > 0 and off.wait(step):
                return

    def boot_done(self) -> None:
        if self._playback is not None:
            self._playback.join()
        with self._lock:
            if self.state is not ConsoleState.BOOTING:
                return
            if self.login_prompt is None:
                self._start_shell()
            else:
                self._show_login()

    def boot_failed(self) -> None:
        if self._playback is not None:
            self._playback.join()
        with self._lock:
            self.state = ConsoleState.FAILED
        self.line.emit(b"".join(f"[{self._uptime()}] {line}\r\n".encode() for line in PANIC))

    def power_off(self, quiet: bool = False) -> None:
        """The device goes down: the shell dies; the line (pty, TCP client) stays, as a UART does."""
        with self._lock:
            self._off.set()
            was_on = self.state is not ConsoleState.OFF
            self.state = ConsoleState.OFF
            shell, self._shell = self._shell, None
            self._typed.clear()
            self._command_running = False
        if shell is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(shell.pid, 9)
        if was_on and not quiet:
            self.line.emit(b"\r\nreboot: Restarting system\r\n")

    # -- login ------------------------------------------------------------------------------------

    def _show_login(self) -> None:
        self.state = ConsoleState.LOGIN
        self._typed.clear()
        noise = _garbage() if self.faults().console_garbage else b""
        self.line.emit(noise + b"\r\n" + (self.login_prompt or "").encode())

    def _on_input(self, data: bytes, source: socket.socket | None) -> None:
        with self._lock:
            state = self.state
        if state is ConsoleState.SHELL:
            self._shell_input(data, source)
        elif state in (ConsoleState.LOGIN, ConsoleState.PASSWORD):
            with self._lock:
                for byte in data:
                    self._login_byte(byte)
        # OFF, BOOTING, FAILED: nobody listens on the line yet

    def _login_byte(self, byte: int) -> None:
        if byte in (0x0D, 0x0A):
            if byte == 0x0A and self._after_cr:
                self._after_cr = False
                return
            self._after_cr = byte == 0x0D
            line = self._typed.decode(errors="replace")
            self._typed.clear()
            self._login_line(line)
            return
        self._after_cr = False
        if byte == 0x03:
            self._typed.clear()
        elif byte in (0x08, 0x7F):
            del self._typed[-1:]
        elif len(self._typed) < 256:
            self._typed.append(byte)
            if self.state is ConsoleState.LOGIN:
                self.line.emit(bytes([byte]))  # getty echoes the login name, never the password

    def _login_line(self, line: str) -> None:
        if self.state is ConsoleState.LOGIN:
            if not line:
                self.line.emit(b"\r\n" + (self.login_prompt or "").encode())
                return
            self._login_user = line
            if self.password is None:
                self._check_login(line, None)
                return
            self.state = ConsoleState.PASSWORD
            self.line.emit(b"\r\nPassword: ")
        else:
            self.line.emit(b"\r\n")
            self._check_login(self._login_user, line)

    def _check_login(self, user: str, password: str | None) -> None:
        if self.faults().auth_fail or user != self.user or password != self.password:
            self.line.emit(b"\r\nLogin incorrect\r\n")
            self._show_login()
            return
        self._start_shell()

    # -- the shell --------------------------------------------------------------------------------

    def _start_shell(self) -> None:
        try:
            shell, fd = self.spawn_shell()
        except Exception as exc:  # the device is going down under us
            self.line.emit(f"\r\n{type(exc).__name__}: cannot start the shell\r\n".encode())
            self.state = ConsoleState.FAILED
            return
        self._shell, self._shell_fd, self.state = shell, fd, ConsoleState.SHELL
        self._typed.clear()
        self._command_running = False
        start_thread(lambda: self._pump_shell(shell, fd), "console-shell")

    def _pump_shell(self, shell: subprocess.Popen[bytes], fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the shell and all it started are gone
                data = b""
            if not data:
                break
            self._shell_output(data)
        os.close(fd)
        shell.wait()
        with self._lock:
            if self._shell is shell and self.state is ConsoleState.SHELL:
                # `exit` on a console: getty asks for a login again (or the shell respawns).
                self._shell = None
                if self.login_prompt is None:
                    self._start_shell()
                else:
                    self._show_login()

    def _shell_output(self, data: bytes) -> None:
        faults = self.faults()
        if faults.kmsg_interleave and self._command_running:
            self._chunks_since_kmsg += 1
            if self._chunks_since_kmsg >= KMSG_EVERY:
                self._kernel_message()
        if faults.drop_mid_output and self.line.client_lines() > 0 and self._command_running:
            self.line.emit(data[: max(1, len(data) // 2)])
            self.line.drop_client()
            return
        self.line.emit(data)

    def _kernel_message(self) -> None:
        self._chunks_since_kmsg = 0
        if self.console_level() > KMSG_LEVEL:
            text = random.choice(RUNTIME_KMSGS).format(n=random.randint(2, 999), t=time.time())
            self.line.emit(f"[{self._uptime()}] {text}\r\n".encode())

    def _shell_input(self, data: bytes, source: socket.socket | None) -> None:
        faults = self.faults()
        # Faults that act per typed line hold the line until it is complete.
        limit = faults.drop_after_commands
        line_mode = faults.latency_ms > 0 or bool(faults.hang_commands) or limit is not None
        for piece in re.split(rb"([\r\x03])", data):
            if not piece:
                continue
            if piece == b"\x03":
                with self._lock:  # Ctrl-C: a half-typed line is dropped
                    self._command_running = False
                    self._typed.clear()
                self._to_shell(b"\x03")
            elif piece == b"\r":
                self._line_typed(faults, line_mode, source)
            else:
                with self._lock:
                    self._typed += piece
                    del self._typed[:-65536]
                if not line_mode:
                    self._to_shell(piece)

    def _line_typed(self, faults: Faults, line_mode: bool, source: socket.socket | None) -> None:
        with self._lock:
            line = bytes(self._typed)
            self._typed.clear()
            typed = self.line.count_client_line(source)
            limit = faults.drop_after_commands
            over = typed is not None and limit is not None and typed > limit
        if over:
            self.line.drop_client()
            return
        if line_mode and faults.hangs(line.decode(errors="replace")):
            # The device sits on it: a foreground job that only Ctrl-C ends (the tty keeps what is
            # typed after the Ctrl-C for the shell, as on a real console).
            line = HANG_COMMAND
        if line_mode and faults.latency_s > 0:
            self._off.wait(faults.latency_s)
        self._command_running = True
        self._to_shell(line + b"\r" if line_mode else b"\r")
        if faults.kmsg_interleave:
            self._kernel_message()

    def _to_shell(self, data: bytes) -> None:
        with self._lock:
            fd = self._shell_fd if self._shell is not None else -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]

    def _uptime(self) -> str:
        return f"{time.monotonic() - self._booted_at:12.6f}"



def _garbage() -> bytes:
    """Line noise: control bytes, stray escapes and high bytes, as a UART shows when it powers up."""
    pool = b"\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x80\x9b\xfe\xff~}|{@^"
    return bytes(random.choice(pool) for _ in range(random.randint(12, 40))) + b"\r\n"

