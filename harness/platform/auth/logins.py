"""Password logins with throttling kept in the database (shared by every app process)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..config import ThrottlePolicy
from ..db.models import LoginAttempt, User
from ..db.types import utcnow
from .passwords import hash_password, needs_rehash, verify_password
from .throttle import Lockout, lockout

MAX_NAME = 64


@dataclass(frozen=True)
class LoginResult:
    user: User | None = None
    locked: Lockout | None = None


def _failures(
    db: Session, column: InstrumentedAttribute[str], value: str, since: dt.datetime
) -> list[dt.datetime]:
    rows = db.scalars(
        select(LoginAttempt.at).where(column == value, LoginAttempt.ok.is_(False), LoginAttempt.at > since)
    )
    return list(rows)


def check_password(
    db: Session, username: str, password: str, ip: str, policy: ThrottlePolicy, now: dt.datetime | None = None
) -> LoginResult:
    """A user when the name and password match and neither the name nor the address is locked out."""
    now = now or utcnow()
    username = username.strip()[:MAX_NAME]
    since = now - dt.timedelta(seconds=policy.window_s)
    for column, value in ((LoginAttempt.username, username), (LoginAttempt.ip, ip)):
        locked = lockout(_failures(db, column, value, since), now, policy)
        if locked is not None:
            return LoginResult(locked=locked)
    user = db.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password) and user is not None and user.active
    db.add(LoginAttempt(username=username, ip=ip[:64], at=now, ok=ok))
    if not ok or user is None:
        return LoginResult()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    # A success clears this name's failures; old attempts of everyone are pruned.
    db.execute(
        delete(LoginAttempt).where(
            or_(LoginAttempt.username == username, LoginAttempt.at < since), LoginAttempt.ok.is_(False)
        )
    )
    return LoginResult(user=user)
