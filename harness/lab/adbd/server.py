"""A simulated device-side adbd on 127.0.0.1: the real adb server connects to it (`adb connect`) and
cannot tell it from a network-attached handset for shell, shell v2, sync and reboot.

Commands run through a `CommandRunner` (default: /bin/sh -c in a scratch dir); properties live in a
dict that `getprop` reads. Fault hooks (`faults`) drop the TCP connection on purpose."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.lab.adbd.messages import MAX_PAYLOAD, device_banner
from harness.lab.adbd.runner import CommandRunner, DeviceContext, ProcessTable, posix_shell_runner
from harness.lab.adbd.shell import parse_shell_service, serve_shell
from harness.lab.adbd.streams import AdbConnection, Stream
from harness.lab.adbd.sync import serve_sync
from harness.waiting import free_port

BOOT_COMPLETED = "sys.boot_completed"
DEFAULT_PROPERTIES = {
    "ro.product.name": "simphone",
    "ro.product.model": "Simulated Phone",
    "ro.product.device": "simdevice",
    "ro.build.version.release": "14",
}


@dataclass
class AdbdFaults:
    """Link faults. The drops are one-shot: each fires once and then clears itself, so the device can
    be reached again; `truncate_transfers` holds until cleared."""

    # Drop the TCP connection instead of starting the shell command that comes after this many.
    drop_after_commands: int | None = None
    # Drop the TCP connection once a command has sent at least this many output bytes.
    drop_mid_output_after: int | None = None
    # Sync transfers stop short: a pull gets half the file, a pushed file keeps only half its bytes.
    truncate_transfers: bool = False
    # Each DATA chunk of a sync transfer waits this many seconds: a link that moves, only slowly.
    transfer_chunk_delay: float = 0.0


class SimulatedAdbd:
    def __init__(
        self,
        *,
        properties: dict[str, str] | None = None,
        shell_v2: bool = True,
        runner: CommandRunner = posix_shell_runner,
        scratch: Path | None = None,
        boot_time: float = 0.5,
        boot_complete_delay: float = 0.3,
        max_payload: int = MAX_PAYLOAD,
        port: int | None = None,
    ) -> None:
        self.shell_v2 = shell_v2
        self.runner = runner
        self.boot_time = boot_time
        self.boot_complete_delay = boot_complete_delay
        self.max_payload = max_payload
        self.port = port or free_port()
        self.faults = AdbdFaults()
        self.commands_run = 0
        self.boots = 1
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if scratch is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="adbd-")
            scratch = Path(self._tmp.name)
        props = dict(DEFAULT_PROPERTIES)
        props.update(properties or {})
        props.setdefault(BOOT_COMPLETED, "1")
        self.ctx = DeviceContext(scratch=scratch, properties=props)
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._connections: set[AdbConnection] = set()
        self._processes = ProcessTable()
        self._timers: list[threading.Timer] = []
        self._stopped = False

    @property
    def serial(self) -> str:
        """The serial the adb server gives this device after `adb connect`."""
        return f"127.0.0.1:{self.port}"

    @property
    def features(self) -> list[str]:
        # Only what is implemented: shell v2 when enabled, nothing else (no stat_v2, no delayed_ack).
        return ["shell_v2"] if self.shell_v2 else []

    def start(self) -> SimulatedAdbd:
        self.ctx.prepare()
        self._listen()
        return self

    def stop(self) -> None:
        self._stopped = True
        for timer in self._timers:
            timer.cancel()
        self._close_listener()
        self.drop_connections()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SimulatedAdbd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def drop_connections(self) -> None:
        """Cut every TCP connection and kill every running command (what a crash or reboot does)."""
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            conn.drop()
        self._processes.kill_all()

    def reboot(self) -> None:
        """Go down now, refuse connections for `boot_time`, come back with boot-completed unset."""
        self.ctx.set_property(BOOT_COMPLETED, "")
        self._close_listener()
        self.drop_connections()
        self._later(self.boot_time, self._come_back)

    # Internals

    def _come_back(self) -> None:
        self.boots += 1
        self._listen()
        self._later(self.boot_complete_delay, lambda: self.ctx.set_property(BOOT_COMPLETED, "1"))

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        def run() -> None:
            if not self._stopped:
                action()

        timer = threading.Timer(delay, run)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _listen(self) -> None:
        if self._stopped:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(8)
        self._listener = sock
        threading.Thread(target=self._accept_loop, args=(sock,), name="adbd-accept", daemon=True).start()

    def _close_listener(self) -> None:
        sock, self._listener = self._listener, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            banner = device_banner(self.ctx.properties, self.features)
            conn = AdbConnection(sock, banner, self._resolve, self.max_payload)
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="adbd-conn", daemon=True).start()

    def _serve(self, conn: AdbConnection) -> None:
        try:
            conn.serve()
        finally:
            with self._lock:
                self._connections.discard(conn)

    def _resolve(self, stream: Stream) -> Callable[[], None] | None:
        service = stream.service
        shell = parse_shell_service(service)
        if shell is not None:
            v2, command = shell
            if v2 and not self.shell_v2:
                return None  # a device without shell_v2 does not know this service
            return lambda: self._shell(stream, command, v2)
        if service == "sync:":
            return lambda: serve_sync(stream, self.ctx.scratch,
                                      truncate=lambda: self.faults.truncate_transfers,
                                      pace=lambda: self.faults.transfer_chunk_delay)
        if service.startswith("reboot:"):
            return lambda: self._reboot_service(stream)
        return None

    def _shell(self, stream: Stream, command: str, v2: bool) -> None:
        faults = self.faults
        with self._lock:
            self.commands_run += 1
            count = self.commands_run
        if faults.drop_after_commands is not None and count > faults.drop_after_commands:
            faults.drop_after_commands = None
            stream.conn.drop()
            return
        sent = 0

        def on_sent(n: int) -> None:
            nonlocal sent
            sent += n
            limit = faults.drop_mid_output_after
            if limit is not None and sent >= limit:
                faults.drop_mid_output_after = None
                stream.conn.drop()

        serve_shell(
            stream,
            command,
            v2=v2,
            runner=self.runner,
            ctx=self.ctx,
            processes=self._processes,
            on_sent=on_sent,
        )

    def _reboot_service(self, stream: Stream) -> None:
        # Going down is decided before the host hears back, as on a real device.
        self.ctx.set_property(BOOT_COMPLETED, "")
        stream.close()
        self.reboot()
