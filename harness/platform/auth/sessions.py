"""Web sessions: a random cookie value (the row keeps its digest), a CSRF token per session, an
absolute lifetime and an idle timeout."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from ..config import SessionPolicy
from ..db.models import User, WebSession
from ..db.types import utcnow
from .tokens import digest, new_secret

COOKIE = "harness_session"
LOGIN_CSRF_COOKIE = "harness_login_csrf"  # double-submit token of the login form (no session yet)


@dataclass(frozen=True)
class NewSession:
    row: WebSession
    cookie: str


def start(db: Session, user: User, policy: SessionPolicy, now: dt.datetime | None = None) -> NewSession:
    now = now or utcnow()
    cookie = new_secret()
    row = WebSession(
        id=digest(cookie),
        user_id=user.id,
        csrf_token=new_secret(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + dt.timedelta(seconds=policy.lifetime_s),
    )
    db.add(row)
    user.last_login_at = now
    db.flush()
    return NewSession(row, cookie)


def resume(
    db: Session, cookie: str, policy: SessionPolicy, now: dt.datetime | None = None
) -> WebSession | None:
    """The live session of this cookie; an expired or idle one is ended and None returned."""
    now = now or utcnow()
    row = db.get(WebSession, digest(cookie))
    if row is None:
        return None
    idle = now - row.last_seen_at > dt.timedelta(seconds=policy.idle_s)
    if row.expires_at <= now or idle or not row.user.active:
        db.delete(row)
        return None
    if now - row.last_seen_at > dt.timedelta(seconds=policy.touch_every_s):
        row.last_seen_at = now
    return row


def end(db: Session, cookie: str) -> None:
    db.execute(delete(WebSession).where(WebSession.id == digest(cookie)))


def end_all_of(db: Session, user_id: int) -> None:
    db.execute(delete(WebSession).where(WebSession.user_id == user_id))
