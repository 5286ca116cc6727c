"""harness platform admin notify ...: where state changes are sent (webhooks, e-mail), the mail relay,
the retry policy, and the delivery log.

A webhook's HMAC secret is shown once, alone on stdout, when it is made (or taken from $VAR); the
platform keeps it, the full URL and the SMTP password only sealed with its server key."""

from __future__ import annotations

import os

import click

from ..errors import ConfigError
from ..platform.auth.policy import Principal, Role
from ..platform.notify.secretbox import SecretBox
from ..platform.services import accounts, notifications
from ..platform.services.catalogue import PageRequest
from .platform_admin import _platform, _when, admin


def _env(name: str | None, option: str) -> str | None:
    if not name:
        return None
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"{option} {name}: the variable is not set")
    return value


@admin.group("notify")
def notify() -> None:
    """Notifications of state changes: webhooks, e-mail, the mail relay, retries, the delivery log."""


@notify.group("webhook")
def webhook() -> None:
    """Webhook endpoints (signed with HMAC-SHA256)."""


@webhook.command("add")
@click.argument("url")
@click.option("--org", "org_slug", required=True, help="The organisation the endpoint belongs to (slug).")
@click.option(
    "--secret-env", default=None, metavar="VAR", help="Take the HMAC secret from $VAR (else one is made)."
)
@click.pass_context
def webhook_add(ctx: click.Context, url: str, org_slug: str, secret_env: str | None) -> None:
    """Send ORG's state changes to URL."""
    secret = _env(secret_env, "--secret-env")
    platform = _platform(ctx)
    box = SecretBox.of(platform.config.data_dir)
    with platform.db.write() as db:
        made = notifications.add_webhook(db, box, accounts.org_by_slug(db, org_slug), url, secret)
        shown, endpoint_id = made.endpoint.target_shown, made.endpoint.id
    click.echo(f"webhook {endpoint_id} for {org_slug}: {shown}", err=True)
    if made.generated:
        click.echo("HMAC secret (shown once; give it to the receiver):", err=True)
        click.echo(made.secret)


@notify.group("email")
def email() -> None:
    """E-mail recipients."""


@email.command("add")
@click.argument("address")
@click.option("--org", "org_slug", required=True, help="The organisation the recipient belongs to (slug).")
@click.pass_context
def email_add(ctx: click.Context, address: str, org_slug: str) -> None:
    """Mail ORG's state changes to ADDRESS (through the relay of 'notify smtp')."""
    with _platform(ctx).db.write() as db:
        made = notifications.add_email(db, accounts.org_by_slug(db, org_slug), address)
        click.echo(f"e-mail {made.id} for {org_slug}: {made.target_shown}")


@notify.command("list")
@click.pass_context
def notify_list(ctx: click.Context) -> None:
    """Every endpoint: id, organisation, kind, target, state."""
    with _platform(ctx).db.read() as db:
        for e in notifications.endpoints(db):
            state = "active" if e.active else "removed"
            click.echo(f"{e.id}\t{e.org.slug}\t{e.kind}\t{e.target_shown}\t{state}")


@notify.command("remove")
@click.argument("endpoint_id", type=int)
@click.pass_context
def notify_remove(ctx: click.Context, endpoint_id: int) -> None:
    """Stop sending to an endpoint (its deliveries stay in the log)."""
    with _platform(ctx).db.write() as db:
        removed = notifications.remove_endpoint(db, endpoint_id)
        click.echo(f"endpoint {removed.id} ({removed.target_shown}) removed")


@notify.command("smtp")
@click.option("--host", required=True, help="The mail relay.")
@click.option("--port", type=click.IntRange(1, 65535), default=587, show_default=True)
@click.option("--security", type=click.Choice(notifications.SECURITY), default="starttls", show_default=True)
@click.option("--user", default="", help="Log in as this user (with --password-env).")
@click.option("--password-env", default=None, metavar="VAR", help="The relay password, from $VAR.")
@click.option("--from", "sender", required=True, help="The From address of the mails.")
@click.pass_context
def notify_smtp(
    ctx: click.Context, host: str, port: int, security: str, user: str, password_env: str | None, sender: str
) -> None:
    """Set the mail relay the platform sends through."""
    password = _env(password_env, "--password-env")
    if user and not password:
        raise ConfigError("--user needs --password-env")
    platform = _platform(ctx)
    box = SecretBox.of(platform.config.data_dir)
    with platform.db.write() as db:
        notifications.set_smtp(db, box, host, port, security, user, password, sender)
    click.echo(f"mail relay {host}:{port} ({security}{', as ' + user if user else ''}), from {sender}")


@notify.command("policy")
@click.option(
    "--attempts", type=int, default=8, show_default=True, help="Tries before a delivery is given up."
)
@click.option(
    "--backoff", type=float, default=30.0, show_default=True, help="Seconds before the first retry."
)
@click.option(
    "--backoff-cap", type=float, default=3600.0, show_default=True, help="Longest wait between tries."
)
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds one try may take.")
@click.pass_context
def notify_policy(
    ctx: click.Context, attempts: int, backoff: float, backoff_cap: float, timeout: float
) -> None:
    """Set how failed deliveries are retried (the wait doubles from --backoff up to --backoff-cap)."""
    with _platform(ctx).db.write() as db:
        notifications.set_policy(db, attempts, backoff, backoff_cap, timeout)
    click.echo(
        f"retries: {attempts} tries, {backoff:g} s doubling up to {backoff_cap:g} s, {timeout:g} s each"
    )


@notify.command("log")
@click.option("--submission", "submission_id", type=int, default=None, help="Only this submission's.")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.pass_context
def notify_log(ctx: click.Context, submission_id: int | None, limit: int) -> None:
    """The newest deliveries: id, submission, change, target, status, tries, last error."""
    admin_view = Principal(role=Role.ADMIN, org_id=0)
    with _platform(ctx).db.read() as db:
        page = notifications.delivery_log(db, admin_view, PageRequest(1, limit), submission_id)
        for d in page.items:
            click.echo(
                f"{d.id}\t{d.submission_id}\t{d.before}->{d.after}\t{d.endpoint.target_shown}\t{d.status}"
                f"\t{d.attempts}\t{_when(d.created_at)}\t{d.last_error}"
            )
