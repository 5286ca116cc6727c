"""harness platform admin ...: organisations, users, API tokens and lab signing keys.

Secrets are shown once: a generated password or a new token is printed alone on stdout (so a script
can capture it) and never stored in clear; a password can instead come from an environment variable."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import click
from sqlalchemy import select

from ..errors import ConfigError
from ..platform.auth.passwords import generate_password
from ..platform.db.models import ApiToken, Organisation, SigningKey, User
from ..platform.db.types import utcnow
from ..platform.runtime import Platform
from ..platform.services import accounts
from .platform_cmd import data_option, db_option, open_platform, platform_group

_LIFETIME = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}


def parse_lifetime(text: str) -> dt.timedelta:
    match = _LIFETIME.match(text.strip())
    if not match:
        raise ConfigError(f"--expires-in {text!r}: give a number with s, m, h or d (e.g. 90d, 12h)")
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def _password(env: str | None) -> tuple[str, bool]:
    if env:
        value = os.environ.get(env, "")
        if not value:
            raise ConfigError(f"--password-env {env}: the variable is not set")
        return value, False
    return generate_password(), True


def _when(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


@platform_group.group("admin")
@data_option
@db_option
@click.pass_context
def admin(ctx: click.Context, data_dir: Path | None, db_url: str | None) -> None:
    """Administer the platform: organisations, users, tokens, signing keys."""
    ctx.obj = {**(ctx.obj or {}), "platform_args": (data_dir, db_url)}


def _platform(ctx: click.Context) -> Platform:
    data_dir, db_url = ctx.obj["platform_args"]
    return open_platform(data_dir, db_url)


# organisations


@admin.group("org")
def org() -> None:
    """Organisations: vendors, labs and the platform itself."""


@org.command("add")
@click.argument("slug")
@click.option("--kind", type=click.Choice(["vendor", "lab", "platform"]), required=True)
@click.option("--name", default="", help="Display name (default: the slug).")
@click.pass_context
def org_add(ctx: click.Context, slug: str, kind: str, name: str) -> None:
    with _platform(ctx).db.write() as db:
        made = accounts.create_org(db, slug, name, kind)
        click.echo(f"organisation {made.slug} ({made.kind}): {made.name}")


@org.command("list")
@click.pass_context
def org_list(ctx: click.Context) -> None:
    with _platform(ctx).db.read() as db:
        for o in db.scalars(select(Organisation).order_by(Organisation.slug)):
            click.echo(f"{o.slug}\t{o.kind}\t{o.name}")


# users


@admin.group("user")
def user() -> None:
    """Users who log in to the pages."""


@user.command("add")
@click.argument("username")
@click.option("--org", "org_slug", required=True, help="The user's organisation (slug).")
@click.option("--role", type=click.Choice(["admin", "officer", "lab", "vendor"]), required=True)
@click.option("--name", default="", help="Display name.")
@click.option(
    "--password-env", default=None, metavar="VAR", help="Take the password from $VAR (else one is made)."
)
@click.pass_context
def user_add(
    ctx: click.Context, username: str, org_slug: str, role: str, name: str, password_env: str | None
) -> None:
    password, generated = _password(password_env)
    with _platform(ctx).db.write() as db:
        made = accounts.create_user(db, username, accounts.org_by_slug(db, org_slug), role, password, name)
    click.echo(f"user {made.username} ({role}, {org_slug}) created", err=True)
    if generated:
        click.echo("password (shown once, keep it safe):", err=True)
        click.echo(password)


@user.command("passwd")
@click.argument("username")
@click.option(
    "--password-env", default=None, metavar="VAR", help="Take the password from $VAR (else one is made)."
)
@click.pass_context
def user_passwd(ctx: click.Context, username: str, password_env: str | None) -> None:
    """Set a new password (every open session of the user ends)."""
    password, generated = _password(password_env)
    with _platform(ctx).db.write() as db:
        accounts.set_password(db, accounts.user_by_name(db, username), password)
    click.echo(f"user {username}: password changed, sessions ended", err=True)
    if generated:
        click.echo(password)


@user.command("disable")
@click.argument("username")
@click.pass_context
def user_disable(ctx: click.Context, username: str) -> None:
    """Stop a user logging in (their sessions end, their tokens stop working)."""
    with _platform(ctx).db.write() as db:
        accounts.set_active(db, accounts.user_by_name(db, username), False)
    click.echo(f"user {username}: disabled")


@user.command("enable")
@click.argument("username")
@click.pass_context
def user_enable(ctx: click.Context, username: str) -> None:
    with _platform(ctx).db.write() as db:
        accounts.set_active(db, accounts.user_by_name(db, username), True)
    click.echo(f"user {username}: enabled")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    with _platform(ctx).db.read() as db:
        for u in db.scalars(select(User).order_by(User.username)):
            state = "active" if u.active else "disabled"
            click.echo(f"{u.username}\t{u.role}\t{u.org.slug}\t{state}\tlast login {_when(u.last_login_at)}")


# tokens


@admin.group("token")
def token() -> None:
    """API tokens for CI and scripts (sent as 'Authorization: Bearer ...')."""


@token.command("add")
@click.option("--org", "org_slug", required=True, help="The organisation the token acts for.")
@click.option("--role", type=click.Choice(["admin", "officer", "lab", "vendor"]), required=True)
@click.option("--name", required=True, help="What the token is for ('vendor CI', 'lab-a nightly').")
@click.option("--expires-in", default="90d", show_default=True, help="Lifetime: 90d, 12h, 30m, 3600s.")
@click.option("--user", "username", default=None, help="The user it belongs to (may then revoke it).")
@click.pass_context
def token_add(
    ctx: click.Context, org_slug: str, role: str, name: str, expires_in: str, username: str | None
) -> None:
    """Make a token; it is printed once, alone on stdout, and only its digest is kept."""
    lifetime = parse_lifetime(expires_in)
    with _platform(ctx).db.write() as db:
        owner = accounts.user_by_name(db, username) if username else None
        made = accounts.issue_token(db, accounts.org_by_slug(db, org_slug), role, name, lifetime, user=owner)
        expires = made.row.expires_at
        prefix = made.row.prefix
        token_id = made.row.id
    click.echo(
        f"token {token_id} ({prefix}…) for {org_slug} as {role}, expires {_when(expires)} UTC", err=True
    )
    click.echo(made.secret)


@token.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    now = utcnow()
    with _platform(ctx).db.read() as db:
        for t in db.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = "revoked" if t.revoked_at else ("expired" if t.expires_at <= now else "active")
            click.echo(
                f"{t.id}\t{t.prefix}…\t{t.org.slug}\t{t.role}\t{state}\texpires {_when(t.expires_at)}\t"
                f"last used {_when(t.last_used_at)}\t{t.name}"
            )


@token.command("revoke")
@click.argument("ref", metavar="ID|PREFIX")
@click.pass_context
def token_revoke(ctx: click.Context, ref: str) -> None:
    with _platform(ctx).db.write() as db:
        row = accounts.token_by_ref(db, ref)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        click.echo(f"token {row.id} ({row.prefix}…): revoked")


# signing keys


@admin.group("key")
def key() -> None:
    """Lab signing keys: a bundle is accepted only when signed by a key of the publishing organisation."""


@key.command("add")
@click.argument("public_key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "org_slug", required=True, help="The lab (or vendor) whose key this is.")
@click.option("--label", default="", help="A note: which lab host, since when.")
@click.pass_context
def key_add(ctx: click.Context, public_key: Path, org_slug: str, label: str) -> None:
    """Register PUBLIC_KEY (a lab-signing.pub from 'harness keys init') to an organisation."""
    with _platform(ctx).db.write() as db:
        row = accounts.register_key(db, accounts.org_by_slug(db, org_slug), public_key.read_text(), label)
        click.echo(f"key {row.key_id} registered to {org_slug}")


@key.command("list")
@click.pass_context
def key_list(ctx: click.Context) -> None:
    with _platform(ctx).db.read() as db:
        for k in db.scalars(select(SigningKey).order_by(SigningKey.id)):
            state = f"revoked {_when(k.revoked_at)}: {k.revoke_reason}" if k.revoked_at else "active"
            click.echo(f"{k.key_id}\t{k.org.slug}\t{state}\t{k.label}")


@key.command("revoke")
@click.argument("key_id")
@click.option("--reason", required=True, help="Why (compromised, retired host, ...).")
@click.pass_context
def key_revoke(ctx: click.Context, key_id: str, reason: str) -> None:
    """Revoke a key: bundles it signs are refused from now on (published ones stay, marked by the key)."""
    with _platform(ctx).db.write() as db:
        row = accounts.revoke_key(db, key_id, reason)
        click.echo(f"key {row.key_id}: revoked ({row.revoke_reason})")
