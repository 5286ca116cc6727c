"""harness verify BUNDLE: check a report bundle offline (a run folder or its zip)."""

from __future__ import annotations

from pathlib import Path

import click

from ..report.bundle import verify_bundle
from .app import cli

EXIT_TAMPERED = 1


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
