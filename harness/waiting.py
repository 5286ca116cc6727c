"""Waiting for events against deadlines, never for a fixed time."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.end


def poll_until(
    probe: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Call `probe` until it returns something other than None/False, or raise TimeoutError.

    For events that nothing announces (a port that starts listening, a process that exits): the
    short sleep is the poll interval between probes, not a guess at how long the event takes."""
    deadline = Deadline(timeout)
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if deadline.expired:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(min(interval, deadline.remaining()))  # the poll interval (see the docstring)


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Wait until a TCP port accepts connections."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    poll_until(probe, timeout, what=f"{host}:{port} to listen")


def free_port(avoid: range = range(5555, 5586)) -> int:
    """A free loopback TCP port, never one the adb server scans (5555-5585)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port
