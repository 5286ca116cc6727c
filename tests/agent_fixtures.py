"""Fixtures of the multi-host lab tests: a private PostgreSQL cluster (restarted by one test, so not the
session's shared one), three labs of ten simulated boards each, and agents as separate processes."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from harness.agent import queue as jobq
from harness.agent import registry
from harness.agent.dburl import conninfo
from harness.lab.lab import Lab
from harness.waiting import poll_until
from tests import pg_peer
from tests.agent_peers import start_ssh_lab

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Labs:
    inventories: dict[str, Path]  # host name -> its lab's inventory
    labs: list[Lab] = field(default_factory=list)


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def three_labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Labs]:
    """Three lab hosts' benches, 10 boards each (30 in all), each lab on its own ports and state."""
    base = tmp_path_factory.mktemp("labs")
    tags = {"host-a": ("arm64", "kylin", "bench-a"), "host-b": ("arm64", "kylin", "bench-b"),
            "host-c": ("arm64", "kylin", "bench-c")}
    labs = Labs({})
    try:
        for host, host_tags in tags.items():
            labs.labs.append(_lab_up(labs, base / host, host, host_tags))
        yield labs
    finally:
        for lab in labs.labs:
            lab.down()


def _lab_up(labs: Labs, folder: Path, host: str, tags: tuple[str, ...]) -> Lab:
    lab, labs.inventories[host] = start_ssh_lab(folder, host, 10, tags, timeout=60)
    return lab


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


def job_states(db: str) -> dict[int, tuple[str, str, str | None]]:
    """job id -> (view state, device, host) as `harness jobs --json` shows them."""
    done = harness("jobs", "--db", db, "--json", "--limit", "10000")
    assert done.returncode == 0, done.stderr
    return {j["id"]: (j["state"], j["device"], j["host"]) for j in json.loads(done.stdout) if j["kind"] == "run"}


def jobs_json(db: str) -> dict[int, dict[str, object]]:
    """The jobs as `harness jobs --json` shows them (read in-process: the tests poll it)."""
    with psycopg.connect(conninfo(db), autocommit=True, row_factory=dict_row) as conn:
        return {v.id: v.as_json() for v in jobq.list_jobs(conn, limit=10000)}


def devices_json(db: str) -> dict[str, dict[str, object]]:
    with psycopg.connect(conninfo(db), autocommit=True, row_factory=dict_row) as conn:
        return {d.name: vars(d) for d in registry.device_states(conn, 30.0)}


def sql(db: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(conninfo(db), autocommit=True) as conn:
        cur = conn.execute(query, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def wait_all_done(db: str, count: int, timeout: float) -> dict[int, tuple[str, str, str | None]]:
    def probe() -> dict[int, tuple[str, str, str | None]] | None:
        with psycopg.connect(conninfo(db)) as conn:
            rows = conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
                                " AND task_name = 'harness.run'").fetchone()
        return None if rows and rows[0] else job_states(db)

    states = poll_until(probe, timeout, interval=0.2, what="every job to finish")
    assert len(states) == count
    return states


SUITES = Path(__file__).resolve().parent / "data" / "agent_suites"


def suite_agent(db: str, inventory: Path, host: str, tmp: Path, *extra: str,
                env: dict[str, str] | None = None, log: str = "agent") -> AgentProcess:
    argv = [sys.executable, "-m", "harness", "-i", str(inventory), "agent", "--db", db, "--host", host,
            "--reports", str(tmp / "reports"), "--suites-root", str(SUITES), "--health-every", "0",
            "--heartbeat", "0.5", "--host-timeout", "10", *extra]
    return AgentProcess(argv, tmp / f"{host}-{log}.log", env=env)


