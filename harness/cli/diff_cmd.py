"""harness diff RUN_A [RUN_B]: what changed from one run to another, or between two devices of one run.

Exit codes: 0 no regression, 1 a regression (a newly failing test, a requirement newly failing),
2 usage or an unreadable run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from ..errors import ConfigError
from ..results.diff import DEFAULT_TOLERANCE, diff_runs
from ..results.diff_text import render_text
from ..results.load import gc_paused, load_run
from .app import cli


def parse_pairs(values: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        left, sep, right = value.partition("=")
        if not sep or not left or not right:
            raise ConfigError(f"--pair {value!r}: give DEVICE_A=DEVICE_B")
        pairs.append((left, right))
    return pairs


def parse_tolerance(value: float) -> float:
    if not math.isfinite(value) or not 0 <= value <= 1000:
        raise ConfigError(f"--metric-tolerance {value!r}: give a percentage from 0 to 1000")
    return value / 100


@cli.command("diff")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="[RUN_B]", required=False)
@click.option(
    "--pair",
    "pairs",
    multiple=True,
    metavar="A=B",
    help="Compare device A of RUN_A with device B of RUN_B (repeatable). Default: the devices both "
    "runs name, else the only device of each.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole comparison as JSON.")
@click.option(
    "--metric-tolerance",
    type=float,
    default=DEFAULT_TOLERANCE * 100,
    show_default=True,
    metavar="PCT",
    help="List a metric that moved by more than PCT percent (one that crossed its bounds always is).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Lines shown per list in the text form (0: all).",
)
@click.option(
    "--reports",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
    help="Folder of run directories.",
)
def diff(
    run_a: str,
    run_b: str | None,
    pairs: tuple[str, ...],
    as_json: bool,
    metric_tolerance: float,
    limit: int,
    reports: Path,
) -> int:
    """Compare RUN_B with RUN_A (each a run id, a path, 'latest', a results.json or a bundle zip):
    tests newly failing, fixed, still failing, flaky, added and removed; requirements whose status
    changed; metrics that moved beyond their bounds or the tolerance. With RUN_B left out, compare two
    devices of RUN_A: `harness diff RUN --pair DEV1=DEV2`."""
    pairing = parse_pairs(pairs)
    tolerance = parse_tolerance(metric_tolerance)
    if run_b is None and not pairing:
        raise ConfigError("give RUN_B, or --pair DEV1=DEV2 to compare two devices of RUN_A")
    with gc_paused():
        a = load_run(run_a, reports)
        b = a if run_b is None else load_run(run_b, reports)
        result = diff_runs(a, b, pairing or None, tolerance)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(render_text(result, limit), nl=False)
    return 1 if result.regression else 0
