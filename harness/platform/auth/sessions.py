"""Web sessions: a random cookie value (the row keeps its digest), a CSRF token per session, an
absolute lifetime and an idle timeout."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, joinedload

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


class SessionState(enum.Enum):
    LIVE = "live"
    LIVE_TOUCH = "live, last-seen due"  # live; write last_seen_at (at most once a minute)
    ENDED = "ended"  # expired, idle too long or the user disabled: delete it


def lookup(db: Session, cookie: str) -> WebSession | None:
    # The user and organisation come along in the same query: every page needs them.
    return db.get(WebSession, digest(cookie), options=[joinedload(WebSession.user).joinedload(User.org)])


def state_of(row: WebSession, policy: SessionPolicy, now: dt.datetime | None = None) -> SessionState:
    now = now or utcnow()
    idle = now - row.last_seen_at > dt.timedelta(seconds=policy.idle_s)
    if row.expires_at <= now or idle or not row.user.active:
        return SessionState.ENDED
    if now - row.last_seen_at > dt.timedelta(seconds=policy.touch_every_s):
        return SessionState.LIVE_TOUCH
    return SessionState.LIVE


def touch(db: Session, session_id: str, now: dt.datetime | None = None) -> None:
    db.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=now or utcnow()))


def end(db: Session, cookie: str) -> None:
    end_by_id(db, digest(cookie))


def end_by_id(db: Session, session_id: str) -> None:
    db.execute(delete(WebSession).where(WebSession.id == session_id))


def end_all_of(db: Session, user_id: int) -> None:
    db.execute(delete(WebSession).where(WebSession.user_id == user_id))
