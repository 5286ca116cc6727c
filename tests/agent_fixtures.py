"""Fixtures of the multi-host lab tests: a private PostgreSQL cluster (restarted by one test, so not the
session's shared one), three labs of ten simulated boards each, and agents as separate processes."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.lab.lab import Lab
from harness.waiting import poll_until
from tests import pg_peer
from tests.agent_peers import write_ssh_lab

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Labs:
    inventories: dict[str, Path]  # host name -> its lab's inventory
    labs: list[Lab] = field(default_factory=list)


@pytest.fixture(scope="module")
def agent_pg() -> Iterator[pg_peer.PostgresCluster]:
    missing = pg_peer.available()
    if missing:
        pytest.skip(missing)
    cluster = pg_peer.PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def queue_db(agent_pg: pg_peer.PostgresCluster) -> str:
    """A fresh database for one test's queue."""
    return agent_pg.create_database(f"queue_{secrets.token_hex(4)}")


@pytest.fixture(scope="module")
def three_labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Labs]:
    """Three lab hosts' benches, 10 boards each (30 in all), each lab on its own ports and state."""
    base = tmp_path_factory.mktemp("labs")
    tags = {"host-a": ("arm64", "kylin", "bench-a"), "host-b": ("arm64", "kylin", "bench-b"),
            "host-c": ("arm64", "kylin", "bench-c")}
    labs = Labs({h: write_ssh_lab(base / h, h, 10, tags[h]) for h in tags})
    try:
        for inventory in labs.inventories.values():
            lab = Lab(inventory)
            lab.up(timeout=60)
            labs.labs.append(lab)
        yield labs
    finally:
        for lab in labs.labs:
            lab.down()


class AgentProcess:
    """`python -m tests.agent_peers ...` (probe runner) or `harness agent ...` as its own process."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_registered(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited {self.proc.returncode}: {self.text()}")
            return "registered" in self.text()

        poll_until(ready, timeout, interval=0.05, what="the agent to register")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def probe_agent(db: str, inventory: Path, host: str, log: Path, *extra: str) -> AgentProcess:
    argv = [sys.executable, "-m", "tests.agent_peers", "--db", db, "-i", str(inventory), "--host", host, *extra]
    return AgentProcess(argv, log)


def harness(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
