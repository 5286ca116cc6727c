"""harness keys init / show: the lab's signing key (`harness verify` checks bundles: verify_cmd.py)."""

from __future__ import annotations

from pathlib import Path

import click

from ..report.signing import PUBLIC_NAME, default_key_dir, init_key, load_key
from .app import cli


@cli.group()
def keys() -> None:
    """The lab's Ed25519 signing key for report bundles."""


@keys.command("init")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to keep the key (default: $HARNESS_KEY_DIR or ~/.config/harness).")
@click.option("--force", is_flag=True, help="Replace an existing key.")
def keys_init(directory: Path | None, force: bool) -> None:
    """Make the lab's signing key (private key mode 0600) and print its public key."""
    key = init_key(directory or default_key_dir(), force=force)
    click.echo(f"signing key: {key.path}")
    click.echo(f"public key:  {key.path.parent / PUBLIC_NAME}  ({key.id})")


@keys.command("show")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None)
def keys_show(directory: Path | None) -> None:
    """Print the public key and its id."""
    key = load_key(directory)
    click.echo((key.path.parent / PUBLIC_NAME).read_text().strip())
    click.echo(key.id)
