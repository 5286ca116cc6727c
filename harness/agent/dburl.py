"""The queue database's URL: `postgresql://` or the platform's SQLAlchemy spelling
`postgresql+psycopg://`, from --db or $HARNESS_DB. Its password is registered for redaction and never
shown: messages name the server as host:port/database."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from .. import secrets
from ..errors import ConfigError

DB_ENV = "HARNESS_DB"
SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def resolve_url(url: str | None) -> str:
    """--db, else $HARNESS_DB; a usage error when neither is given or the URL is not PostgreSQL's."""
    url = url or os.environ.get(DB_ENV)
    if not url:
        raise ConfigError(f"no queue database: give --db postgresql://USER:PASSWORD@HOST/DB or set ${DB_ENV}")
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ConfigError(f"--db: scheme {parts.scheme!r} is not PostgreSQL's (expected postgresql://...)")
    if parts.password:
        secrets.register(unquote(parts.password))
        secrets.register(parts.password)
    return url


def conninfo(url: str) -> str:
    """What psycopg takes: the URL with the SQLAlchemy driver suffix dropped."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme != "postgresql" else url


def describe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"
