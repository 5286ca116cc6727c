"""One PostgreSQL connection that knows when the server is gone: every use either works or raises
DbUnavailable (the connection is then dropped, and the next use connects again). Autocommit; a step
that must be atomic opens its own transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

from ..errors import HarnessError
from .dburl import conninfo, describe

T = TypeVar("T")
Conn = psycopg.Connection[dict[str, Any]]
CONNECT_TIMEOUT = 5


class DbUnavailable(HarnessError):
    """The queue database cannot be reached (lab trouble: exit 3)."""


class Db:
    def __init__(self, url: str, *, connect_timeout: int = CONNECT_TIMEOUT) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: Conn | None = None

    @property
    def where(self) -> str:
        return describe(self.url)

    def connection(self) -> Conn:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(
                    conninfo(self.url),
                    autocommit=True,
                    row_factory=dict_row,
                    connect_timeout=self.connect_timeout,
                    application_name="harness",
                )
            except psycopg.OperationalError as exc:
                raise DbUnavailable(f"queue database {self.where}: {_first_line(exc)}") from None
        return self._conn

    def run(self, step: Callable[[Conn], T]) -> T:
        """Run `step` on the connection; a lost server becomes DbUnavailable and a fresh connection."""
        conn = self.connection()
        try:
            return step(conn)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self.close()
            raise DbUnavailable(f"queue database {self.where}: {_first_line(exc)}") from None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
