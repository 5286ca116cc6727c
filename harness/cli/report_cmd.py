"""harness report RUN: rebuild results.json from the journals and re-render, re-sign and re-zip a run."""

from __future__ import annotations

from pathlib import Path

import click

from ..report.i18n import LANGS
from ..report.publish import publish
from ..run.rundir import resolve_run
from .app import cli


@cli.command("report")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--lang",
    type=click.Choice(LANGS),
    default=None,
    help="The report's default language (the page switches between both; "
    "default: $HARNESS_REPORT_LANG or zh).",
)
@click.option(
    "--reports",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
    help="Folder of run directories.",
)
def report(run_ref: str, lang: str | None, reports: Path) -> int:
    """Rebuild RUN's reports (id, path or 'latest'): results.json, junit.xml, report.html, the signed
    manifest, reports/<run-id>.zip and reports/index.html. Prints the signed bundle's path last."""
    run = resolve_run(run_ref, reports)
    published = publish(run.path, lang=lang)
    results = published.results
    click.echo(f"results: {results}")
    click.echo(f"report:  {published.report}")
    click.echo(f"index:   {published.index}")
    click.echo(f"signed by {published.key_id}")
    click.echo(str(published.bundle))
    return 0
