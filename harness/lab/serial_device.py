"""The serial console of a simulated device: what a board's UART shows and takes.

Two ways in, one console: a pty pair whose slave is linked at a path (`<state_dir>/tty/NAME`, a
"pty by path" like /dev/ttyUSB0) and, optionally, a TCP listener for `socket://` (one client at a time;
a new client replaces the old, as ser2net does). Bytes typed on either go to the console; what the
console prints goes to both.

Life of the console, driven by its device: power_on() prints the boot banner and the kernel messages
over the boot time; boot_done() shows `login: ` / `Password: ` (or drops straight into the shell when
the persona has no login); then the persona's shell runs on a pty inside the sandbox and bytes are
bridged both ways. power_off() kills the shell (a reboot); boot_failed() leaves a kernel panic.

Faults (read at each use, so they can change at run time): console_garbage (noise bursts at power-on,
before the login prompt and when a client attaches), kmsg_interleave (kernel lines dropped into the
stream while a command runs, unless the shell lowered the console log level with `dmesg -n`),
drop_mid_output / drop_after_commands (the TCP client is cut), latency_ms and hang_commands (per typed
line), auth_fail (Login incorrect), slow and failed boot (through the device's timing)."""

from __future__ import annotations

import contextlib
import enum
import os
import random
import re
import select
import socket
import subprocess
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

from harness.lab.faults import Faults
from harness.waiting import Deadline

