"""Notification records: where each organisation wants to hear of state changes (webhook endpoints and
e-mail addresses), the platform's mail relay and retry policy, and the delivery log: one delivery per
change and endpoint, one attempt row per try. Secrets (HMAC keys, webhook URLs, the SMTP password) are
kept only sealed by notify.secretbox; `url_shown` is the URL without credentials or query."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .models import Base, Organisation
from .types import UtcDateTime, utcnow


class EndpointKind(enum.StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its first or next try
    DELIVERED = "delivered"
    FAILED = "failed"  # every try failed: given up


class NotifyEndpoint(Base):
    __tablename__ = "notify_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    target_shown: Mapped[str] = mapped_column(String(400))  # e-mail address, or the URL without secrets
    url_sealed: Mapped[str] = mapped_column(Text, default="")  # webhook: the full URL
    secret_sealed: Mapped[str] = mapped_column(Text, default="")  # webhook: the HMAC key
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    org: Mapped[Organisation] = relationship()


class NotifySettings(Base):
    """One row (id 1): the mail relay and the retry policy."""

    __tablename__ = "notify_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    smtp_host: Mapped[str] = mapped_column(String(200), default="")
    smtp_port: Mapped[int] = mapped_column(Integer, default=25)
    smtp_security: Mapped[str] = mapped_column(String(16), default="starttls")  # starttls | tls | none
    smtp_user: Mapped[str] = mapped_column(String(200), default="")
    smtp_password_sealed: Mapped[str] = mapped_column(Text, default="")
    mail_from: Mapped[str] = mapped_column(String(200), default="")
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    backoff_s: Mapped[float] = mapped_column(Float, default=30.0)
    backoff_cap_s: Mapped[float] = mapped_column(Float, default=3600.0)
    timeout_s: Mapped[float] = mapped_column(Float, default=10.0)


class NotifyDelivery(Base):
    __tablename__ = "notify_deliveries"
    __table_args__ = (
        Index("ix_notify_deliveries_due", "status", "next_attempt_at"),
        Index("ix_notify_deliveries_created", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("notify_endpoints.id", ondelete="CASCADE"), index=True
    )
    submission_id: Mapped[int] = mapped_column(Integer, index=True)
    event: Mapped[str] = mapped_column(String(64))
    before: Mapped[str] = mapped_column(String(32))
    after: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)  # the JSON body (webhooks) or what the mail is made from
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)

    endpoint: Mapped[NotifyEndpoint] = relationship()
    tries: Mapped[list[NotifyAttempt]] = relationship(
        order_by="NotifyAttempt.number", cascade="all, delete-orphan"
    )


class NotifyAttempt(Base):
    __tablename__ = "notify_attempts"
    __table_args__ = (Index("ix_notify_attempts_delivery", "delivery_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notify_deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)  # HTTP status or SMTP reply code
    error: Mapped[str] = mapped_column(Text, default="")
