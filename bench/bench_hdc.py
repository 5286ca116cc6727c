"""Benchmark: HdcTransport.run("true") against one shell command over a bare socket to the hdc server,
and against spawning `hdc shell` per command, all through the real hdc server to the real hdcd inside
a simulated handset's own namespaces (the peers come from harness.lab.hdc.build's cache).

Run alone: `.venv/bin/python bench/bench_hdc.py [iterations]`."""

from __future__ import annotations

import json
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.lab.hdc.build import build_hdc  # noqa: E402
from harness.lab.hdc.server import HdcServer  # noqa: E402
from tests.hdc_peers import hdc_device, transport_for  # noqa: E402


def _recv_message(sock: socket.socket) -> bytes | None:
    head = sock.recv(4, socket.MSG_WAITALL)
    if len(head) < 4:
        return None
    (length,) = struct.unpack(">I", head)
    return sock.recv(length, socket.MSG_WAITALL)


def raw_shell_true(port: int, target: str) -> bytes:
    """The least a client can do: take the handshake, answer it with the target, send
    `shell true; echo X$?`, read the messages until the server closes the channel."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hello = _recv_message(sock)
        assert hello is not None and hello.startswith(b"OHOS HDC")
        reply = hello[:12] + target.encode().ljust(32, b"\0")
        command = b"shell true; echo X$?\0"
        sock.sendall(struct.pack(">I", len(reply)) + reply + struct.pack(">I", len(command)) + command)
        out = b""
        while (message := _recv_message(sock)) is not None:
            out += message
    if out.strip() != b"X0":
        raise RuntimeError(f"raw shell answered {out!r}")
    return out


def measure(iterations: int = 300) -> dict[str, float]:
    bins = build_hdc()
    with tempfile.TemporaryDirectory(prefix="bench-hdc-") as tmp, HdcServer(bins.hdc) as server, \
            hdc_device(Path(tmp), server, bins) as device:
        dut = transport_for(device)
        target = dut.target
        dut.run("true")
        raw_shell_true(server.port, target)
        ours: list[float] = []
        raw: list[float] = []
        for _ in range(iterations):  # interleaved, so drift hits both alike
            t0 = time.perf_counter()
            result = dut.run("true")
            t1 = time.perf_counter()
            raw_shell_true(server.port, target)
            t2 = time.perf_counter()
            if result.exit_code != 0:
                raise RuntimeError(f"true exited {result.exit_code}")
            ours.append(t1 - t0)
            raw.append(t2 - t1)
        spawn: list[float] = []
        argv = [str(bins.hdc), "-s", server.address, "-t", target, "shell", "true"]
        for _ in range(20):
            t0 = time.perf_counter()
            subprocess.run(argv, env=server.env, stdin=subprocess.DEVNULL, capture_output=True, check=True)
            spawn.append(time.perf_counter() - t0)
    ours_ms = statistics.median(ours) * 1000
    raw_ms = statistics.median(raw) * 1000
    return {
        "ours_ms": round(ours_ms, 3),
        "raw_ms": round(raw_ms, 3),
        "ratio": round(ours_ms / raw_ms, 3),
        "spawn_hdc_shell_ms": round(statistics.median(spawn) * 1000, 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 300)))
