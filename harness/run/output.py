"""The runner's own output when nobody is there any more: a pipe whose reader exited
(`harness run ... | head -1`), a terminal that hung up (SIGHUP, then EIO on every write), a log file
on a full disk. None of that is a reason to lose the run: the failing stream is pointed at /dev/null,
and the run stops as on Ctrl-C (every worker writes its records, the results are built and published,
exit 3). Nobody reads the verdict table then, but the run folder and its bundle hold everything."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TextIO


class _Watch:
    """Process-wide: whether the output was lost or a hangup came, and whom to tell."""

    def __init__(self) -> None:
        self.lost = False
        self.hangup = False
        self.listeners: list[Callable[[], None]] = []

    def cut_short(self) -> bool:
        return self.lost or self.hangup

    def tell(self) -> None:
        for listener in list(self.listeners):
            listener()


_watch = _Watch()


class GuardedStream:
    """A text stream whose write/flush never fail: on any OSError the stream's descriptor is pointed
    at /dev/null (so later writes, and the interpreter's flush at exit, go nowhere quietly) and the
    watch is told."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _lose(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()  # what was buffered goes to /dev/null now
        if not _watch.lost:
            _watch.lost = True
            _watch.tell()

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            self._lose()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            self._lose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _on_hangup(signum: int, frame: FrameType | None) -> None:
    _watch.hangup = True
    _watch.tell()


def guard_output() -> None:
    """For the whole of a run command: stdout and stderr that cannot fail, and SIGHUP taken as a
    request to stop (the default would kill the runner with its records half-built)."""
    if not isinstance(sys.stdout, GuardedStream):
        sys.stdout = GuardedStream(sys.stdout)
    if not isinstance(sys.stderr, GuardedStream):
        sys.stderr = GuardedStream(sys.stderr)
    signal.signal(signal.SIGHUP, _on_hangup)


def cut_short() -> bool:
    """The output was lost or a hangup came: the run is to end as an interrupted one."""
    return _watch.cut_short()


@contextlib.contextmanager
def on_cut_short(listener: Callable[[], None]) -> Iterator[None]:
    """Call `listener` (from a signal handler or a writing thread: keep it small) when the output is
    lost or a hangup comes during the block; at once if that happened already."""
    _watch.listeners.append(listener)
    try:
        if _watch.cut_short():
            listener()
        yield
    finally:
        _watch.listeners.remove(listener)
