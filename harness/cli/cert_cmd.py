"""harness verify-certificate CERT: check a platform certificate offline (its signature by the
platform key, its dates, a signed revocation list, the bundle it certifies).

Exit 0: valid. 1: not valid (expired, revoked, a bad signature, not the certified bundle). 2: usage
(a file that is not a certificate or a key, a missing key)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..certificate import check_certificate
from ..envelope import EnvelopeError
from ..errors import ConfigError
from ..report.signing import public_from_text
from .app import cli

KEY_ENV = "HARNESS_PLATFORM_KEY"


def load_platform_key(path: Path | None, option: str = "--platform-key") -> Ed25519PublicKey:
    """The platform's public key from `path` or $HARNESS_PLATFORM_KEY (a file); ConfigError otherwise."""
    chosen = path or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None)
    if chosen is None:
        raise ConfigError(
            f"{option} KEY is needed (the platform's public key, from /public/platform-key), or ${KEY_ENV}"
        )
    try:
        text = chosen.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{chosen}: cannot read the platform key: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    try:
        return public_from_text(text)
    except ConfigError as exc:
        raise ConfigError(f"{chosen}: {exc}") from None


@cli.command("verify-certificate")
@click.argument("cert", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--platform-key",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"The platform's public key (default: ${KEY_ENV}).",
)
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also check that this zip is the bundle the certificate certifies.",
)
@click.option(
    "--revocations",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A signed revocation list (/public/revocations.json): revoked certificates fail.",
)
def verify_certificate(
    cert: Path, platform_key: Path | None, bundle: Path | None, revocations: Path | None
) -> None:
    """Check CERT (a certificate .json from the platform) offline."""
    key = load_platform_key(platform_key)
    try:
        result = check_certificate(
            cert, key, at=dt.datetime.now(dt.UTC), bundle=bundle, revocations=revocations
        )
    except EnvelopeError as exc:
        raise ConfigError(f"{getattr(exc, 'filename', None) or cert}: {exc}") from None
    body = result.body
    product = body.get("product") or {}
    os_ = body.get("os") or {}
    click.echo(
        f"certificate {result.certificate_id or '?'}: {product.get('vendor_name', '')} "
        f"{product.get('model', '')}, {os_.get('name', '')} {os_.get('version', '')}".rstrip(", ")
    )
    if body.get("issued"):
        click.echo(
            f"  issued {body.get('issued')} by {body.get('officer', '?')}, expires {body.get('expires')}"
        )
    waived = (body.get("requirements") or {}).get("waived") or []
    if waived:
        click.echo(
            "  waived: "
            + ", ".join(
                f"{w.get('requirement')} ({w.get('waiver')} until {w.get('expires')})"
                for w in waived
                if isinstance(w, dict)
            )
        )
    for note in result.notes:
        click.echo(f"  {note}")
    if bundle is not None and not result.problems:
        click.echo(f"  bundle {bundle.name}: the certified one (SHA-256 and lab signature)")
    for problem in result.problems:
        click.echo(f"  problem: {problem}", err=True)
    if result.ok:
        click.echo("VALID")
        return
    click.echo(
        "INVALID" if result.problems and result.status in ("valid", "invalid") else result.status.upper()
    )
    sys.exit(1)
