"""How much SshTransport.run adds over a bare paramiko exec, and what spawning `ssh` per command costs.

    .venv/bin/python bench/bench_ssh.py [iterations]

Both in-process variants run against the same private OpenSSH sshd, interleaved in one loop (so drift
in machine load hits both alike), each over its own already-open connection on a TCP_NODELAY socket."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import paramiko

from harness.lab.peers.sshd import OpenSshServer
from harness.transports.ssh import SshTransport

WARMUP = 10


def _raw_client(sshd: OpenSshServer) -> paramiko.SSHClient:
    sock = socket.create_connection((sshd.host, sshd.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = paramiko.SSHClient()
    client.load_host_keys(str(sshd.known_hosts))
    client.connect(
        sshd.host,
        port=sshd.port,
        username=sshd.user,
        key_filename=str(sshd.client_key),
        sock=sock,
        allow_agent=False,
        look_for_keys=False,
    )
    return client


def _time_ms(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def measure(iterations: int = 300) -> dict[str, float]:
    spawn_iterations = max(5, min(20, iterations))
    with OpenSshServer() as sshd:
        ours = SshTransport(sshd.spec())
        raw = _raw_client(sshd)
        try:
            ours.connect()

            def run_ours() -> None:
                if ours.run("true", timeout=10).exit_code != 0:
                    raise RuntimeError("`true` failed through SshTransport")

            def run_raw() -> None:
                _, stdout, _ = raw.exec_command("true")
                if stdout.channel.recv_exit_status() != 0:
                    raise RuntimeError("`true` failed through raw paramiko")

            for _ in range(WARMUP):
                run_ours()
                run_raw()
            ours_ms: list[float] = []
            raw_ms: list[float] = []
            for i in range(iterations):
                # Alternate which goes first, so neither always follows the other's cleanup.
                if i % 2:
                    ours_ms.append(_time_ms(run_ours))
                    raw_ms.append(_time_ms(run_raw))
                else:
                    raw_ms.append(_time_ms(run_raw))
                    ours_ms.append(_time_ms(run_ours))
        finally:
            ours.close()
            raw.close()

        ssh_argv = [
            "ssh", "-F", "/dev/null", "-i", str(sshd.client_key), "-p", str(sshd.port),
            "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", f"{sshd.user}@{sshd.host}", "true",
        ]

        def spawn() -> None:
            subprocess.run(ssh_argv, check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)

        spawn_ms = [_time_ms(spawn) for _ in range(spawn_iterations)]

    ours_median = statistics.median(ours_ms)
    raw_median = statistics.median(raw_ms)
    return {
        "ours_ms": round(ours_median, 3),
        "raw_ms": round(raw_median, 3),
        "ratio": round(ours_median / raw_median, 3),
        "spawn_ssh_client_ms": round(statistics.median(spawn_ms), 3),
        "iterations": iterations,
        "spawn_iterations": spawn_iterations,
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 300), indent=2))
