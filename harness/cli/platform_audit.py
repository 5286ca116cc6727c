"""harness platform audit verify | export: check the hash-chained audit trail, in the database or in
an exported file; exit 0 intact, 1 tampered (each problem on a line), 2 usage, 3 database trouble.
harness platform expire: certified submissions whose certificate ran out become expired."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ..platform.services import audit
from .platform_cmd import data_option, db_option, open_platform, platform_group


@platform_group.group("audit")
def audit_group() -> None:
    """The audit trail: every state change, waiver decision, certificate and listing, hash-chained."""


def _export_entries(path: Path) -> tuple[tuple[int, str], Iterator[dict[str, Any]]]:
    try:
        fh = path.open("r", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        header = json.loads(fh.readline() or "{}")
    except ValueError:
        header = {}
    if header.get("format") != "harness-audit/1":
        fh.close()
        raise ConfigError(f"{path}: not an exported audit trail (its first line names no harness-audit/1)")

    def entries() -> Iterator[dict[str, Any]]:
        with fh:
            for n, line in enumerate(fh, 2):
                try:
                    entry = json.loads(line)
                except ValueError:
                    entry = {"seq": -n, "hash": "", "prev_hash": ""}
                yield entry if isinstance(entry, dict) else {"seq": -n}

    return (int(header.get("head_seq", 0)), str(header.get("head_hash", ""))), entries()


@audit_group.command("verify")
@data_option
@db_option
@click.option(
    "--export",
    "export_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Check this exported trail (from `audit export` or the audit page) instead of the database.",
)
def verify_cmd(data_dir: Path | None, db_url: str | None, export_file: Path | None) -> None:
    """Check every entry's hash, its link to the entry before, and the head: any edited, removed or
    reordered entry is found."""
    if export_file is not None:
        head, entries = _export_entries(export_file)
        result = audit.verify_entries(entries, head)
        where = str(export_file)
    else:
        platform = open_platform(data_dir, db_url)
        with platform.db.read() as db:
            result = audit.verify(db)
        where = "the audit trail"
        platform.close()
    if result.ok:
        click.echo(f"{where}: OK, {result.entries} entries, chain intact")
        return
    for problem in result.problems:
        click.echo(f"{where}: {problem}", err=True)
    click.echo(f"{where}: TAMPERED ({len(result.problems)} problem(s) in {result.entries} entries)", err=True)
    sys.exit(1)


@audit_group.command("export")
@data_option
@db_option
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write here (default: stdout).",
)
def export_cmd(data_dir: Path | None, db_url: str | None, output: Path | None) -> None:
    """The whole trail as JSON Lines (a header with the head, then every entry)."""
    platform = open_platform(data_dir, db_url)
    with platform.db.read() as db:
        if output is None:
            for line in audit.export_lines(db):
                sys.stdout.write(line)
        else:
            tmp = output.with_name(f".{output.name}.tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                for line in audit.export_lines(db):
                    fh.write(line)
            tmp.replace(output)
    platform.close()


@platform_group.command("expire")
@data_option
@db_option
def expire_cmd(data_dir: Path | None, db_url: str | None) -> None:
    """Move every certified submission whose certificate has run out to expired (run it daily, e.g.
    from cron; pages and checks already say "expired" from the date alone)."""
    import datetime as dt

    from ..platform.services.certificates import expire_due

    platform = open_platform(data_dir, db_url)
    moved = expire_due(platform.db, dt.datetime.now(dt.UTC))
    platform.close()
    click.echo(f"{len(moved)} submission(s) expired" + (f": {', '.join(map(str, moved))}" if moved else ""))
