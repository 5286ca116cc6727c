"""The emulated board's power switch: a unix socket speaking harness.power's controller protocol
(JSON lines {"op": "power_off" | "power_on" | "status"}), served from the process that owns the
QemuBoard, so an inventory's `power = { socket = PATH }` lets a harness run cut the board's power as a
lab's relay would (power_off SIGKILLs QEMU, power_on starts it again on the same ports)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from ..control_socket import JsonLineServer
from .board import QemuBoard


class PowerController(JsonLineServer):
    max_request = 4096

    def __init__(self, board: QemuBoard, path: Path) -> None:
        super().__init__(path, backlog=4)
        self.board = board
        self.cuts = 0  # power_off requests served
        self._lock = threading.Lock()
        self.serve_in_background("qemu-power")

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

    def __enter__(self) -> PowerController:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
