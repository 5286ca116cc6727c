"""The two ways into a simulated device's serial console: a pty pair whose slave is linked at a path
(`<state_dir>/tty/NAME`, a "pty by path" like /dev/ttyUSB0) and a TCP listener for `socket://`.
The console behind them (boot log, login, shell) is harness.lab.serial.console."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import tty
from collections.abc import Callable
from pathlib import Path

from harness.waiting import Deadline

SEND_TIMEOUT = 5.0
# How long the pty may stay full before the line counts it as unread (nobody attached) and drops.
PTY_STALL = 1.0


class ConsoleLine:
    """The console's two ways in, one line: a pty pair whose slave is linked at a path, and a TCP
    listener for `socket://` (one client at a time; a newcomer replaces the old one, as ser2net does).
    Bytes typed on either reach `on_input(data, source)` (source: the TCP client, or None for the
    pty); emit() prints to both."""

    def __init__(
        self,
        tty_link: Path,
        tcp_port: int | None,
        *,
        on_input: Callable[[bytes, socket.socket | None], None],
        on_attach: Callable[[], None],
    ) -> None:
        self.tty_link, self.tcp_port = tty_link, tcp_port
        self._on_input, self._on_attach = on_input, on_attach
        self._lock = threading.Lock()  # the client and its line count
        self._out_lock = threading.Lock()  # one writer at a time on the line
        self._client: socket.socket | None = None
        self._client_lines = 0  # lines typed by the current TCP client
        self._stopped = False
        self._master, self._holder = os.openpty()
        tty.setraw(self._holder)  # a UART: bytes pass through untouched
        os.set_blocking(self._master, False)
        self._listener: socket.socket | None = None
        self._pty_unread = False  # the pty stayed full: nobody reads it, output is dropped

    def client_lines(self) -> int:
        """Lines the current TCP client typed (0 without a client)."""
        with self._lock:
            return self._client_lines if self._client is not None else 0

    def count_client_line(self, source: socket.socket | None) -> int | None:
        """Count a line typed by `source`: its total when it is the current TCP client, else None."""
        with self._lock:
            if source is None or source is not self._client:
                return None
            self._client_lines += 1
            return self._client_lines

    def start(self) -> None:
        self.tty_link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.tty_link.unlink()
        self.tty_link.symlink_to(os.ttyname(self._holder))
        start_thread(self._read_pty, "console-pty")
        if self.tcp_port is not None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.tcp_port))
            listener.listen(4)
            self._listener = listener
            start_thread(self._accept, "console-accept")

    def close(self) -> None:
        self._stopped = True
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self.drop_client()
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
                close_socket(sock)
                continue
            with self._lock:
                old, self._client, self._client_lines = self._client, sock, 0
            if old is not None:
                close_socket(old)  # like ser2net's kickolduser: the newcomer gets the line
            self._on_attach()
            start_thread(self._read_client, "console-client", sock)

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
                close_socket(sock)
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

    def drop_client(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            close_socket(client)

    def emit(self, data: bytes) -> None:
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
                    close_socket(client)

    def _write_pty(self, data: bytes) -> None:
        """Every byte to a pty someone reads, however slowly (a host's tty buffer keeps a UART's bytes
        for a reader that lags); once the pty stayed full for PTY_STALL nobody reads it, and output is
        dropped, as a UART's is with nothing attached, until the pty takes bytes again. Dropping at
        the first full buffer lost lines in the middle of a command's output under load."""
        view = memoryview(data)
        stall: Deadline | None = None
        while view:
            try:
                view = view[os.write(self._master, view) :]
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


def close_socket(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def start_thread(target: Callable[..., None], name: str, *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread
