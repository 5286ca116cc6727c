"""Byte links under the serial transport: a tty device, pyserial's socket:// and rfc2217://.

One small interface (read what has arrived within a time, write everything, close) hides the three
ways pyserial delivers bytes. socket:// reports in_waiting as 0 or 1, so it is read by select() on its
socket and large reads; a tty likewise through its fd; rfc2217 has no fd (a reader thread fills a
queue), so it is read with its own short blocking reads.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
from typing import Any, Protocol

import serial

from ..errors import ConnectFailed, ConnectionLost

READ_SIZE = 65536
# rfc2217 reads block at most this long per call, so deadlines are still honoured closely.
RFC2217_POLL = 0.05


class ByteLink(Protocol):
    def read(self, timeout: float) -> bytes:
        """Bytes that arrive within `timeout` (b"" if none); ConnectionLost when the link is gone."""
        ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class _PyserialLink:
    def __init__(self, port: Any) -> None:
        self.port = port

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except (serial.SerialException, OSError) as exc:
            raise ConnectionLost(f"console link lost while writing: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self.port.close()


class FdLink(_PyserialLink):
    """A tty device (a real UART or a pty): select() and os.read()/os.write() on its fd, no pyserial
    loop and no tcdrain: the tty queues what is written, and each exchange waits for its answer."""

    def write(self, data: bytes) -> None:
        fd = self.port.fd
        if fd is None:
            raise ConnectionLost("console link is closed")
        view = memoryview(data)
        try:
            while view:
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    select.select([], [fd], [], 1.0)
        except OSError as exc:
            raise ConnectionLost(f"console link lost while writing: {exc}") from exc

    def read(self, timeout: float) -> bytes:
        fd = self.port.fd
        if fd is None:
            raise ConnectionLost("console link is closed")
        ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
        if not ready:
            return b""
        try:
            data = os.read(fd, READ_SIZE)
        except OSError as exc:  # EIO: the other end of the pty (or the USB adapter) went away
            raise ConnectionLost(f"console link lost: {exc}") from exc
        if not data:
            raise ConnectionLost("console link lost: end of file")
        return data


class SocketLink(_PyserialLink):
    """pyserial's socket:// (raw TCP, e.g. ser2net): select on the socket, then one large read."""

    def __init__(self, port: Any) -> None:
        super().__init__(port)
        # Each command is one small write that waits for its answer: Nagle would only add latency.
        sock = getattr(port, "_socket", None)
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read(self, timeout: float) -> bytes:
        try:
            ready, _, _ = select.select([self.port.fileno()], [], [], max(timeout, 0.0))
            if not ready:
                return b""
            data: bytes = self.port.read(READ_SIZE)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConnectionLost(f"console link lost: {exc}") from exc
        return data


class QueueLink(_PyserialLink):
    """pyserial's rfc2217:// (telnet COM port control): its reader thread queues bytes for us."""

    def read(self, timeout: float) -> bytes:
        # The port was opened with timeout=RFC2217_POLL; setting .timeout would renegotiate the port.
        remaining = timeout
        while True:
            try:
                waiting = self.port.in_waiting
                data: bytes = self.port.read(waiting or 1)
            except (serial.SerialException, OSError) as exc:
                raise ConnectionLost(f"console link lost: {exc}") from exc
            if data or remaining <= RFC2217_POLL:
                return data
            remaining -= RFC2217_POLL


def open_link(url: str, baud: int) -> ByteLink:
    """Open a device path or pyserial URL; ConnectFailed when it cannot be opened at all."""
    is_rfc2217 = url.startswith("rfc2217://")
    try:
        port = serial.serial_for_url(url, baudrate=baud, timeout=RFC2217_POLL if is_rfc2217 else 0)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise ConnectFailed(f"cannot open console {url}: {exc}") from exc
    if is_rfc2217:
        return QueueLink(port)
    if getattr(port, "fd", None) is not None:
        return FdLink(port)
    return SocketLink(port)
