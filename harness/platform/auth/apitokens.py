"""API tokens in the database: made (the secret returned once), looked up by digest, revoked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db.models import ApiToken, User
from ..db.types import utcnow
from .policy import Principal, Role
from .tokens import digest, new_api_token, shown_prefix

TOUCH_EVERY = dt.timedelta(minutes=1)
MAX_LIFETIME = dt.timedelta(days=366)


@dataclass(frozen=True)
class NewToken:
    row: ApiToken
    secret: str  # shown to its owner once, never stored


class TokenRefused(Exception):
    """Why a bearer token does not authenticate: unknown, expired, revoked, or its user disabled."""


def create_token(
    db: Session, *, org_id: int, role: Role, name: str, expires_at: dt.datetime, user_id: int | None = None
) -> NewToken:
    secret = new_api_token()
    row = ApiToken(
        org_id=org_id,
        user_id=user_id,
        name=name,
        role=role.value,
        prefix=shown_prefix(secret),
        token_hash=digest(secret),
        expires_at=expires_at,
    )
    db.add(row)
    db.flush()
    return NewToken(row, secret)


def authenticate(db: Session, secret: str, now: dt.datetime | None = None) -> Principal:
    now = now or utcnow()
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    if row is None:
        raise TokenRefused("unknown token")
    if row.revoked_at is not None:
        raise TokenRefused(f"token {row.prefix}… was revoked")
    if row.expires_at <= now:
        raise TokenRefused(f"token {row.prefix}… expired at {row.expires_at:%Y-%m-%d %H:%M:%S} UTC")
    if row.user_id is not None:
        user = db.get(User, row.user_id)
        if user is None or not user.active:
            raise TokenRefused(f"token {row.prefix}… belongs to a disabled account")
    return Principal(role=Role(row.role), org_id=row.org_id, user_id=row.user_id, token_id=row.id)


def touch_due(db: Session, token_id: int, now: dt.datetime | None = None) -> bool:
    """Whether the token's last-used time is older than TOUCH_EVERY (written at most once a minute)."""
    last = db.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))
    return last is None or (now or utcnow()) - last > TOUCH_EVERY


def touch(db: Session, token_id: int, now: dt.datetime | None = None) -> None:
    db.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now or utcnow()))


def revoke(row: ApiToken, now: dt.datetime | None = None) -> None:
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
