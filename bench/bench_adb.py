"""Benchmark: AdbTransport.run("true") against the raw adb host protocol on a socket, and against
spawning the adb client, all through the real adb server to a simulated adbd with shell_v2 on.

Run alone: `.venv/bin/python bench/bench_adb.py [iterations]`."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.lab.adbd.server import SimulatedAdbd  # noqa: E402
from harness.lab.peers.adb_server import AdbServer  # noqa: E402
from harness.specs import AdbSpec  # noqa: E402
from harness.transports.adb import AdbTransport  # noqa: E402


def _request(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(b"%04x" % len(payload) + payload)
    status = sock.recv(4)
    if status != b"OKAY":
        raise RuntimeError(f"adb server answered {status!r} to {payload!r}")


def raw_shell_true(port: int, serial: str) -> bytes:
    """The least a client can do: host:transport, then `shell:true; echo X$?`, read to EOF."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _request(sock, f"host:transport:{serial}".encode())
        _request(sock, b"shell:true; echo X$?")
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    if out.strip() != b"X0":
        raise RuntimeError(f"raw shell answered {out!r}")
    return out


def measure(iterations: int = 300) -> dict[str, float]:
    with AdbServer() as server, SimulatedAdbd(shell_v2=True) as adbd:
        server.connect(adbd.serial)
        dut = AdbTransport(AdbSpec(serial=adbd.serial, server_port=server.port, connect=adbd.serial))
        dut.run("true")  # learn the features once, outside the timing
        raw_shell_true(server.port, adbd.serial)
        ours: list[float] = []
        raw: list[float] = []
        for _ in range(iterations):  # interleaved, so drift hits both alike
            t0 = time.perf_counter()
            result = dut.run("true")
            t1 = time.perf_counter()
            raw_shell_true(server.port, adbd.serial)
            t2 = time.perf_counter()
            if result.exit_code != 0:
                raise RuntimeError(f"true exited {result.exit_code}")
            ours.append(t1 - t0)
            raw.append(t2 - t1)
        spawn: list[float] = []
        argv = [str(server.binary), "-P", str(server.port), "-s", adbd.serial, "shell", "true"]
        for _ in range(20):
            t0 = time.perf_counter()
            subprocess.run(argv, env=server.env, stdin=subprocess.DEVNULL, capture_output=True, check=True)
            spawn.append(time.perf_counter() - t0)
        server.cli("disconnect", adbd.serial)
    ours_ms = statistics.median(ours) * 1000
    raw_ms = statistics.median(raw) * 1000
    return {
        "ours_ms": round(ours_ms, 3),
        "raw_ms": round(raw_ms, 3),
        "ratio": round(ours_ms / raw_ms, 3),
        "spawn_adb_shell_ms": round(statistics.median(spawn) * 1000, 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 300)))
