"""harness suites: the compatibility suites, their requirements and the tests that cover each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..checks.coverage import coverage
from ..suites import default_suites_root, discover_suites
from .app import cli


def suites_record(root: Path) -> dict[str, list[dict[str, Any]]]:
    records = []
    for suite in discover_suites(root).values():
        covered = coverage(suite.path, root.parent)
        records.append(
            {
                "id": suite.id,
                "version": suite.version,
                "title_en": suite.title_en,
                "title_zh": suite.title_zh,
                "requirements": [
                    {
                        "id": r.id,
                        "level": r.level,
                        "title_en": r.title_en,
                        "title_zh": r.title_zh,
                        "source": r.source,
                        "destructive": r.destructive or None,
                        "tests": covered.get(r.id, []),
                    }
                    for r in suite.requirements.values()
                ],
            }
        )
    return {"suites": records}


@cli.command("suites")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--root", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Suites folder (default: the suites/ beside the package).")
def suites_command(as_json: bool, root: Path | None) -> int:
    """List suites, their requirements (id, level, titles, source) and the tests covering each."""
    data = suites_record((root or default_suites_root()).resolve())
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    table = Table(header_style="bold")
    for column in ("suite", "requirement", "level", "title", "source", "tests"):
        table.add_column(column, overflow="fold")
    for suite in data["suites"]:
        for req in suite["requirements"]:
            tests = req["tests"]
            shown = escape("\n".join(t.rsplit("::", 1)[-1] for t in tests)) if tests else "[red]none[/]"
            title = escape(f"{req['title_en']}\n{req['title_zh']}")
            source = escape(req["source"]) if req["source"] else "[red]none[/]"
            level = req["level"] + (f"\n[yellow]destructive: {escape(req['destructive'])}[/]"
                                    if req["destructive"] else "")
            table.add_row(f"{suite['id']} {suite['version']}", req["id"], level, title, source, shown)
    Console(soft_wrap=False).print(table)
    return 0
