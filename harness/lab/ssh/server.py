"""The simulated lab's SSH server: a board reachable over SSH, served by paramiko in server mode, so
the lab can give it a persona (how commands run), reboot it and inject faults.

    with SimulatedSshServer(password="pw") as board:
        SshTransport(board.spec(user="root"))

Lifecycle: start() listens on 127.0.0.1; reboot() drops every connection, refuses connections for the
boot time and then accepts again (or never, with the fail_boot fault); stop() ends it all, killing
any command still running."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import paramiko

from harness.lab.faults import Faults
from harness.lab.ssh.interface import DeviceInterface, DeviceTransport
from harness.lab.ssh.keys import (
    authorized_key_blobs,
    fingerprint,
    load_or_create_host_key,
    new_ed25519_key,
    parse_authorized_keys,
)
from harness.lab.ssh.session import DEFAULT_PATH, CommandSession, ExecRunner
from harness.lab.ssh.sftp import DeviceSftpServer, PathMap, map_within
from harness.secrets import Secret
from harness.specs import SshSpec
from harness.waiting import free_port

# Larger than paramiko's 2 MB default, as the harness client uses: bulk output needs fewer adjustments.
WINDOW_SIZE = 8 * 1024 * 1024
MAX_PACKET = 32 * 1024
# How long stop() waits for running commands to be killed and their threads to end.
STOP_TIMEOUT = 5.0


class SimulatedSshServer:
    def __init__(
        self,
        *,
        port: int | None = None,
        username: str | None = None,
        password: str | Secret | None = None,
        authorized_keys: Iterable[paramiko.PKey] | Path | None = None,
        host_key: paramiko.PKey | Path | None = None,
        runner: ExecRunner | None = None,
        root: Path | None = None,
        map_path: PathMap | None = None,
        faults: Faults | None = None,
        boot_time: float = 1.0,
        intercept_reboot: bool = True,
    ) -> None:
        """`username` None accepts any login name. `host_key` as a path: loaded, or made there on
        first use. `root` is the device's scratch folder (a temp dir by default): commands run there
        and SFTP's `/` maps into it unless `map_path` says otherwise. `intercept_reboot`: a `reboot`
        command reboots this simulated device instead of running on the host."""
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.username = username
        self.password = password if isinstance(password, Secret) else Secret(inline=password)
        if isinstance(authorized_keys, Path):
            authorized_keys = parse_authorized_keys(authorized_keys.read_text())
        self.authorized_keys = authorized_key_blobs(authorized_keys or ())
        self.auth_methods = (["publickey"] if self.authorized_keys else []) + (
            ["password"] if self.password.inline or self.password.env else []
        )
        if not self.auth_methods:
            raise ValueError("a simulated SSH server needs a password or authorized keys")
        if isinstance(host_key, Path):
            host_key = load_or_create_host_key(host_key)
        self.host_key: paramiko.PKey = host_key or new_ed25519_key()
        self.fingerprint = fingerprint(self.host_key)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="harness-simssh-")
            root = Path(self._tmp.name)
        self.root = root
        self.runner = runner or ExecRunner()
        self.cwd = self.runner.cwd or root
        self.map_path: PathMap = map_path or map_within(root)
        self.boot_time = boot_time
        self.intercept_reboot = intercept_reboot
        self.boots = 0
        # Set while the device accepts connections; tests and the lab wait on it after a reboot.
        self.up = threading.Event()
        self._faults = faults or Faults()
        self._lock = threading.Lock()
        self._running = False
        self._generation = 0  # bumped by every reboot/stop: stale timers and accepts see it changed
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._boot_timer: threading.Timer | None = None
        self._clients: set[paramiko.Transport] = set()
        self._sessions: set[CommandSession] = set()

    # -- faults ------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        with self._lock:
            self._faults = value

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SimulatedSshServer:
        with self._lock:
            if self._running:
                return self
            self._running = True
        self._boot(self._generation)
        return self

    def stop(self) -> None:
        with self._lock:
            self._running = False
            self._generation += 1
            if self._boot_timer is not None:
                self._boot_timer.cancel()
        self._go_down()
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.thread.join(STOP_TIMEOUT)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def reboot(self, boot_time: float | None = None) -> None:
        """Drop every connection and refuse new ones; accept again after `boot_time` (plus the
        slow_boot_s fault), or stay down with the fail_boot fault. Returns at once: the hook the
        lab calls when the persona's reboot shim fires, possibly from a command of this device."""
        faults = self.faults
        with self._lock:
            if not self._running:
                return
            self._generation += 1
            generation = self._generation
            if self._boot_timer is not None:
                self._boot_timer.cancel()
            self._boot_timer = None
            if not faults.fail_boot:
                delay = (self.boot_time if boot_time is None else boot_time) + faults.slow_boot_s
                self._boot_timer = threading.Timer(delay, self._boot, args=(generation,))
                self._boot_timer.daemon = True
        self._go_down()
        if self._boot_timer is not None:
            self._boot_timer.start()

    def drop_connection(self, transport: paramiko.Transport) -> None:
        """An abrupt TCP drop (a pulled cable, a crashed device), not a polite SSH disconnect."""
        with self._lock:
            self._clients.discard(transport)
        with contextlib.suppress(OSError):
            transport.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            transport.close()

    def drop_connections(self) -> None:
        with self._lock:
            clients = list(self._clients)
        for transport in clients:
            self.drop_connection(transport)

    @property
    def connections(self) -> list[paramiko.Transport]:
        """The SSH connections open right now."""
        with self._lock:
            return [t for t in self._clients if t.is_active()]

    def track(self, session: CommandSession) -> None:
        with self._lock:
            self._sessions = {s for s in self._sessions if s.thread.is_alive() or not s.thread.ident}
            self._sessions.add(session)

    def command_env(self) -> dict[str, str]:
        env = {
            "PATH": DEFAULT_PATH,
            "HOME": str(self.cwd),
            "USER": self.username or "root",
            "LOGNAME": self.username or "root",
            "SHELL": "/bin/sh",
            "LANG": "C.UTF-8",
        }
        env.update(self.runner.env or {})
        return env

    def spec(self, user: str | None = None, **overrides: object) -> SshSpec:
        """How a client reaches this device: pinned host key, and the password if there is one."""
        values: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "user": user or self.username or "root",
            "password": self.password,
            "host_key": self.fingerprint,
            "connect_timeout": 5.0,
        }
        values.update(overrides)
        return SshSpec(**values)  # type: ignore[arg-type]

    # -- internals ---------------------------------------------------------------------------

    def _boot(self, generation: int) -> None:
        with self._lock:
            if not self._running or generation != self._generation:
                return  # stopped, or rebooted again, meanwhile
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # Connections from before the reboot may linger in TIME_WAIT on this port.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind((self.host, self.port))
            except OSError:
                listener.close()
                raise
            listener.listen(64)
            self._listener = listener
            self._accept_thread = threading.Thread(
                target=self._accept_loop, args=(listener, generation), name=f"simssh-{self.port}", daemon=True
            )
            self._accept_thread.start()
            self.boots += 1
            self.up.set()

    def _go_down(self) -> None:
        with self._lock:
            self.up.clear()
            listener, self._listener = self._listener, None
            thread, self._accept_thread = self._accept_thread, None
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not on Linux.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_TIMEOUT)
        self.drop_connections()

    def _accept_loop(self, listener: socket.socket, generation: int) -> None:
        while True:
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(
                target=self._serve_client, args=(conn, generation), name="simssh-client", daemon=True
            ).start()

    def _serve_client(self, conn: socket.socket, generation: int) -> None:
        transport = DeviceTransport(conn, default_window_size=WINDOW_SIZE, default_max_packet_size=MAX_PACKET)
        transport.add_server_key(self.host_key)
        transport.set_subsystem_handler("sftp", paramiko.SFTPServer, DeviceSftpServer)
        with self._lock:
            alive = self._running and generation == self._generation
            if alive:
                self._clients = {t for t in self._clients if t.is_active()}
                self._clients.add(transport)
        if not alive:  # accepted just as the device went down
            conn.close()
            return
        try:
            transport.start_server(server=DeviceInterface(self, transport))
        except (paramiko.SSHException, EOFError, OSError):
            self.drop_connection(transport)

    def __enter__(self) -> SimulatedSshServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SimulatedSshServer({self.host}:{self.port}, {self.fingerprint}, up={self.up.is_set()})"
