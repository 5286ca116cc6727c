"""harness lab up | down | status: the simulated lab of an inventory's [lab] section."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from .app import EXIT_LAB, cli
from .params import HOUR, Seconds


@cli.group()
def lab() -> None:
    """Start, stop and inspect the simulated lab (the inventory's [lab] devices)."""


def _inventory(ctx: click.Context, inventory: Path | None) -> Path:
    return inventory or Path(ctx.obj["inventory"])


@lab.command()
@click.option("--inventory", "inventory", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Inventory with a [lab] section (default: the global --inventory).")
@click.option("--only", multiple=True, metavar="NAME", help="Start only this device (repeatable).")
@click.option("--qemu", is_flag=True, help="Also boot the QEMU tier (an emulated arm64 board).")
@click.option("--timeout", type=Seconds(1.0, HOUR), default=30.0, show_default=True,
              help="Seconds for every device to answer.")
@click.pass_context
def up(ctx: click.Context, inventory: Path | None, only: tuple[str, ...], qemu: bool, timeout: float) -> int:
    """Start every simulated device in the background; return once each answers."""
    from ..lab.lab import Lab, start_qemu_tier

    started = time.monotonic()
    the_lab = Lab(_inventory(ctx, inventory), only=only)
    statuses = the_lab.up(timeout=timeout)
    if qemu:
        statuses.append(start_qemu_tier(the_lab))
    took = time.monotonic() - started
    for s in statuses:
        if s["state"] != "down":
            click.echo(f"{s['name']:<24} {s['state']:<8} {s['persona']:<22} {_ports(s)}")
    click.echo(f"lab up: {sum(s['state'] == 'up' for s in statuses)} devices answering in {took:.2f}s "
               f"(state in {the_lab.config.state_dir})")
    return 0


@lab.command()
@click.option("--inventory", "inventory", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Inventory with a [lab] section (default: the global --inventory).")
@click.pass_context
def down(ctx: click.Context, inventory: Path | None) -> int:
    """Stop every process the lab started (idempotent)."""
    from ..lab.lab import Lab

    stopped = Lab(_inventory(ctx, inventory)).down()
    click.echo(f"lab down: {len(stopped)} devices stopped" if stopped else "lab down: nothing was running")
    return 0


@lab.command()
@click.option("--inventory", "inventory", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Inventory with a [lab] section (default: the global --inventory).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def status(ctx: click.Context, inventory: Path | None, as_json: bool) -> int:
    """Each simulated device: up/down, pid, ports, persona. Exits 3 when one is not up."""
    from ..lab.lab import Lab

    statuses = Lab(_inventory(ctx, inventory)).status()
    if as_json:
        click.echo(json.dumps(statuses, indent=2))
    else:
        for s in statuses:
            pid = s["pid"] if s["pid"] is not None else "-"
            click.echo(f"{s['name']:<24} {s['state']:<12} pid {pid!s:<8} {s['persona']:<22} {_ports(s)}")
    return 0 if all(s["state"] == "up" for s in statuses) else EXIT_LAB


def _ports(status: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in status.get("ports", {}).items())
