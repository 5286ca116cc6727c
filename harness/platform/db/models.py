"""The platform's records. Organisations own users, tokens and signing keys; a submission is one verified
bundle, published by a lab (or a vendor's CI) for one vendor, with a row per device, its requirement
statuses and its failures copied out of results.json so the pages never reopen the zip.

Certification (issue 13): `Submission.state` holds the lifecycle state (services/lifecycle.py);
waivers, certificates, findings and the audit trail are tables of their own (cert_models.py)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class OrgKind(enum.StrEnum):
    VENDOR = "vendor"
    LAB = "lab"
    PLATFORM = "platform"


class SubmissionState(enum.StrEnum):
    SUBMITTED = "submitted"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)

    org: Mapped[Organisation] = relationship()


class ApiToken(Base):
    """A bearer token: only its SHA-256 is kept; `prefix` (the first characters) names it in lists."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)

    org: Mapped[Organisation] = relationship()


class WebSession(Base):
    """A logged-in browser. The cookie holds a random value; the row is keyed by its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_user_at", "username", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)


class SigningKey(Base):
    """A lab's Ed25519 public key, registered to the organisation whose bundles it may sign."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(80), unique=True)
    public_key: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(200), default="")
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoke_reason: Mapped[str] = mapped_column(Text, default="")

    org: Mapped[Organisation] = relationship()


class Product(Base):
    """One product (model) of one vendor; its page gathers every submission across builds."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("vendor_org_id", "model", name="uq_products_vendor_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    model: Mapped[str] = mapped_column(String(200))
    soc: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(32), default="")
    board: Mapped[str] = mapped_column(String(200), default="", server_default="")  # board design, declared
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    vendor: Mapped[Organisation] = relationship()


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_created", "created_at", "id"),
        Index("ix_submissions_vendor_created", "vendor_org_id", "created_at"),
        Index("ix_submissions_lab_created", "lab_org_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(String(200))
    vendor_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    lab_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    signing_key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id"), index=True)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    uploaded_by_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), nullable=True)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(32), default=SubmissionState.SUBMITTED.value)
    verdict: Mapped[str] = mapped_column(String(32), index=True)  # the worst device verdict
    harness_version: Mapped[str] = mapped_column(String(64), default="")
    run_started: Mapped[float | None] = mapped_column(Float, nullable=True)
    run_ended: Mapped[float | None] = mapped_column(Float, nullable=True)
    operator: Mapped[str] = mapped_column(String(200), default="")
    run_host: Mapped[str] = mapped_column(String(200), default="")
    search_text: Mapped[str] = mapped_column(Text, default="")  # lower-case words the search box matches
    # The submission this one answers (a re-test request or a rejection of it), when the vendor says so.
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), nullable=True, index=True)

    vendor: Mapped[Organisation] = relationship(foreign_keys=[vendor_org_id])
    lab: Mapped[Organisation] = relationship(foreign_keys=[lab_org_id])
    signing_key: Mapped[SigningKey] = relationship()
    devices: Mapped[list[SubmissionDevice]] = relationship(
        back_populates="submission", order_by="SubmissionDevice.position", cascade="all, delete-orphan"
    )


class SubmissionDevice(Base):
    __tablename__ = "submission_devices"
    __table_args__ = (
        Index("ix_devices_os", "os_name", "os_version"),
        Index("ix_devices_submission", "submission_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="")
    profile: Mapped[str] = mapped_column(String(64), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    soc: Mapped[str] = mapped_column(String(200), default="", index=True)
    os_name: Mapped[str] = mapped_column(String(200), default="")
    os_version: Mapped[str] = mapped_column(String(200), default="")
    kernel: Mapped[str] = mapped_column(String(400), default="")
    arch: Mapped[str] = mapped_column(String(64), default="")
    fingerprint: Mapped[str] = mapped_column(String(400), default="")
    serial: Mapped[str] = mapped_column(String(200), default="")
    security_patch: Mapped[str] = mapped_column(String(64), default="")
    reported_model: Mapped[str] = mapped_column(String(200), default="")  # identity.model from the device
    verdict: Mapped[str] = mapped_column(String(32), index=True)
    verdict_reasons: Mapped[str] = mapped_column(Text, default="")  # one reason a line
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    n_pass: Mapped[int] = mapped_column(Integer, default=0)
    n_fail: Mapped[int] = mapped_column(Integer, default=0)
    n_error: Mapped[int] = mapped_column(Integer, default=0)
    n_skip: Mapped[int] = mapped_column(Integer, default=0)
    n_not_run: Mapped[int] = mapped_column(Integer, default=0)
    failures_total: Mapped[int] = mapped_column(Integer, default=0)

    submission: Mapped[Submission] = relationship(back_populates="devices")
    product: Mapped[Product] = relationship()
    requirements: Mapped[list[RequirementResult]] = relationship(
        order_by="RequirementResult.position", cascade="all, delete-orphan"
    )
    failures: Mapped[list[TestFailure]] = relationship(
        order_by="TestFailure.position", cascade="all, delete-orphan"
    )


class RequirementResult(Base):
    __tablename__ = "requirement_results"
    __table_args__ = (Index("ix_requirements_device", "device_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("submission_devices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    requirement_id: Mapped[str] = mapped_column(String(200), index=True)
    level: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    title_en: Mapped[str] = mapped_column(Text, default="")
    title_zh: Mapped[str] = mapped_column(Text, default="")


class TestFailure(Base):
    """A FAIL or ERROR test (product failures first), capped per device; the bundle has them all."""

    __tablename__ = "test_failures"
    __table_args__ = (Index("ix_failures_device", "device_id", "position"),)
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("submission_devices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    test_id: Mapped[str] = mapped_column(Text)
    suite: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    requirements: Mapped[str] = mapped_column(Text, default="")  # space-separated ids

