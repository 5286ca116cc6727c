"""Benchmark: one `true` through SerialTransport.run vs. the least a console round trip can cost.

Both sides use the same shell on the same pty (a ConsolePeer reached through its device path), in the
same state (logged in and set up by the driver), interleaved so machine noise hits both alike:
  ours: SerialTransport.run("true")  (the background job, its checked report, the exit code)
  raw:  the same framing by hand: write the very line the driver types (`__hr <token> 'true' ...`)
        and read until its status line has arrived whole, with nothing else done.

    python bench/bench_serial.py [iterations]
"""

from __future__ import annotations

import json
import os
import secrets
import select
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.lab.peers.console import ConsolePeer  # noqa: E402
from harness.transports.base import DEFAULT_MAX_OUTPUT  # noqa: E402
from harness.transports.serial import SerialTransport  # noqa: E402
from harness.transports.serial_protocol import STATUS_TAG, run_line  # noqa: E402


def _raw_round_trip(fd: int) -> None:
    token = secrets.token_hex(6)
    os.write(fd, run_line(token, "true", DEFAULT_MAX_OUTPUT).encode() + b"\r")
    status = STATUS_TAG.encode() + token.encode() + b" "
    seen = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 5.0)
        if not ready:
            raise TimeoutError(f"raw round trip got no answer: {seen[-80:]!r}")
        seen += os.read(fd, 65536)
        at = seen.find(status)
        if at >= 0 and seen.find(b"\n", at) >= 0:  # the status line, whole
            return


def measure(iterations: int = 300) -> dict[str, float]:
    with ConsolePeer() as peer, SerialTransport(peer.serial_spec(), connect_timeout=15) as console:
        console.connect()
        raw_fd = os.open(peer.path, os.O_RDWR | os.O_NOCTTY)
        try:
            for _ in range(20):  # warm up both paths
                console.run("true")
                _raw_round_trip(raw_fd)
            ours: list[float] = []
            raw: list[float] = []
            for _ in range(iterations):
                start = time.perf_counter()
                result = console.run("true")
                ours.append(time.perf_counter() - start)
                assert result.exit_code == 0
                start = time.perf_counter()
                _raw_round_trip(raw_fd)
                raw.append(time.perf_counter() - start)
        finally:
            os.close(raw_fd)
    ours_ms = statistics.median(ours) * 1000
    raw_ms = statistics.median(raw) * 1000
    return {"ours_ms": round(ours_ms, 4), "raw_ms": round(raw_ms, 4), "ratio": round(ours_ms / raw_ms, 3)}


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 300)))
