"""The emulated board's power switch: a unix socket speaking harness.power's controller protocol
(JSON lines {"op": "power_off" | "power_on" | "status"}), served from the process that owns the
QemuBoard, so an inventory's `power = { socket = PATH }` lets a harness run cut the board's power as a
lab's relay would (power_off SIGKILLs QEMU, power_on starts it again on the same ports)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from .board import QemuBoard

MAX_REQUEST = 4096


class PowerController:
    def __init__(self, board: QemuBoard, path: Path) -> None:
        self.board, self.path = board, path
        self.cuts = 0  # power_off requests served
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        os.chmod(path, 0o600)
        self._sock.listen(4)
        threading.Thread(target=self._accept, name="qemu-power", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            while line := stream.readline(MAX_REQUEST):
                stream.write(json.dumps(self.handle(line)).encode() + b"\n")
                stream.flush()

    def handle(self, line: bytes) -> dict[str, Any]:
        try:
            op = json.loads(line).get("op")
        except (ValueError, AttributeError):
            return {"ok": False, "error": "expected a JSON object with an op"}
        with self._lock:  # one switch action at a time
            try:
                if op == "power_off":
                    self.board.power_off()
                    self.cuts += 1
                    return {"ok": True}
                if op == "power_on":
                    self.board.power_on()
                    return {"ok": True}
                if op == "status":
                    return {"ok": True, "on": self.board.alive, "cuts": self.cuts}
            except OSError as exc:
                return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> PowerController:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