# Console log level the kernel messages we interleave are printed at (KERN_WARNING): shown while the
# console level is above it, as printk does.
KMSG_LEVEL = 4
DEFAULT_CONSOLE_LEVEL = 7
SEND_TIMEOUT = 5.0
# How long the pty may stay full before the console counts it as unread (nobody attached) and drops.
PTY_STALL = 1.0
RUNTIME_KMSGS = (
    "usb 1-1: new high-speed USB device number {n} using xhci-hcd",
    "EXT4-fs (mmcblk0p7): re-mounted. Opts: (null)",
    "audit: type=1400 audit({t:.3f}:{n}): avc:  denied  {{ read }} for pid={n} comm=\"sh\"",
    "rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: {{ {n} }}",
    "thermal thermal_zone0: critical temperature reached, shutting down soon",
    "watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [kworker/1:{n}]",
)
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
        self._client: socket.socket | None = None
        self._client_lines = 0  # lines typed by the current TCP client
        self._login_user = ""
        self._typed = bytearray()  # the line being typed (login, or the shell's input in line mode)
        self._after_cr = False
        self._command_running = False
        self._playback: threading.Thread | None = None
        self._stopped = False
        self._master, self._holder = os.openpty()
        tty.setraw(self._holder)  # a UART: bytes pass through untouched
        os.set_blocking(self._master, False)
        self._listener: socket.socket | None = None
        self._pty_unread = False  # the pty stayed full: nobody reads it, output is dropped

    # -- endpoints -------------------------------------------------------------------------------

    def start(self) -> SerialConsole:
        self.tty_link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.tty_link.unlink()
        self.tty_link.symlink_to(os.ttyname(self._holder))
        _thread(self._read_pty, "console-pty")
        if self.tcp_port is not None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.tcp_port))
            listener.listen(4)
            self._listener = listener
            _thread(self._accept, "console-accept")
        return self

    def close(self) -> None:
        self._stopped = True
        self.power_off(quiet=True)
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self._drop_client()
        with contextlib.suppress(FileNotFoundError):
            self.tty_link.unlink()
        for fd in (self._master, self._holder):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _accept(self) -> None:
        listener = self._listener
        while listener is not None:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(SEND_TIMEOUT)
            except OSError:  # gone already: a client that connected and left
                _close_socket(sock)
                continue
            with self._lock:
                old, self._client, self._client_lines = self._client, sock, 0
            if old is not None:
                _close_socket(old)  # like ser2net's kickolduser: the newcomer gets the line
            if self.faults().console_garbage:
                self._emit(_garbage())
            _thread(self._read_client, "console-client", sock)

    def _read_client(self, sock: socket.socket) -> None:
        while True:
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                with self._lock:
                    if self._client is sock:
                        self._client = None
                _close_socket(sock)
                return
            self._on_input(data, sock)

    def _read_pty(self) -> None:
        while not self._stopped:
            try:
                ready, _, _ = select.select([self._master], [], [], 0.5)
                if ready:
                    data = os.read(self._master, 4096)
                    if data:
                        self._on_input(data, None)
            except BlockingIOError:
                continue
            except OSError:
                return

    def _drop_client(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            _close_socket(client)

    def _emit(self, data: bytes) -> None:
        """Print on the console: to the pty (dropped when nobody reads, as a UART does) and the client."""
        with self._out_lock:
            self._write_pty(data)
            client = self._client
            if client is not None:
                try:
                    client.sendall(data)
                except OSError:
                    with self._lock:
                        if self._client is client:
                            self._client = None
                    _close_socket(client)

    def _write_pty(self, data: bytes) -> None:
        """Every byte to a pty someone reads, however slowly (a host's tty buffer keeps a UART's bytes
        for a reader that lags); once the pty stayed full for PTY_STALL nobody reads it, and output is
        dropped, as a UART's is with nothing attached, until the pty takes bytes again. Dropping at
        the first full buffer lost lines in the middle of a command's output under load."""
        view = memoryview(data)
        stall: Deadline | None = None
        while view:
            try:
                view = view[os.write(self._master, view):]
                self._pty_unread = False
                continue
            except BlockingIOError:
                pass
            except OSError:
                return
            if self._pty_unread:
                return
            stall = stall or Deadline(PTY_STALL)
            try:
                _, writable, _ = select.select([], [self._master], [], stall.remaining())
            except (OSError, ValueError):
                return
            if not writable:
                self._pty_unread = True
                return

    # -- power ------------------------------------------------------------------------------------

    def power_on(self, boot_seconds: float) -> None:
        """Start printing the boot log; boot_done() or boot_failed() ends the boot."""
        with self._lock:
            self.state = ConsoleState.BOOTING
            self._off = threading.Event()
            self._booted_at = time.monotonic()
            self.boots += 1
        self._playback = _thread(lambda: self._play_boot_log(self._off, boot_seconds), "console-boot")

    def _play_boot_log(self, off: threading.Event, boot_seconds: float) -> None:
        if self.faults().console_garbage:
            self._emit(_garbage())
        self._emit(b"".join(line.encode() + b"\r\n" for line in self.banner))
        # The kernel's lines spread over the boot, as they come on a real board.
        step = boot_seconds * 0.8 / max(1, len(self.kernel_messages))
        for line in self.kernel_messages:
            if off.is_set():
                return
            self._emit(line.encode() + b"\r\n")
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
        self._emit(b"".join(f"[{self._uptime()}] {line}\r\n".encode() for line in PANIC))

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
            self._emit(b"\r\nreboot: Restarting system\r\n")

    # -- login ------------------------------------------------------------------------------------

    def _show_login(self) -> None:
        self.state = ConsoleState.LOGIN
        self._typed.clear()
        noise = _garbage() if self.faults().console_garbage else b""
        self._emit(noise + b"\r\n" + (self.login_prompt or "").encode())

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
                self._emit(bytes([byte]))  # getty echoes the login name, never the password

    def _login_line(self, line: str) -> None:
        if self.state is ConsoleState.LOGIN:
            if not line:
                self._emit(b"\r\n" + (self.login_prompt or "").encode())
                return
            self._login_user = line
            if self.password is None:
                self._check_login(line, None)
                return
            self.state = ConsoleState.PASSWORD
            self._emit(b"\r\nPassword: ")
        else:
            self._emit(b"\r\n")
            self._check_login(self._login_user, line)

    def _check_login(self, user: str, password: str | None) -> None:
        if self.faults().auth_fail or user != self.user or password != self.password:
            self._emit(b"\r\nLogin incorrect\r\n")
            self._show_login()
            return
        self._start_shell()

    # -- the shell --------------------------------------------------------------------------------

    def _start_shell(self) -> None:
        try:
            shell, fd = self.spawn_shell()
        except Exception as exc:  # the device is going down under us
            self._emit(f"\r\n{type(exc).__name__}: cannot start the shell\r\n".encode())
            self.state = ConsoleState.FAILED
            return
        self._shell, self._shell_fd, self.state = shell, fd, ConsoleState.SHELL
        self._typed.clear()
        self._command_running = False
        _thread(lambda: self._pump_shell(shell, fd), "console-shell")

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
        if faults.kmsg_interleave and self._command_running and random.random() < 0.3:
            self._kernel_message()
        with self._lock:
            client, lines = self._client, self._client_lines
        if faults.drop_mid_output and client is not None and lines > 0 and self._command_running:
            self._emit(data[: max(1, len(data) // 2)])
            self._drop_client()
            return
        self._emit(data)

    def _kernel_message(self) -> None:
        if self.console_level() > KMSG_LEVEL:
            text = random.choice(RUNTIME_KMSGS).format(n=random.randint(2, 999), t=time.time())
            self._emit(f"[{self._uptime()}] {text}\r\n".encode())

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
            if source is not None and source is self._client:
                self._client_lines += 1
                limit = faults.drop_after_commands
                over = limit is not None and self._client_lines > limit
            else:
                over = False
        if over:
            self._drop_client()
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


def _close_socket(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _thread(target: Callable[..., None], name: str, *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread
