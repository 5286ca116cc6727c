"""The certification records (issue 13): the audit trail and its head, review findings, waivers,
certificates and their revocations. Imported by models.py so that one metadata holds every table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .models import Base, Organisation, Product, Submission, User
from .types import UtcDateTime, utcnow


class AuditEntry(Base):
    """One entry of the append-only trail. `hash` = SHA-256 over `prev_hash` and the entry's fields
    (harness.platform.services.audit.entry_hash); `at` is kept as the exact text that was hashed."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_object", "object_kind", "object_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    object_kind: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[str] = mapped_column(String(64))
    before: Mapped[str] = mapped_column(String(32))
    after: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The last entry's number and hash, written in the same transaction as the entry: a trail cut
    short at its end no longer matches it. Its row lock serialises appends on PostgreSQL."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class Finding(Base):
    """A reason an officer gave, per requirement, for rejecting a submission or asking for a re-test."""

    __tablename__ = "review_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    requirement_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32))  # the state the submission went to
    officer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Waiver(Base):
    __tablename__ = "waivers"
    __table_args__ = (Index("ix_waivers_vendor_state", "vendor_org_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    requirement_id: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200), default="")  # "" = any
    soc: Mapped[str] = mapped_column(String(200), default="")
    profile: Mapped[str] = mapped_column(String(64), default="")
    os_version: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # requested | approved | refused
    requested_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    vendor: Mapped[Organisation] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_user_id])


class Certificate(Base):
    """A signed certificate: `body` is the canonical JSON that `signature` (Ed25519, the platform's
    key) signs; the columns beside it are copies for queries."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cert_id: Mapped[str] = mapped_column(String(40), unique=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    vendor_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    derived_from_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"), nullable=True)
    os_name: Mapped[str] = mapped_column(String(200), default="")
    os_version: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(80))
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    officer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoke_reason: Mapped[str] = mapped_column(Text, default="")

    submission: Mapped[Submission] = relationship()
    product: Mapped[Product] = relationship()
    vendor: Mapped[Organisation] = relationship()
    derived_from: Mapped[Certificate | None] = relationship(remote_side=[id])


class PublicListing(Base):
    """A vendor's opt-in: this product appears on the public list while it holds a valid certificate."""

    __tablename__ = "public_listings"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    listed: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
