"""A submission's lifecycle, and the one function that moves it: `change_state`.

submitted -> in_review -> (retest_requested | rejected | approved) -> certified -> (revoked | expired)

Only officers move a submission (the system alone lets a certificate expire). Each change is written
with its audit entry in one transaction; the listeners of services/events.py hear of it after the
commit. A vendor answers a re-test request or a rejection with a new submission linked to the first
(`link_answer`)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.policy import Action, Principal
from ..db.cert_models import Finding
from ..db.engine import Database
from ..db.models import Submission
from ..db.types import utcnow
from . import audit, events
from .catalogue import check, get_submission
from .errors import Conflict, Invalid, NotVisible


class State(enum.StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    RETEST_REQUESTED = "retest_requested"
    REJECTED = "rejected"
    APPROVED = "approved"
    CERTIFIED = "certified"
    REVOKED = "revoked"
    EXPIRED = "expired"


# from -> the states an officer may move it to. Certified is reached only through certification
# (services/certify.py), revoked only through revocation, expired only through the clock.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.SUBMITTED: frozenset({State.IN_REVIEW}),
    State.IN_REVIEW: frozenset({State.RETEST_REQUESTED, State.REJECTED, State.APPROVED}),
    State.APPROVED: frozenset({State.CERTIFIED, State.IN_REVIEW}),
    State.CERTIFIED: frozenset({State.REVOKED, State.EXPIRED}),
    State.RETEST_REQUESTED: frozenset(),
    State.REJECTED: frozenset(),
    State.REVOKED: frozenset(),
    State.EXPIRED: frozenset(),
}
NEEDS_REASON = frozenset({State.RETEST_REQUESTED, State.REJECTED, State.REVOKED})
NEEDS_FINDINGS = frozenset({State.REJECTED})  # reasons per requirement
ANSWERABLE = frozenset({State.RETEST_REQUESTED, State.REJECTED})
MAX_REASON = 4000
MAX_FINDINGS = 200


@dataclass(frozen=True)
class FindingIn:
    requirement_id: str
    reason: str


def allowed(before: State, after: State) -> bool:
    return after in TRANSITIONS.get(before, frozenset())


# What a transition does besides the state, inside the same transaction (certification issues the
# certificate); returns details for the audit entry.
Extra = Callable[[Session, Submission, dt.datetime], dict[str, Any]]


def change_state(
    database: Database,
    actor: audit.Actor,
    principal: Principal | None,
    submission_id: int,
    after: State,
    reason: str = "",
    *,
    findings: Sequence[FindingIn] = (),
    now: dt.datetime | None = None,
    extra: Extra | None = None,
) -> events.StateChange:
    """Move a submission to `after`, record it, then tell the listeners. `principal` None: the system
    (expiry only). Raises Forbidden/NotVisible (not an officer, not visible), Conflict (not a move the
    lifecycle allows from the current state), Invalid (a reason or findings missing)."""
    at = now or utcnow()
    reason = reason.strip()
    if principal is None and after is not State.EXPIRED:
        raise Conflict("only expiry happens without an officer")
    if after in NEEDS_REASON and not reason:
        raise Invalid(f"moving a submission to {after} needs a reason")
    if len(reason) > MAX_REASON:
        raise Invalid(f"reason: more than {MAX_REASON} characters")
    if after in NEEDS_FINDINGS and not findings:
        raise Invalid("a rejection needs at least one reason naming a requirement")
    if len(findings) > MAX_FINDINGS:
        raise Invalid(f"more than {MAX_FINDINGS} findings")
    for f in findings:
        if not f.requirement_id.strip() or not f.reason.strip():
            raise Invalid("each finding needs a requirement id and a reason")
    with database.write() as db:
        if principal is not None:
            sub = get_submission(db, principal, submission_id, Action.SUBMISSION_REVIEW)
        else:
            found = db.get(Submission, submission_id)
            if found is None:
                raise NotVisible()
            sub = found
        before = State(sub.state)
        if not allowed(before, after):
            raise Conflict(f"submission {sub.id} is {before}: it cannot move to {after}")
        detail: dict[str, Any] = {"reason": reason}
        if findings:
            detail["findings"] = [{"requirement": f.requirement_id, "reason": f.reason} for f in findings]
        for f in findings:
            db.add(
                Finding(
                    submission_id=sub.id,
                    requirement_id=f.requirement_id.strip()[:200],
                    reason=f.reason.strip()[:MAX_REASON],
                    state=after.value,
                    officer_user_id=principal.user_id if principal and principal.user_id else 0,
                    created_at=at,
                )
            )
        if extra is not None:
            detail.update(extra(db, sub, at))
        sub.state = after.value
        audit.append(
            db,
            actor,
            audit.Record(
                action="submission.state",
                object_kind="submission",
                object_id=str(sub.id),
                organisation=sub.vendor.slug,
                before=before.value,
                after=after.value,
                detail=detail,
            ),
            at,
        )
        change = events.StateChange(
            submission_id=sub.id,
            organisation=sub.vendor.slug,
            before=before.value,
            after=after.value,
            actor=actor.login,
            reason=reason,
            at=at,
        )
    events.emit(change)
    return change


def link_answer(db: Session, new: Submission, previous_id: int, principal: Principal) -> None:
    """File `new` as the vendor's answer to a re-test request or rejection of `previous_id` (same
    vendor; the previous one must be visible to the publisher and waiting for an answer)."""
    check(principal, Action.SUBMISSION_CREATE)
    previous = get_submission(db, principal, previous_id, Action.SUBMISSION_READ)
    if previous.vendor_org_id != new.vendor_org_id:
        raise Invalid(f"answers={previous_id}: a submission of another vendor")
    if State(previous.state) not in ANSWERABLE:
        raise Conflict(
            f"answers={previous_id}: that submission is {previous.state}, not waiting for an answer"
        )
    if previous.id == new.id:
        raise Invalid("a submission cannot answer itself")
    new.previous_id = previous.id


def findings_of(db: Session, submission_id: int) -> list[Finding]:
    query = select(Finding).where(Finding.submission_id == submission_id).order_by(Finding.id)
    return list(db.scalars(query))


def answers_to(db: Session, submission_id: int) -> list[int]:
    return list(db.scalars(select(Submission.id).where(Submission.previous_id == submission_id)))
