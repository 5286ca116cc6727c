"""A simulated device's own record of the commands it ran: one JSON line when a command starts and one
when it ends (with its exit code), appended by the device process outside the device's sandbox. Tests
of the multi-host lab read it to prove from the device's side that no two jobs ever shared the device
and that every job ran exactly once."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMMAND_LOG = "commands.log"  # in the device's folder of the lab's state dir
MAX_COMMAND_CHARS = 300  # enough to tell commands apart; the log is evidence, not a transcript
_ids = itertools.count(1)
_ids_lock = threading.Lock()


class CommandLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, record: dict[str, object]) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        # O_APPEND and one write per line: lines from parallel sessions never interleave.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def started(self, command: str) -> int:
        with _ids_lock:
            number = next(_ids)
        self._append({"event": "start", "id": f"{os.getpid()}-{number}", "t": time.time(),
                      "cmd": command[:MAX_COMMAND_CHARS]})
        return number

    def ended(self, number: int, exit_code: int | None) -> None:
        self._append({"event": "end", "id": f"{os.getpid()}-{number}", "t": time.time(), "exit": exit_code})


@dataclass(frozen=True)
class LoggedCommand:
    cmd: str
    start: float
    end: float | None  # None: it never ended (the device went down, the log was cut)
    exit: int | None


def read_command_log(path: Path) -> list[LoggedCommand]:
    """The commands of a log, in start order, each with its end (if it has one)."""
    starts: dict[str, dict[str, Any]] = {}
    ends: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        (starts if record.get("event") == "start" else ends)[str(record.get("id"))] = record
    out = []
    for key, s in starts.items():
        e = ends.get(key)
        out.append(LoggedCommand(cmd=str(s["cmd"]), start=float(s["t"]), end=float(e["t"]) if e else None,
                                 exit=e.get("exit") if e else None))
    return sorted(out, key=lambda c: c.start)
