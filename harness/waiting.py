"""Waiting for events against deadlines, never for a fixed time."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from pathlib import Path
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


# Ports handed out for private peers lie below the kernel's ephemeral range (32768-60999 by default),
# so no outgoing connection is ever given one of them as its source port: a port inside that range
# can be taken by a client while its server is down (a simulated device rebooting), and a client
# retrying a connection to a closed port can even connect to itself (TCP simultaneous open on
# loopback). The default lab of devices.toml sits at 27xxx, below these.
PRIVATE_PORTS_START = 28000


def _private_ports() -> range | None:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(PRIVATE_PORTS_START, low) if low - PRIVATE_PORTS_START >= 1000 else None


def free_port(avoid: range = range(5555, 5586)) -> int:
    """A free loopback TCP port for a private peer, outside the kernel's ephemeral range where it can
    be (else one the kernel picks), and never one the adb server scans (5555-5585)."""
    ports = _private_ports()
    rng = random.SystemRandom()
    while True:
        port = rng.choice(ports) if ports else 0
        if port in avoid:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = s.getsockname()[1]
        if port not in avoid:
            return port
