"""Notification settings and the delivery log: what `harness platform admin notify` changes and what
admins and officers read on the deliveries page and API.

Webhook secrets are made here (or given), shown once to the admin who adds the endpoint, and stored
sealed with the server key together with the full URL (a webhook URL is often a credential itself);
only the URL without user, password or query is stored readable."""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ...errors import ConfigError
from ..auth.policy import Action, Principal
from ..db.models import Organisation
from ..db.notify_models import EndpointKind, NotifyDelivery, NotifyEndpoint, NotifySettings
from ..notify.secretbox import SecretBox
from .catalogue import Page, PageRequest, check

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"
)
SECURITY = ("starttls", "tls", "none")
MIN_SECRET = 16


@dataclass(frozen=True)
class NewWebhook:
    endpoint: NotifyEndpoint
    secret: str  # shown once
    generated: bool


def shown_url(url: str) -> str:
    """The URL as it may be shown and logged: no user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ConfigError(f"webhook URL {shown_url(url)!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"webhook URL {shown_url(url)!r}: give an http:// or https:// URL with a host")
    if any(c in url for c in "\r\n\t ") or len(url) > 2000:
        raise ConfigError(
            f"webhook URL {shown_url(url)!r}: no spaces or line breaks, at most 2000 characters"
        )
    return url


def add_webhook(db: Session, box: SecretBox, org: Organisation, url: str, secret: str | None) -> NewWebhook:
    check_url(url)
    generated = secret is None
    chosen = secret if secret is not None else secrets.token_urlsafe(32)
    if len(chosen) < MIN_SECRET:
        raise ConfigError(f"webhook secret: at least {MIN_SECRET} characters")
    endpoint = NotifyEndpoint(
        org_id=org.id,
        kind=EndpointKind.WEBHOOK.value,
        target_shown=shown_url(url)[:400],
        url_sealed=box.seal(url, "webhook-url"),
        secret_sealed=box.seal(chosen, "webhook-secret"),
    )
    db.add(endpoint)
    db.flush()
    return NewWebhook(endpoint, chosen, generated)


def add_email(db: Session, org: Organisation, address: str) -> NotifyEndpoint:
    if not _EMAIL.match(address):
        raise ConfigError(f"e-mail address {address!r}: not an address (name@domain)")
    endpoint = NotifyEndpoint(org_id=org.id, kind=EndpointKind.EMAIL.value, target_shown=address)
    db.add(endpoint)
    db.flush()
    return endpoint


def endpoints(db: Session) -> list[NotifyEndpoint]:
    return list(
        db.scalars(
            select(NotifyEndpoint).options(selectinload(NotifyEndpoint.org)).order_by(NotifyEndpoint.id)
        )
    )


def remove_endpoint(db: Session, endpoint_id: int) -> NotifyEndpoint:
    """Stop notifying it (kept, so its deliveries stay in the log)."""
    endpoint = db.get(NotifyEndpoint, endpoint_id)
    if endpoint is None or not endpoint.active:
        raise ConfigError(f"endpoint {endpoint_id}: no such active endpoint (see 'notify list')")
    endpoint.active = False
    endpoint.url_sealed = endpoint.secret_sealed = ""  # nothing left to use
    return endpoint


def settings_row(db: Session) -> NotifySettings:
    row = db.get(NotifySettings, 1)
    if row is None:
        row = NotifySettings(
            id=1,
            smtp_host="",
            smtp_port=25,
            smtp_security="starttls",
            smtp_user="",
            smtp_password_sealed="",
            mail_from="",
            max_attempts=8,
            backoff_s=30.0,
            backoff_cap_s=3600.0,
            timeout_s=10.0,
        )
        db.add(row)
    return row


def set_smtp(
    db: Session,
    box: SecretBox,
    host: str,
    port: int,
    security: str,
    user: str,
    password: str | None,
    sender: str,
) -> NotifySettings:
    if security not in SECURITY:
        raise ConfigError(f"--security {security!r}: use {', '.join(SECURITY)}")
    if not host or any(c in host for c in "\r\n /"):
        raise ConfigError(f"--host {host!r}: give the mail relay's host name or address")
    if not _EMAIL.match(sender):
        raise ConfigError(f"--from {sender!r}: not an address (name@domain)")
    row = settings_row(db)
    row.smtp_host, row.smtp_port, row.smtp_security, row.smtp_user = host, port, security, user
    row.mail_from = sender
    row.smtp_password_sealed = box.seal(password, "smtp-password") if password else ""
    return row


def set_policy(
    db: Session, max_attempts: int, backoff_s: float, cap_s: float, timeout_s: float
) -> NotifySettings:
    for name, value in (("--backoff", backoff_s), ("--backoff-cap", cap_s), ("--timeout", timeout_s)):
        if not math.isfinite(value) or not 0 < value <= 86400:
            raise ConfigError(f"{name} {value!r}: give seconds, more than 0 and at most a day")
    if not 1 <= max_attempts <= 100:
        raise ConfigError(f"--attempts {max_attempts}: from 1 to 100")
    row = settings_row(db)
    row.max_attempts, row.backoff_s, row.backoff_cap_s, row.timeout_s = (
        max_attempts,
        backoff_s,
        cap_s,
        timeout_s,
    )
    return row


def delivery_log(
    db: Session, principal: Principal | None, page: PageRequest, submission_id: int | None = None
) -> Page[NotifyDelivery]:
    """Deliveries, newest first, with their attempts: admins and officers only."""
    check(principal, Action.NOTIFICATION_LOG)
    page = page.clamp()
    query = select(NotifyDelivery)
    counted = select(func.count()).select_from(NotifyDelivery)
    if submission_id is not None:
        query = query.where(NotifyDelivery.submission_id == submission_id)
        counted = counted.where(NotifyDelivery.submission_id == submission_id)
    total = db.scalar(counted) or 0
    items = list(
        db.scalars(
            query.options(
                selectinload(NotifyDelivery.tries),
                selectinload(NotifyDelivery.endpoint).selectinload(NotifyEndpoint.org),
            )
            .order_by(NotifyDelivery.created_at.desc(), NotifyDelivery.id.desc())
            .offset((page.page - 1) * page.per_page)
            .limit(page.per_page)
        )
    )
    return Page(items, total, page.page, page.per_page)
