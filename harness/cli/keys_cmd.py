"""harness keys init / show, and harness verify."""

from __future__ import annotations

from pathlib import Path

import click

from ..report.bundle import verify_bundle
from ..report.signing import PUBLIC_NAME, default_key_dir, init_key, load_key
from .app import cli

EXIT_TAMPERED = 1


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


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--pubkey", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The lab's public key to trust. Without it only integrity is checked, "
                   "against the key inside the bundle.")
def verify(bundle: Path, pubkey: Path | None) -> int:
    """Check a report bundle (a run folder or its zip): signature, every file's SHA-256, nothing missing
    or extra. Exits 0 when intact, 1 naming each changed, missing or extra file."""
    result = verify_bundle(bundle, pubkey.read_text() if pubkey else None)
    for problem in result.problems:
        click.echo(f"harness verify: {bundle}: {problem}", err=True)
    if not result.ok:
        return EXIT_TAMPERED
    click.echo(f"{bundle}: OK, {result.checked} files, signed by {result.key_id} ({result.key_source})")
    return 0
