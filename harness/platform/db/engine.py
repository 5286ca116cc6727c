"""The database: SQLite (the embedded default) or PostgreSQL (several app processes), with one way
to read and one way to write.

SQLite: the driver's own transaction handling is switched off and we say BEGIN ourselves, so a
write transaction starts with BEGIN IMMEDIATE: it takes the write lock first (waiting up to the busy
timeout) instead of starting as a reader and failing with "database is locked" when it first writes
after another writer committed. Reads start with a plain BEGIN and never wait for a writer (WAL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ...errors import ConfigError

SQLITE_BUSY_MS = 30_000
WRITE_OPTION = "harness_write"  # execution option: this connection writes (SQLite: BEGIN IMMEDIATE)
_WRITE = WRITE_OPTION


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    # WAL: readers go on while one writer commits. Foreign keys are off in SQLite unless asked.
    # synchronous=FULL: a commit that returned is on disk, as PostgreSQL promises.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(f"--db {url.split(':', 1)[0]}:...: not a database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000}
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername != "postgresql+psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ConfigError(
        f"--db {parsed.drivername}:...: use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
    )


class Database:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (rolled back at the end)."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back when it raises."""
        with self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
