"""A private PostgreSQL cluster for tests: Debian's postgresql binaries (15 on bookworm), `initdb` in a temporary
folder, `pg_ctl` on a private loopback port with its own socket folder, password (SCRAM) auth, and
removed at the end. initdb refuses to run as root, so as root the cluster belongs to the `postgres`
system user (the Debian package makes it) and every server command runs through `runuser`.

Session-scoped (`postgres` fixture): the multi-host agent work can reuse it. A missing binary skips
here and fails in CI (HARNESS_REQUIRE_PEERS=1)."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.waiting import free_port


def _pg_bin() -> Path:
    """$HARNESS_PG_BIN, else the newest Debian PostgreSQL (15 on bookworm, 17 on trixie)."""
    if os.environ.get("HARNESS_PG_BIN"):
        return Path(os.environ["HARNESS_PG_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
SUPERUSER = "harness"


class PostgresCluster:
    def __init__(self) -> None:
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.base = Path(tempfile.mkdtemp(prefix="harness-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.started = False

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done

    def start(self) -> PostgresCluster:
        self.sockets.mkdir()
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.owner:
            user = pwd.getpwnam(self.owner)
            for path in (self.base, self.sockets, pwfile):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--locale",
            "C.UTF-8",
            "--no-sync",
        )
        pwfile.unlink()
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "server.log"), "-w", "start"
        )
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)


def available() -> str | None:
    if not (PG_BIN / "initdb").is_file():
        return f"no {PG_BIN}/initdb (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to own the cluster"
    return None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    missing = available()
    if missing:
        pytest.skip(missing)
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
