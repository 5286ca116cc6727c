"""The delivery queue in the database: a state change becomes one pending delivery per endpoint that
should hear of it; a worker claims due deliveries with a lease (so two app processes never send the
same one at once), and records each attempt and what comes next (delivered, retry at, given up)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ..db.models import Organisation, OrgKind, Submission
from ..db.notify_models import DeliveryStatus, NotifyAttempt, NotifyDelivery, NotifyEndpoint, NotifySettings
from .backoff import RetryPolicy
from .message import EVENT, ChangeNotice, StateChange
from .senders import Outcome

LEASE_S = 120.0  # a claimed delivery is another process's again after this (its claimer died)
MAX_ERROR = 500


def settings(db: Session) -> NotifySettings:
    row = db.get(NotifySettings, 1)
    return row if row is not None else NotifySettings(id=1)


def policy_of(row: NotifySettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=row.max_attempts if row.max_attempts is not None else 8,
        base_s=row.backoff_s if row.backoff_s is not None else 30.0,
        cap_s=row.backoff_cap_s if row.backoff_cap_s is not None else 3600.0,
        timeout_s=row.timeout_s if row.timeout_s is not None else 10.0,
    )


def audience(db: Session, submission: Submission) -> list[NotifyEndpoint]:
    """Who hears of a submission's changes: its vendor, the lab that published it, and the platform's
    own organisations (officers and admins)."""
    platform_orgs = select(Organisation.id).where(Organisation.kind == OrgKind.PLATFORM.value)
    query = (
        select(NotifyEndpoint)
        .where(
            NotifyEndpoint.active.is_(True),
            or_(
                NotifyEndpoint.org_id.in_({submission.vendor_org_id, submission.lab_org_id}),
                NotifyEndpoint.org_id.in_(platform_orgs),
            ),
        )
        .order_by(NotifyEndpoint.id)
    )
    return list(db.scalars(query))


def enqueue(db: Session, change: StateChange, base_url: str, now: dt.datetime) -> list[int]:
    """One pending delivery per endpoint of the change's audience; returns their ids."""
    submission = db.get(Submission, change.submission_id)
    if submission is None:
        return []
    payload = ChangeNotice.of(change, submission.run_id, base_url).payload()
    made = []
    for endpoint in audience(db, submission):
        delivery = NotifyDelivery(
            endpoint_id=endpoint.id,
            submission_id=change.submission_id,
            event=EVENT,
            before=change.before[:32],
            after=change.after[:32],
            payload=payload,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        db.add(delivery)
        made.append(delivery)
    db.flush()
    return [d.id for d in made]


def claim(db: Session, now: dt.datetime, limit: int = 20) -> list[int]:
    """Take up to `limit` due deliveries for this process (each under a lease)."""
    due = list(
        db.scalars(
            select(NotifyDelivery.id)
            .where(
                NotifyDelivery.status == DeliveryStatus.PENDING.value,
                NotifyDelivery.next_attempt_at <= now,
                or_(NotifyDelivery.lease_until.is_(None), NotifyDelivery.lease_until < now),
            )
            .order_by(NotifyDelivery.next_attempt_at, NotifyDelivery.id)
            .limit(limit)
        )
    )
    mine = []
    lease = now + dt.timedelta(seconds=LEASE_S)
    for delivery_id in due:
        # Compare-and-set: of two processes claiming the same row, one updates it, the other none.
        taken = db.execute(
            update(NotifyDelivery)
            .where(
                NotifyDelivery.id == delivery_id,
                NotifyDelivery.status == DeliveryStatus.PENDING.value,
                or_(NotifyDelivery.lease_until.is_(None), NotifyDelivery.lease_until < now),
            )
            .values(lease_until=lease)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            mine.append(delivery_id)
    return mine


def next_due(db: Session, now: dt.datetime) -> dt.datetime | None:
    """When this process may next find work: the earliest retry of a free delivery, or the end of the
    earliest lease another process holds (its holder may die)."""
    pending = NotifyDelivery.status == DeliveryStatus.PENDING.value
    free = db.scalar(
        select(func.min(NotifyDelivery.next_attempt_at)).where(
            pending, or_(NotifyDelivery.lease_until.is_(None), NotifyDelivery.lease_until < now)
        )
    )
    leased = db.scalar(
        select(func.min(NotifyDelivery.lease_until)).where(pending, NotifyDelivery.lease_until >= now)
    )
    times = [t for t in (free, leased) if t is not None]
    return min(times) if times else None


@dataclass(frozen=True)
class Recorded:
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None


def record(
    db: Session,
    delivery_id: int,
    outcome: Outcome,
    started: dt.datetime,
    duration_s: float,
    policy: RetryPolicy,
    final: bool = False,  # no retry whatever the policy says (the endpoint was removed)
) -> Recorded:
    delivery = db.get(NotifyDelivery, delivery_id)
    assert delivery is not None
    delivery.attempts += 1
    db.add(
        NotifyAttempt(
            delivery_id=delivery_id,
            number=delivery.attempts,
            at=started,
            duration_ms=round(duration_s * 1000, 1),
            ok=outcome.ok,
            status_code=outcome.status_code,
            error=outcome.error[:MAX_ERROR],
        )
    )
    delivery.lease_until = None
    if outcome.ok:
        delivery.status = DeliveryStatus.DELIVERED.value
        delivery.delivered_at = started + dt.timedelta(seconds=duration_s)
        delivery.last_error = ""
        return Recorded(delivery.status, delivery.attempts, None)
    delivery.last_error = outcome.error[:MAX_ERROR]
    delay = None if final else policy.delay_after(delivery.attempts)
    if delay is None:
        delivery.status = DeliveryStatus.FAILED.value
        return Recorded(delivery.status, delivery.attempts, None)
    delivery.next_attempt_at = started + dt.timedelta(seconds=duration_s + delay)
    return Recorded(delivery.status, delivery.attempts, delivery.next_attempt_at)
