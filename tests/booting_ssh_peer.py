"""A device that is still booting, in front of a real sshd: for its first connections it accepts TCP and
then breaks off (at once, after the banners, right after the key exchange has completed) or stalls in
the key exchange (a board still making its host keys) until the client gives up, and only then
forwards whole connections to the real server behind it. Plain sockets and threads; only the unencrypted packets before NEWKEYS are read."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from types import TracebackType

from harness.waiting import free_port

MODES = ("close", "banner", "stall", "kex")
MSG_NEWKEYS = 21


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _read_line(sock: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            raise ConnectionError("closed")
        line += byte
    return line


def _exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _packets_until_newkeys(server: socket.socket) -> Iterator[bytes]:
    """Server -> client bytes, packet by packet (binary packet protocol, still unencrypted), up to and
    including the server's NEWKEYS."""
    while True:
        line = _read_line(server)  # the banner (and any lines before it)
        yield line
        if line.startswith(b"SSH-"):
            break
    while True:
        head = _exact(server, 5)
        length, _padding = struct.unpack(">IB", head)
        body = _exact(server, length - 1)
        yield head + body
        if body[0] == MSG_NEWKEYS:
            return


class BootingSshPeer:
    """`with BootingSshPeer(sshd_port, broken=6) as peer:` connect to peer.port; the first `broken`
    connections break off (cycling through `modes`), later ones reach the sshd."""

    def __init__(self, target_port: int, *, broken: int, modes: tuple[str, ...] = MODES,
                 host: str = "127.0.0.1") -> None:
        self.host, self.target_port, self.broken, self.modes = host, target_port, broken, modes
        self.port = free_port()
        self.connections = 0
        self._listener = socket.create_server((host, self.port))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def booted(self) -> bool:
        return self.connections > self.broken

    def __enter__(self) -> BootingSshPeer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            number = self.connections
            mode = self.modes[(number - 1) % len(self.modes)] if number <= self.broken else "serve"
            threading.Thread(target=self._serve, args=(client, mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: str) -> None:
        with client:
            if mode == "close":
                return
            if mode in ("banner", "stall"):
                with contextlib.suppress(OSError, ConnectionError):
                    client.sendall(b"SSH-2.0-booting\r\n")
                    _read_line(client)
                    while mode == "stall" and client.recv(65536):
                        pass  # no KEXINIT ever comes back; the client's timeout ends it
                return
            try:
                server = socket.create_connection((self.host, self.target_port), timeout=10)
            except OSError:
                return
            with server:
                server.settimeout(None)
                upstream = threading.Thread(target=_pipe, args=(client, server), daemon=True)
                upstream.start()
                if mode == "serve":
                    _pipe(server, client)
                    upstream.join(timeout=10)
                    return
                # "kex": the whole key exchange goes through, then the device is gone.
                with contextlib.suppress(OSError, ConnectionError):
                    for chunk in _packets_until_newkeys(server):
                        client.sendall(chunk)
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
