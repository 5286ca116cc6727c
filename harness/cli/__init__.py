"""The `harness` command line. Errors end as one line on stderr with a meaningful exit code:

0 success; 1 product failures (run/verify); 2 usage or configuration error; 3 lab trouble or an
incomplete run; for `exec`: the remote exit code, 124 on timeout, 255 on lab trouble (as ssh does)."""

from __future__ import annotations

import sys

import click

from ..errors import ConfigError, HarnessError, describe_os_error
from .app import EXIT_LAB, EXIT_USAGE, cli, default_inventory, fail

__all__ = ["EXIT_LAB", "EXIT_USAGE", "cli", "default_inventory", "fail", "main"]


def main(argv: list[str] | None = None) -> None:
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
