"""A JSON-lines server on a unix socket (owner-only), one thread per connection: the lab's control
channels (a simulated device's, the emulated board's power switch) speak it. A subclass answers each
request line in `handle`; bounded lines, so a client cannot make it hold more than `max_request`."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any


class JsonLineServer:
    max_request = 64 * 1024

    def __init__(self, path: Path, *, backlog: int = 8) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        os.chmod(path, 0o600)
        self.sock.listen(backlog)

    def handle(self, line: bytes) -> dict[str, Any]:
        raise NotImplementedError

    def serve_in_background(self, name: str) -> None:
        threading.Thread(target=self._accept, name=name, daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            while line := stream.readline(self.max_request):
                stream.write(json.dumps(self.handle(line)).encode() + b"\n")
                stream.flush()
