"""Per-test timeout: SIGALRM in the main thread raises TestTimedOut inside the test (a blocked
command's select() is interrupted; the transport stops the remote command on the way out)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from .outcome import TestTimedOut


@contextmanager
def per_test_alarm(seconds: float | None) -> Iterator[None]:
    """Arm a one-shot alarm for the block. Another user of SIGALRM (pytest-timeout's signal method) gets
    its handler and the rest of its timer back afterwards."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise TestTimedOut(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    earlier_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if earlier_delay:
            left = earlier_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))
