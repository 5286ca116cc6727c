"""harness devices: the inventory, whether each device answers, and who it says it is."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..device import DeviceStatus, check_device
from ..inventory import load_inventory
from ..links import LINKS
from ..preflight import check_links
from ..specs import DeviceSpec
from .app import EXIT_LAB, cli
from .params import HOUR, Seconds


def describe_links(spec: DeviceSpec) -> dict[str, str]:
    """Where each link goes, secrets left out."""
    return {kind: LINKS.get(kind).describe(link) for kind, link in spec.links.items()}


def status_record(status: DeviceStatus) -> dict[str, object]:
    spec = status.spec
    return {
        "name": spec.name,
        "kind": spec.kind,
        "profile": spec.profile,
        "vendor": spec.vendor,
        "model": spec.model,
        "soc": spec.soc,
        "tags": list(spec.tags),
        "transports": spec.transports,
        "links": describe_links(spec),
        "via": status.via,
        "reachable": status.reachable,
        "error": status.error,
        "link_states": {kind: {"reachable": link.reachable, "error": link.error}
                        for kind, link in status.links.items()},
        "identity": status.identity.to_dict() if status.identity else None,
    }


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--no-probe", is_flag=True, help="List the inventory without contacting devices.")
@click.option("--timeout", type=Seconds(0.1, HOUR), default=20.0, show_default=True,
              help="Seconds to reach each device.")
@click.argument("names", nargs=-1)
@click.pass_context
def devices(ctx: click.Context, as_json: bool, no_probe: bool, timeout: float, names: tuple[str, ...]) -> int:
    """List devices, whether each is reachable, and its identity. Exits 3 when one is unreachable."""
    inventory = load_inventory(Path(ctx.obj["inventory"]))
    specs = inventory.select(list(names))
    if not no_probe:
        check_links(specs)
    if no_probe:
        statuses = [DeviceStatus(spec=s, via=s.primary_transport) for s in specs]
    else:
        with ThreadPoolExecutor(max_workers=min(32, max(1, len(specs)))) as pool:
            statuses = list(pool.map(lambda s: check_device(s, timeout, every_link=True), specs))
    if as_json:
        click.echo(json.dumps([status_record(s) for s in statuses], indent=2, ensure_ascii=False))
    else:
        print_table(statuses, probed=not no_probe)
    # A link that is down is lab trouble, even when the device answers on another one.
    if not no_probe and not all(s.reachable and all(k.reachable for k in s.links.values()) for s in statuses):
        return EXIT_LAB
    return 0


def print_table(statuses: list[DeviceStatus], probed: bool) -> None:
    table = Table(show_lines=False, header_style="bold")
    for column in ("device", "kind", "profile", "links", "reachable", "identity / error"):
        table.add_column(column, overflow="fold")
    for s in statuses:
        links = ",".join(s.spec.transports)
        if not probed:
            reach, detail = "-", ", ".join(f"{k}: {v}" for k, v in describe_links(s.spec).items())
        elif s.reachable:
            reach, detail = f"[green]yes[/] ({s.via})", _escape(s.identity.summary() if s.identity else "")
        else:
            reach, detail = f"[red]no[/] ({s.via})", _escape(s.error or "")
        if probed and s.links:
            links = " ".join(f"{k} [green]up[/]" if k_state.reachable else f"{k} [red]down[/]"
                             for k, k_state in s.links.items())
            # Why each other link is down (the primary's reason is already there).
            detail += "".join(f"; {k}: {_escape(k_state.error or '')}" for k, k_state in s.links.items()
                              if not k_state.reachable and k != s.via)
        table.add_row(s.spec.name, s.spec.kind, s.spec.profile, links, reach, detail)
    import sys

    # Piped output (CI logs) gets a wide table rather than 80 folded columns.
    Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200).print(table)


def _escape(text: str) -> str:
    # Device output is untrusted: rich markup in it must stay text.
    from rich.markup import escape

    return escape(text)
