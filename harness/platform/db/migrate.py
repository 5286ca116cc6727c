"""Alembic migrations shipped inside the package, run by `harness platform migrate` and at serve start.

On PostgreSQL an advisory lock serialises concurrent starts of several app processes."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from .engine import WRITE_OPTION

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x4A524E53  # any constant: one lock id for this application's migrations


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it."""
    config = alembic_config()
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()
