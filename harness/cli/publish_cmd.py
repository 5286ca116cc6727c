"""harness publish RUN|ZIP --to URL: send a signed bundle to the adaptation test platform.

Exit codes: 0 accepted (or already there), 1 refused (the server's reason is printed), 2 usage,
3 network or server trouble."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..errors import ConfigError
from ..platform.client import (
    EXIT_ACCEPTED,
    TOKEN_ENV,
    VENDOR_ENV,
    PublishResult,
    base_url,
    declared_devices,
    publish_bundle,
    token_from_env,
)
from ..run.rundir import resolve_run
from .app import cli


def bundle_of(target: str, reports: Path) -> Path:
    path = Path(target)
    if path.is_file():
        return path
    run = resolve_run(target, reports)
    bundle = run.path.parent / f"{run.path.name}.zip"
    if not bundle.is_file():
        raise ConfigError(
            f"run {run.run_id}: no signed bundle {bundle} (make it with 'harness report {target}')"
        )
    return bundle


def send(
    url: str, bundle: Path, token_env: str | None, vendor: str | None, inventory: Path | None,
    answers: int | None = None,
) -> PublishResult:
    token = token_from_env(token_env)
    return publish_bundle(
        url,
        token,
        bundle,
        vendor=vendor or os.environ.get(VENDOR_ENV) or None,
        declared=declared_devices(inventory, bundle),
        answers=answers,
    )


@cli.command("publish")
@click.argument("target", metavar="RUN|ZIP")
@click.option("--to", "url", required=True, metavar="URL", help="The platform, e.g. https://platform.example")
@click.option(
    "--token-env",
    default=TOKEN_ENV,
    show_default=True,
    metavar="VAR",
    help="Environment variable holding the API token (never give the token itself on the command line).",
)
@click.option("--vendor", default=None, metavar="SLUG", help=f"Vendor organisation (default: ${VENDOR_ENV}).")
@click.option(
    "--reports",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
    help="Folder of run directories (for a RUN id).",
)
@click.option("--answers", type=click.IntRange(1, 2**31 - 1), default=None, metavar="ID",
              help="This run answers submission ID (a re-test request or a rejection).")
@click.pass_context
def publish(
    ctx: click.Context, target: str, url: str, token_env: str, vendor: str | None, reports: Path,
    answers: int | None,
) -> int:
    """Publish RUN (id, path or 'latest') or a bundle ZIP to the platform at URL. The last line
    printed is the submission's page."""
    bundle = bundle_of(target, reports)
    inventory = Path(ctx.obj["inventory"]) if ctx.obj.get("inventory_explicit") else None
    result = send(url, bundle, token_env, vendor, inventory, answers)
    if result.code != EXIT_ACCEPTED:
        click.echo(f"harness publish: {bundle}: {result.message}", err=True)
        return result.code
    click.echo(f"{bundle}: {result.message}")
    click.echo(result.url)
    return EXIT_ACCEPTED


def check_publish_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """`--publish URL` is checked before the run starts: a good URL and a token in the environment,
    so an unattended run does not find out after an hour that it cannot publish."""
    if value:
        try:
            base_url(value)
            token_from_env(None)
        except ConfigError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


def publish_after_run(code: int, run_dir: Path, url: str | None) -> int:
    """`harness run --publish URL`: publish the run's bundle once the run is over. The run's gate code
    stands; when the gate passed, a publish that did not go through decides (1 refused, 3 trouble).
    Messages go to stderr, so the run's last line on stdout stays the bundle's path."""
    if not url:
        return code
    bundle = run_dir.parent / f"{run_dir.name}.zip"
    if not bundle.is_file():
        click.echo(f"harness run --publish: no bundle {bundle} to publish", err=True)
        return code or 3
    try:
        result = send(url, bundle, None, None, None)
    except ConfigError as exc:
        click.echo(f"harness run --publish: {exc}", err=True)
        return code or 2
    if result.code == EXIT_ACCEPTED:
        click.echo(f"published {bundle.name}: {result.message}: {result.url}", err=True)
    else:
        click.echo(f"harness run --publish: {bundle}: {result.message}", err=True)
    return code or result.code
