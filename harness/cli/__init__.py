"""The `harness` command line. Errors end as one line on stderr with a meaningful exit code:

0 success; 1 product failures (run/verify); 2 usage or configuration error; 3 lab trouble or an
incomplete run; for `exec`: the remote exit code, 124 on timeout, 255 on lab trouble (as ssh does)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..errors import ConfigError, HarnessError, describe_os_error
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


def main(argv: list[str] | None = None) -> None:
    from . import (  # noqa: F401  (registers the commands)
        agent_cmd,
        cert_cmd,
        devices,
        diff_cmd,
        exec_cmd,
        keys_cmd,
        lab_cmd,
        platform_cmd,
        publish_cmd,
        report_cmd,
        run_cmd,
        suites_cmd,  # noqa: F401  (registers `harness suites`)
    )

    accept_inventory_after(cli)

    try:
        rv = cli.main(args=argv, prog_name="harness", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # `harness` alone: the help, exit 2
        if exc.ctx:
            click.echo(exc.ctx.get_help(), err=True)
        sys.exit(EXIT_USAGE)
    except click.UsageError as exc:
        hint = f" (try '{exc.ctx.command_path} --help')" if exc.ctx else ""
        fail(f"error: {exc.format_message()}{hint}", EXIT_USAGE)
    except click.Abort:
        fail("interrupted", 130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        fail(f"error: {exc}", EXIT_USAGE)
    except HarnessError as exc:
        fail(f"lab trouble: {exc}", EXIT_LAB)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:  # the lab host's own trouble (a full disk, a folder gone): never exit 1
        fail(f"lab trouble: {describe_os_error(exc)}", EXIT_LAB)
    sys.exit(rv if isinstance(rv, int) else 0)
