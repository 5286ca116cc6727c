"""The adb host protocol on a plain socket: a request is a 4-hex-digit length + text; the adb server
answers OKAY or FAIL + 4-hex-digit length + message. Small, and much faster than adbutils' shell
path (no server_version() round trip per call, no sleep on close)."""

from __future__ import annotations

import contextlib
import socket

from harness.errors import ConnectFailed, ConnectionLost
from harness.waiting import Deadline


def recv_exact(sock: socket.socket, n: int, deadline: Deadline | None = None) -> bytes:
    """Exactly n bytes. With a deadline, each read gets what is left of it (the socket's own timeout is
    per read: a peer sending a byte at a time would otherwise stretch it without end)."""
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline.remaining()
            if left <= 0:
                raise TimeoutError(f"{len(buf)} of {n} bytes read by the deadline")
            sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionLost(f"adb server closed the connection ({len(buf)} of {n} bytes read)")
        buf += chunk
    return bytes(buf)


def read_block(sock: socket.socket) -> bytes:
    header = recv_exact(sock, 4)
    try:
        length = int(header, 16)
    except ValueError:
        raise ConnectionLost(f"adb server sent {header!r} instead of a block length") from None
    return recv_exact(sock, length)


class AdbHost:
    """Talks to one adb server (local or a lab host's host:port)."""

    def __init__(self, host: str, port: int, *, connect_timeout: float = 5.0) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout

    def dial(self, timeout: float | None = None) -> socket.socket:
        try:
            sock = socket.create_connection(
                (self.host, self.port), timeout=min(timeout or self.connect_timeout, self.connect_timeout)
            )
        except OSError as exc:
            raise ConnectFailed(f"adb server {self.host}:{self.port} not reachable: {exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeout)
        return sock

    def request(self, sock: socket.socket, payload: str) -> None:
        """Send one request and check the server's OKAY; FAIL raises with adb's message."""
        raw = payload.encode()
        try:
            sock.sendall(b"%04x" % len(raw) + raw)
            status = recv_exact(sock, 4)
            if status == b"OKAY":
                return
            if status == b"FAIL":
                message = read_block(sock).decode("utf-8", errors="replace")
                # Device gone, offline, unknown or unauthorized: it cannot be reached at all.
                raise ConnectFailed(f"adb: {message}")
        except TimeoutError:
            raise ConnectFailed(f"adb server did not answer {payload.split(':')[0]!r} in time") from None
        except OSError as exc:  # reset, broken pipe, ...: the server went away mid-request
            raise ConnectionLost(f"adb server connection failed: {exc}") from None
        raise ConnectionLost(f"adb server sent {status!r} instead of OKAY/FAIL")

    def query(self, payload: str, timeout: float = 10.0) -> str:
        """A host service that answers with one length-prefixed block (features, get-state, connect)."""
        sock = self.dial(timeout)
        try:
            self.request(sock, payload)
            try:
                return read_block(sock).decode("utf-8", errors="replace")
            except TimeoutError:
                raise ConnectFailed(f"adb server did not answer {payload!r} in time") from None
            except OSError as exc:
                raise ConnectionLost(f"adb server connection failed: {exc}") from None
        finally:
            sock.close()

    def open_service(self, serial: str, service: str, timeout: float | None) -> socket.socket:
        """A socket connected through the server to `service` on the device (shell:, sync:, ...)."""
        sock = self.dial(timeout)
        try:
            self.request(sock, f"host:transport:{serial}")
            self.request(sock, service)
        except BaseException:
            sock.close()
            raise
        return sock

    def get_state(self, serial: str, timeout: float = 5.0) -> str:
        """`device`, `offline`, ...; `missing` when the server does not know the serial."""
        try:
            return self.query(f"host-serial:{serial}:get-state", timeout).strip()
        except ConnectFailed as exc:
            if "not found" in str(exc):
                return "missing"
            if "offline" in str(exc):
                return "offline"
            raise


def close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
