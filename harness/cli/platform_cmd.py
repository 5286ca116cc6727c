"""harness platform serve | migrate | local: run the adaptation test platform (harness.platform).

`serve` runs the migrations, then uvicorn. SQLite in the data folder by default; PostgreSQL by URL
(`--db postgresql+psycopg://USER@HOST/DB`, or $HARNESS_PLATFORM_DB) for several app processes on one
database, with the data folder (the bundle files) shared between them."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from ..platform.config import DATA_ENV, DB_ENV, MiB, PlatformConfig, make_config, masked_url
from ..platform.db.migrate import current_revision, upgrade
from ..platform.notify.worker import queue_changes
from ..platform.runtime import Platform
from .app import cli, fail

EXIT_TROUBLE = 3
DEFAULT_PORT = 8780
REQUEST_HEAD_LIMIT = 128 * 1024

data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"Data folder: bundles, and the SQLite database by default (default: ${DATA_ENV} or ./.platform).",
)
db_option = click.option(
    "--db",
    "db_url",
    default=None,
    metavar="URL",
    help=f"Database URL (default: ${DB_ENV}, else SQLite in --data).",
)


def open_platform(data_dir: Path | None, db_url: str | None, **extra: Any) -> Platform:
    """The platform's storage, migrated to the current schema; database trouble ends with exit 3."""
    config = make_config(data_dir, db_url, **extra)
    try:
        platform = Platform.open(config)
        upgrade(platform.db.engine)
    except OperationalError as exc:
        fail(
            f"platform database {masked_url(config.db_url)}: {str(exc.orig).strip().splitlines()[0]}",
            EXIT_TROUBLE,
        )
    except OSError as exc:
        fail(f"platform data folder {config.data_dir}: {exc.strerror or exc}", EXIT_TROUBLE)
    queue_changes(platform)  # a state change this command makes is notified (the server sends it)
    return platform


@cli.group("platform")
def platform_group() -> None:
    """The adaptation test platform (适配测试平台): serve it, migrate its database, administer it."""


@platform_group.command("migrate")
@data_option
@db_option
def migrate(data_dir: Path | None, db_url: str | None) -> None:
    """Bring the platform's database to the current schema (serve does it too, at start)."""
    platform = open_platform(data_dir, db_url)
    revision = current_revision(platform.db.engine)
    click.echo(f"{masked_url(platform.config.db_url)}: schema at revision {revision} (current)")
    platform.close()


def _port_free(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


@platform_group.command("serve")
@data_option
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="App processes.")
@click.option(
    "--secure-cookies",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Mark cookies Secure: auto (when the request came over HTTPS), always (behind a TLS proxy), never.",
)
@click.option(
    "--proxy",
    "proxy_ips",
    default=None,
    metavar="IPS",
    help="Trust X-Forwarded-For/-Proto from these addresses (a TLS-terminating proxy), e.g. 127.0.0.1.",
)
@click.option(
    "--max-upload-mb", type=click.IntRange(1, 1 << 20), default=None, help="Largest bundle accepted."
)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
def serve(
    data_dir: Path | None,
    db_url: str | None,
    host: str,
    port: int,
    workers: int,
    secure_cookies: str,
    proxy_ips: str | None,
    max_upload_mb: int | None,
    access_log: bool,
) -> None:
    """Serve the platform's pages and API (runs the migrations first)."""
    import uvicorn

    platform = open_platform(data_dir, db_url)
    config: PlatformConfig = platform.config
    platform.close()
    problem = _port_free(host, port)
    if problem:
        fail(f"platform serve: cannot listen on {host}:{port}: {problem}", EXIT_TROUBLE)
    # The app processes read their configuration from the environment (uvicorn's factory takes none).
    os.environ[DATA_ENV] = str(config.data_dir)
    os.environ[DB_ENV] = config.db_url
    os.environ["HARNESS_PLATFORM_SECURE_COOKIES"] = secure_cookies
    if max_upload_mb:
        os.environ["HARNESS_PLATFORM_MAX_UPLOAD"] = str(max_upload_mb * MiB)
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"harness platform: serving http://{shown}:{port}/ (database {masked_url(config.db_url)}, "
        f"data {config.data_dir})",
        err=True,
    )
    sys.stderr.flush()
    uvicorn.run(
        "harness.platform.web.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=proxy_ips is not None,
        forwarded_allow_ips=proxy_ips,
        access_log=access_log,
        log_level="info",
        server_header=False,
        timeout_graceful_shutdown=10,
        # Room for the longest query string the API takes (the publisher's declarations, URL-encoded).
        h11_max_incomplete_event_size=REQUEST_HEAD_LIMIT,
    )

