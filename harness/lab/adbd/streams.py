"""One ADB connection on the device side: the CNXN handshake, the stream table and per-stream flow
control (exactly one WRTE in flight per stream: the next waits for the peer's OKAY)."""

from __future__ import annotations

import contextlib
import itertools
import queue
import socket
import threading
from collections.abc import Callable

from harness.lab.adbd.messages import (
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_VERSION,
    A_VERSION_SKIP_CHECKSUM,
    A_WRTE,
    MAX_PAYLOAD,
    Message,
    MessageReader,
    ProtocolError,
    encode,
)

_ids = itertools.count(1)


class Stream:
    """A service's end of one OPEN: write() blocks until the previous WRTE was acknowledged."""

    def __init__(self, conn: AdbConnection, local_id: int, remote_id: int, service: str) -> None:
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self.service = service
        self._cond = threading.Condition()
        self._can_write = True
        self.closed = False
        self._inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._close_hooks: list[Callable[[], None]] = []

    def write(self, data: bytes) -> bool:
        """Send data in payload-sized WRTEs; False once the stream (or the connection) is closed."""
        size = self.conn.max_payload
        for pos in range(0, len(data), size):
            with self._cond:
                while not self._can_write and not self.closed:
                    self._cond.wait()
                if self.closed:
                    return False
                self._can_write = False
            if not self.conn.send(Message(A_WRTE, self.local_id, self.remote_id, data[pos : pos + size])):
                return False
        return True

    def read(self) -> bytes | None:
        """The next WRTE payload from the host (acknowledged once taken), or None once closed."""
        data = self._inbox.get()
        if data is not None:
            self.conn.send(Message(A_OKAY, self.local_id, self.remote_id))
        return data

    def on_close(self, hook: Callable[[], None]) -> None:
        with self._cond:
            if not self.closed:
                self._close_hooks.append(hook)
                return
        hook()

    def close(self) -> None:
        """Our side is done: tell the host (CLSE) and forget the stream."""
        if self._mark_closed():
            self.conn.send(Message(A_CLSE, self.local_id, self.remote_id))
        self.conn.forget(self.local_id)

    # Called by the connection's reader thread.
    def peer_okay(self) -> None:
        with self._cond:
            self._can_write = True
            self._cond.notify_all()

    def peer_data(self, data: bytes) -> None:
        self._inbox.put(data)

    def peer_closed(self) -> None:
        self._mark_closed()

    def _mark_closed(self) -> bool:
        with self._cond:
            if self.closed:
                return False
            self.closed = True
            hooks, self._close_hooks = self._close_hooks, []
            self._cond.notify_all()
        self._inbox.put(None)
        for hook in hooks:
            hook()
        return True


# Finds the service named in an OPEN: returns the function that serves it, None when unknown.
ServiceResolver = Callable[[Stream], Callable[[], None] | None]


class AdbConnection:
    """Reads messages from one TCP connection of the adb server and dispatches them."""

    def __init__(
        self,
        sock: socket.socket,
        banner: bytes,
        resolve_service: ServiceResolver,
        max_payload: int = MAX_PAYLOAD,
    ) -> None:
        self.sock = sock
        self.banner = banner
        self.resolve_service = resolve_service
        self.max_payload = max_payload
        self.online = False
        self._send_lock = threading.Lock()
        self._streams: dict[int, Stream] = {}
        self._streams_lock = threading.Lock()
        self._skip_checksum = False
        self._dead = False

    def send(self, message: Message) -> bool:
        data = encode(message, with_checksum=not self._skip_checksum)
        try:
            with self._send_lock:
                self.sock.sendall(data)
            return True
        except OSError:
            self.drop()
            return False

    def forget(self, local_id: int) -> None:
        with self._streams_lock:
            self._streams.pop(local_id, None)

    def drop(self) -> None:
        """Cut the TCP connection (reboot, fault injection or a dead peer)."""
        if self._dead:
            return
        self._dead = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def serve(self) -> None:
        reader = MessageReader(max_payload=max(self.max_payload, 1024 * 1024))
        try:
            while True:
                try:
                    data = self.sock.recv(1024 * 1024)
                except OSError:
                    break
                if not data:
                    break
                for message in reader.feed(data):
                    self._dispatch(message, reader)
        except ProtocolError:
            pass
        finally:
            self.drop()
            with self._streams_lock:
                streams, self._streams = list(self._streams.values()), {}
            for stream in streams:
                stream.peer_closed()

    def _dispatch(self, message: Message, reader: MessageReader) -> None:
        cmd = message.command
        if cmd == A_CNXN:
            # The host's CNXN carries its version and max payload; ours goes back without AUTH.
            self._skip_checksum = message.arg0 >= A_VERSION_SKIP_CHECKSUM
            reader.check_data = not self._skip_checksum
            self.max_payload = min(self.max_payload, message.arg1)
            self.online = True
            self.send(Message(A_CNXN, A_VERSION, self.max_payload, self.banner))
        elif not self.online:
            return
        elif cmd == A_OPEN:
            self._open(message)
        elif cmd == A_OKAY:
            stream = self._find(message.arg1)
            if stream is not None:
                stream.peer_okay()
        elif cmd == A_WRTE:
            stream = self._find(message.arg1)
            if stream is None:
                self.send(Message(A_CLSE, 0, message.arg0))
            else:
                stream.peer_data(message.data)
        elif cmd == A_CLSE:
            with self._streams_lock:
                gone = self._streams.pop(message.arg1, None)
            if gone is not None:
                gone.peer_closed()

    def _find(self, local_id: int) -> Stream | None:
        with self._streams_lock:
            return self._streams.get(local_id)

    def _open(self, message: Message) -> None:
        service = message.data.rstrip(b"\0").decode("utf-8", errors="replace")
        stream = Stream(self, next(_ids), message.arg0, service)
        serve = self.resolve_service(stream)
        if serve is None:
            self.send(Message(A_CLSE, 0, message.arg0))  # what adbd answers to an unknown service
            return
        with self._streams_lock:
            self._streams[stream.local_id] = stream
        # The OKAY must precede the service's first WRTE, so it goes out before the service starts.
        self.send(Message(A_OKAY, stream.local_id, stream.remote_id))
        threading.Thread(target=serve, name=f"adbd-{service[:20]}", daemon=True).start()
