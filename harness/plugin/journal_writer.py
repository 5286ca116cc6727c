"""Appends journal lines (the records of harness.results.journal_records): one JSON object per line,
flushed at once, secrets masked; each line is also sent to the runner's progress pipe when
HARNESS_PROGRESS_FD names one."""

from __future__ import annotations

import contextlib
import functools
import json
import os
from pathlib import Path
from typing import Any

from ..results.journal_records import JournalLine
from ..secrets import known_values, redact

PROGRESS_FD_ENV = "HARNESS_PROGRESS_FD"


def redact_tree(value: Any) -> Any:
    """Every string in a JSON-like value, masked (before serialising: JSON escaping could hide a secret
    from a text search)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_tree(k): redact_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(v) for v in value]
    return value


@functools.lru_cache(maxsize=8)
def _json_forms(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(json.dumps(v, ensure_ascii=False)[1:-1] for v in values)


def encode_line(obj: Any) -> str:
    """One journal line, secrets masked. JSON escapes character by character, so a string that holds a
    secret holds its escaped form once serialised: where no escaped secret is in the text, no string
    held one and the walk over every string (most of a line's cost) is skipped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if any(form in text for form in _json_forms(known_values())):
        text = json.dumps(redact_tree(obj), ensure_ascii=False, separators=(",", ":"))
    return text + "\n"


def progress_fd_from_env() -> int | None:
    raw = os.environ.get(PROGRESS_FD_ENV, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


class JournalWriter:
    """`path` None: no file (no run dir given); the progress pipe is still fed if there is one."""

    def __init__(self, path: Path | None, progress_fd: int | None = None) -> None:
        self.path = path
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the worker
        self._fd = progress_fd

    def write(self, line: JournalLine) -> None:
        text = encode_line(line.to_line())
        if self._file is not None:
            self._file.write(text)
            self._file.flush()
        if self._fd is not None:
            self._send(text.encode("utf-8"))

    def _send(self, data: bytes) -> None:
        assert self._fd is not None
        try:
            view = memoryview(data)
            while view:
                sent = os.write(self._fd, view)
                view = view[sent:]
        except OSError:
            # The runner stopped listening; the journal file is the record, so carry on without it.
            self._fd = None

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
