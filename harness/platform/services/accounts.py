"""Organisations, users, tokens and signing keys: what `harness platform admin` and the pages manage."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import ConfigError
from ...report.signing import key_id, public_from_text, public_to_text
from ..auth.apitokens import MAX_LIFETIME, NewToken, create_token
from ..auth.passwords import hash_password, password_problem
from ..auth.policy import ROLES_FOR_ORG_KIND, Role
from ..auth.sessions import end_all_of
from ..db.models import ApiToken, Organisation, OrgKind, SigningKey, User
from ..db.types import utcnow

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def org_by_slug(db: Session, slug: str) -> Organisation:
    org = db.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise ConfigError(f"organisation {slug!r}: no such organisation")
    return org


def create_org(db: Session, slug: str, name: str, kind: str) -> Organisation:
    if not _SLUG.match(slug):
        raise ConfigError(f"organisation {slug!r}: use lower-case letters, digits and '-' (at most 63)")
    if kind not in {k.value for k in OrgKind}:
        raise ConfigError(f"organisation {slug!r}: kind {kind!r}: use vendor, lab or platform")
    if db.scalar(select(Organisation).where(Organisation.slug == slug)) is not None:
        raise ConfigError(f"organisation {slug!r}: exists already")
    org = Organisation(slug=slug, name=name or slug, kind=kind)
    db.add(org)
    db.flush()
    return org


def ensure_org(db: Session, slug: str, name: str, kind: str) -> tuple[Organisation, bool]:
    org = db.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is not None:
        if org.kind != kind:
            raise ConfigError(f"organisation {slug!r}: exists as a {org.kind} organisation, not {kind}")
        return org, False
    return create_org(db, slug, name, kind), True


def check_role(org: Organisation, role: str) -> Role:
    try:
        chosen = Role(role)
    except ValueError:
        raise ConfigError(f"role {role!r}: use one of {', '.join(r.value for r in Role)}") from None
    if chosen not in ROLES_FOR_ORG_KIND[org.kind]:
        allowed = ", ".join(sorted(r.value for r in ROLES_FOR_ORG_KIND[org.kind]))
        raise ConfigError(f"role {role!r}: a {org.kind} organisation ({org.slug}) has roles {allowed}")
    return chosen


def user_by_name(db: Session, username: str) -> User:
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise ConfigError(f"user {username!r}: no such user")
    return user


def create_user(
    db: Session, username: str, org: Organisation, role: str, password: str, name: str = ""
) -> User:
    if not _USERNAME.match(username):
        raise ConfigError(f"user {username!r}: use letters, digits and . _ @ - (at most 64)")
    chosen = check_role(org, role)
    problem = password_problem(password)
    if problem:
        raise ConfigError(f"user {username!r}: {problem}")
    if db.scalar(select(User).where(User.username == username)) is not None:
        raise ConfigError(f"user {username!r}: exists already")
    user = User(
        username=username,
        org_id=org.id,
        role=chosen.value,
        password_hash=hash_password(password),
        display_name=name or username,
    )
    db.add(user)
    db.flush()
    return user


def set_password(db: Session, user: User, password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise ConfigError(f"user {user.username!r}: {problem}")
    user.password_hash = hash_password(password)
    end_all_of(db, user.id)  # a new password ends every open session


def set_active(db: Session, user: User, active: bool) -> None:
    user.active = active
    if not active:
        end_all_of(db, user.id)


def issue_token(
    db: Session,
    org: Organisation,
    role: str,
    name: str,
    lifetime: dt.timedelta,
    user: User | None = None,
    now: dt.datetime | None = None,
) -> NewToken:
    chosen = check_role(org, role)
    if lifetime <= dt.timedelta(0) or lifetime > MAX_LIFETIME:
        raise ConfigError(f"token {name!r}: a lifetime from 1 second to {MAX_LIFETIME.days} days")
    if not name.strip():
        raise ConfigError("a token needs a name (what it is for: 'vendor CI', 'lab-a nightly')")
    return create_token(
        db,
        org_id=org.id,
        role=chosen,
        name=name.strip()[:200],
        expires_at=(now or utcnow()) + lifetime,
        user_id=user.id if user else None,
    )


def token_by_ref(db: Session, ref: str) -> ApiToken:
    """A token by its row id or its shown prefix (hpt_...)."""
    row = db.get(ApiToken, int(ref)) if ref.isdigit() else None
    if row is None:
        rows = list(db.scalars(select(ApiToken).where(ApiToken.prefix == ref[:12])))
        row = rows[0] if len(rows) == 1 else None
    if row is None:
        raise ConfigError(f"token {ref!r}: no such token (give its id or prefix from 'token list')")
    return row


def register_key(db: Session, org: Organisation, public_text: str, label: str = "") -> SigningKey:
    public = public_from_text(public_text)
    kid = key_id(public)
    existing = db.scalar(select(SigningKey).where(SigningKey.key_id == kid))
    if existing is not None:
        if existing.org_id != org.id:
            raise ConfigError(f"key {kid}: registered to another organisation already")
        if existing.revoked_at is not None:
            raise ConfigError(
                f"key {kid}: revoked on {existing.revoked_at:%Y-%m-%d}; a revoked key stays revoked"
            )
        return existing
    if org.kind not in (OrgKind.LAB, OrgKind.VENDOR):
        raise ConfigError(f"organisation {org.slug!r}: only labs and vendors sign bundles")
    row = SigningKey(org_id=org.id, key_id=kid, public_key=public_to_text(public), label=label)
    db.add(row)
    db.flush()
    return row


def key_by_id(db: Session, kid: str) -> SigningKey:
    row = db.scalar(select(SigningKey).where(SigningKey.key_id == kid))
    if row is None:
        raise ConfigError(f"key {kid!r}: not registered (see 'harness platform admin key list')")
    return row


def revoke_key(db: Session, kid: str, reason: str) -> SigningKey:
    if not reason.strip():
        raise ConfigError(f"key {kid}: give the reason for revoking it (--reason)")
    row = key_by_id(db, kid)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revoke_reason = reason.strip()
    return row
