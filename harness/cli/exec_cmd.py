"""harness exec / push / pull: one command or one file on one device."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ..device import Device
from ..errors import CommandTimeout, TransportError
from ..inventory import load_inventory
from ..links import LINKS
from ..preflight import check_link
from .app import cli, fail
from .device_hold import FORCE, held_device
from .params import Seconds

EXIT_TIMEOUT = 124
EXIT_TRANSPORT = 255
VIA = click.Choice(LINKS.names())
TIMEOUT = click.option("--timeout", type=Seconds(0.1), default=600.0, show_default=True)


def command_line(argv: tuple[str, ...]) -> str:
    """One argument is a shell command line, run as written; several are an argv, each quoted so it
    arrives whole (`-- sh -c 'exit 7'` runs `sh` with two arguments, as docker/kubectl exec do)."""
    if len(argv) == 1:
        return argv[0]
    return " ".join(shlex.quote(arg) for arg in argv)


@contextmanager
def _open(ctx: click.Context, name: str, via: str | None) -> Iterator[Device]:
    spec = load_inventory(Path(ctx.obj["inventory"])).get(name)
    check_link(spec, via)  # before the lock is taken: a setting that cannot work is exit 2, nothing done
    with held_device(ctx, spec.name), Device(spec, via=via) as dev:
        yield dev


@cli.command("exec", context_settings={"ignore_unknown_options": True})
@click.option("--via", type=VIA, help="Link to use (default: the device's primary).")
@TIMEOUT
@FORCE
@click.argument("device")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_(ctx: click.Context, via: str | None, timeout: float, device: str, command: tuple[str, ...]) -> int:
    """Run COMMAND on DEVICE, streaming its output; exit with its exit code.

    Write `--` before a command that has options: harness exec board -- ls -l /. One argument is a
    shell command line ('dmesg | tail'); several are an argv, each kept whole (-- sh -c 'exit 7')."""
    out, err = sys.stdout.buffer, sys.stderr.buffer

    def stream(name: str, chunk: bytes) -> None:
        target = out if name == "stdout" else err
        target.write(chunk)
        target.flush()

    with _open(ctx, device, via) as dev:
        try:
            result = dev.run(command_line(command), timeout, on_output=stream)
        except CommandTimeout as exc:
            fail(f"{device}: {exc}", EXIT_TIMEOUT)
        except TransportError as exc:
            fail(f"{device}: {type(exc).__name__}: {exc}", EXIT_TRANSPORT)
    return result.exit_code


@cli.command()
@click.option("--via", type=VIA)
@TIMEOUT
@FORCE
@click.argument("device")
@click.argument("local", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("remote")
@click.pass_context
def push(ctx: click.Context, via: str | None, timeout: float, device: str, local: Path, remote: str) -> int:
    """Copy LOCAL file to REMOTE path on DEVICE."""
    with _open(ctx, device, via) as dev:
        try:
            dev.transport.push(local, remote, timeout)
        except TransportError as exc:
            fail(f"{device}: {type(exc).__name__}: {exc}", EXIT_TRANSPORT)
    click.echo(f"{local} -> {device}:{remote}", err=True)
    return 0


@cli.command()
@click.option("--via", type=VIA)
@TIMEOUT
@FORCE
@click.argument("device")
@click.argument("remote")
@click.argument("local", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def pull(ctx: click.Context, via: str | None, timeout: float, device: str, remote: str, local: Path) -> int:
    """Copy REMOTE file on DEVICE to LOCAL path (written whole or not at all)."""
    partial = local.with_name(f".{local.name}.partial")
    with _open(ctx, device, via) as dev:
        try:
            dev.transport.pull(remote, partial, timeout)
        except TransportError as exc:
            partial.unlink(missing_ok=True)
            fail(f"{device}: {type(exc).__name__}: {exc}", EXIT_TRANSPORT)
    partial.replace(local)
    click.echo(f"{device}:{remote} -> {local}", err=True)
    return 0
