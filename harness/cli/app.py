"""The `harness` command group and what every command shares: exit codes, the inventory option, and
`fail` (one redacted line on stderr). The commands import `cli` from here and register themselves;
the group imports a command's module only when that command is asked for (COMMAND_MODULES), so
`harness exec` does not pay for the platform's database stack or pytest, and the package has no
import cycle."""


from __future__ import annotations

import importlib
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


# The module(s) that register each top-level command (tests/test_cli_lazy.py keeps this list true).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "agent": ("agent_cmd",), "submit": ("agent_cmd",), "jobs": ("agent_cmd",), "cancel": ("agent_cmd",),
    "reserve": ("agent_cmd",), "quarantine": ("agent_cmd",),
    "verify-certificate": ("cert_cmd",),
    "devices": ("devices",),
    "diff": ("diff_cmd",),
    "exec": ("exec_cmd",), "push": ("exec_cmd",), "pull": ("exec_cmd",),
    "keys": ("keys_cmd",),
    "lab": ("lab_cmd",),
    "platform": ("platform_cmd", "platform_admin", "platform_audit", "platform_local", "platform_notify"),
    "publish": ("publish_cmd",),
    "report": ("report_cmd",),
    "run": ("run_cmd",), "retry": ("run_cmd",), "merge": ("run_cmd",),
    "suites": ("suites_cmd",),
    "verify": ("verify_cmd",),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (listing them, for --help, imports all)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            load_command(self, cmd_name)
        return self.commands.get(cmd_name)


def load_command(group: click.Group, name: str) -> None:
    for module in COMMAND_MODULES[name]:
        importlib.import_module(f"{__package__}.{module}")
    command = group.commands.get(name)
    if command is not None:
        accept_inventory_after(command)


def load_all_commands(group: click.Group) -> None:
    for name in COMMAND_MODULES:
        if name not in group.commands:
            load_command(group, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def accept_inventory_after(command: click.Command) -> None:
    """`-i/--inventory` after the subcommand too (`harness devices -i lab.toml`), as users type it:
    every command without an inventory option of its own gets one that sets the global value."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_inventory_after(sub)
        return
    own = [p for p in command.params if p.name == "inventory"]
    if own:
        if "-i" not in own[0].opts:
            own[0].opts.append("-i")
        return
    if any(getattr(p, "callback", None) is _take_inventory for p in command.params):
        return  # already given one
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
