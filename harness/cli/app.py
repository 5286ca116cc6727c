"""The `harness` command group and what every command shares: exit codes, the inventory option, and
`fail` (one redacted line on stderr). The commands import it from here and `main` (in __init__)
imports the commands, so the package has no import cycle."""


from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..secrets import redact

EXIT_USAGE = 2
EXIT_LAB = 3


def default_inventory() -> Path:
    return Path(os.environ.get("HARNESS_INVENTORY", "devices.toml"))


def fail(message: str, code: int) -> None:
    click.echo(f"harness: {redact(message)}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--inventory",
    "-i",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Inventory file (default: $HARNESS_INVENTORY or ./devices.toml).",
)
@click.version_option(package_name="harness", prog_name="harness")
@click.pass_context
def cli(ctx: click.Context, inventory: Path | None) -> None:
    """Run compatibility suites on handsets and chip-module boards over ADB, SSH and serial."""
    ctx.obj = {"inventory": inventory or default_inventory(), "inventory_explicit": inventory is not None}


def _take_inventory(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(dict).update(inventory=value, inventory_explicit=True)


def accept_inventory_after(group: click.Group) -> None:
    """`-i/--inventory` after the subcommand too (`harness devices -i lab.toml`), as users type it:
    every command without an inventory option of its own gets one that sets the global value."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            accept_inventory_after(command)
            continue
        own = [p for p in command.params if p.name == "inventory"]
        if own:
            if "-i" not in own[0].opts:
                own[0].opts.append("-i")
            continue
        command.params.append(
            click.Option(
                ["-i", "--inventory"],
                type=click.Path(path_type=Path, dir_okay=False),
                default=None,
                expose_value=False,
                is_eager=True,
                callback=_take_inventory,
                help="Inventory file (as the global -i/--inventory).",
            )
        )
