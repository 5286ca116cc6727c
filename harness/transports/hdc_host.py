"""The hdc client-server protocol on a plain socket: one channel per command (handshake, the command,
raw replies until the server closes). Never starts a server: when none answers, a typed error says
how to get one."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

from harness.errors import ConnectFailed, ConnectionLost
from harness.waiting import Deadline

from .hdc_wire import FrameReader, WireError, command_frame, handshake_reply, parse_handshake

READ_SIZE = 256 * 1024
# Bounded: a `list targets` or `tconn` reply is a few lines.
MAX_QUERY_REPLY = 1024 * 1024


class ChannelTimeout(Exception):
    """The deadline passed while waiting on the server (the caller decides what that means)."""


@dataclass
class Channel:
    """One client channel to the server, after the handshake and the command."""

    sock: socket.socket
    reader: FrameReader
    channel_id: int

    def messages(self, deadline: Deadline) -> list[bytes] | None:
        """The next messages; None when the server closed the channel. ChannelTimeout past the deadline."""
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise ChannelTimeout
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(READ_SIZE)
            except TimeoutError:
                raise ChannelTimeout from None
            if not data:
                if self.reader.pending:
                    raise ConnectionLost(f"hdc server closed the channel inside a message "
                                         f"({self.reader.pending} bytes pending)")
                return None
            try:
                out = self.reader.feed(data)
            except WireError as exc:
                raise ConnectionLost(f"hdc server: {exc}") from None
            if out:
                return out

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class HdcHost:
    """Talks to one hdc server (local or a lab host's host:port)."""

    def __init__(self, host: str, port: int, *, connect_timeout: float = 5.0) -> None:
        self.host, self.port, self.connect_timeout = host, port, connect_timeout

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def dial(self, timeout: float) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port),
                                            timeout=min(timeout, self.connect_timeout))
        except OSError as exc:
            raise ConnectFailed(
                f"hdc server {self.address} not reachable: {exc.strerror or exc} (start one with "
                f"`hdc -s {self.address} start`, or set hdc.server; the harness never starts one)"
            ) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def open(self, connect_key: str, command: str, timeout: float) -> Channel:
        """A channel to `connect_key` ("" for server commands) with `command` sent."""
        deadline = Deadline(timeout)
        sock = self.dial(max(deadline.remaining(), 0.001))
        channel = Channel(sock, FrameReader(), 0)
        try:
            try:
                first = channel.messages(deadline)
            except ChannelTimeout:
                raise ConnectFailed(f"hdc server {self.address} did not greet in {timeout:g}s") from None
            if not first:
                raise ConnectionLost(f"hdc server {self.address} closed the channel before its handshake")
            banner, channel.channel_id = parse_handshake(first[0])
            sock.sendall(handshake_reply(banner, connect_key) + command_frame(command))
        except WireError as exc:
            channel.close()
            raise ConnectFailed(f"hdc server {self.address}: {exc}") from None
        except OSError as exc:
            channel.close()
            raise ConnectionLost(f"hdc server {self.address} connection failed: {exc}") from None
        except BaseException:
            channel.close()
            raise
        return channel

    def query(self, command: str, connect_key: str = "", timeout: float = 10.0) -> str:
        """A command whose whole reply is a little text (list targets, tconn, target boot)."""
        deadline = Deadline(timeout)
        channel = self.open(connect_key, command, timeout)
        reply = bytearray()
        try:
            while (messages := channel.messages(deadline)) is not None:
                for message in messages:
                    reply += message
                if len(reply) > MAX_QUERY_REPLY:
                    raise ConnectionLost(f"hdc server: reply to {command!r} is larger than {MAX_QUERY_REPLY}")
        except ChannelTimeout:
            raise ConnectFailed(f"hdc server {self.address} did not finish {command!r} "
                                f"in {timeout:g}s") from None
        except OSError as exc:
            raise ConnectionLost(f"hdc server {self.address} connection failed: {exc}") from None
        finally:
            channel.close()
        return reply.decode("utf-8", errors="replace")

    def targets(self, timeout: float = 5.0) -> dict[str, str]:
        """connect key -> state (Connected, Offline, Unauthorized, ...) from `list targets -v`."""
        states: dict[str, str] = {}
        for line in self.query("list targets -v", timeout=timeout).splitlines():
            fields = line.split()
            if len(fields) >= 3 and not line.startswith("["):
                states[fields[0]] = fields[2]
        return states
