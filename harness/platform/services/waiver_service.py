"""Waivers on the platform: a vendor requests one, an officer approves it (with an expiry) or
refuses it, each step in the audit trail; approved waivers are exported signed for `harness run
--waivers FILE`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ...envelope import Envelope, seal
from ...waivers import WAIVERS_FORMAT, Waiver, instant_text, waivers_body
from ..auth.policy import Action, Principal, Scope, visible_orgs
from ..db.cert_models import Waiver as WaiverRow
from ..db.models import Organisation, OrgKind
from ..signer import PlatformSigner
from . import audit
from .catalogue import check
from .errors import Conflict, Invalid, NotVisible

MAX_DAYS = 3 * 366  # a waiver is for a limited time
_TEXT = re.compile(r"^[^\x00-\x1f\x7f]*$")


class WaiverState:
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"


@dataclass(frozen=True)
class WaiverRequest:
    requirement_id: str
    reason: str
    model: str = ""
    soc: str = ""
    profile: str = ""
    os_version: str = ""
    days: int = 90  # the validity the vendor asks for; the officer decides


def waiver_id(row: WaiverRow) -> str:
    return f"W-{row.id}"


def as_waiver(row: WaiverRow) -> Waiver:
    return Waiver(
        id=waiver_id(row),
        requirement=row.requirement_id,
        reason=row.reason,
        expires=instant_text(row.expires_at),
        vendor=row.vendor.slug,
        requested_by=row.requested_by.username,
        approved_by=row.decided_by.username if row.decided_by and row.state == WaiverState.APPROVED else "",
        model=row.model,
        soc=row.soc,
        profile=row.profile,
        os_version=row.os_version,
    )


def _field(name: str, value: str, limit: int, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise Invalid(f"{name}: required")
    if len(value) > limit or not _TEXT.match(value):
        raise Invalid(f"{name}: at most {limit} printable characters")
    return value


def _scope(row: WaiverRow) -> Scope:
    return Scope(orgs=frozenset({row.vendor_org_id}))


def request(
    db: Session, principal: Principal, actor: audit.Actor, req: WaiverRequest, now: dt.datetime
) -> WaiverRow:
    check(principal, Action.WAIVER_REQUEST)
    org = db.get(Organisation, principal.org_id)
    if org is None or org.kind != OrgKind.VENDOR:
        raise Invalid("waivers are requested by a vendor organisation")
    if not 1 <= req.days <= MAX_DAYS:
        raise Invalid(f"days: between 1 and {MAX_DAYS}")
    row = WaiverRow(
        vendor_org_id=org.id,
        requirement_id=_field("requirement", req.requirement_id, 200, True),
        reason=_field("reason", req.reason, 4000, True),
        model=_field("model", req.model, 200),
        soc=_field("soc", req.soc, 200),
        profile=_field("profile", req.profile, 64),
        os_version=_field("os_version", req.os_version, 200),
        state=WaiverState.REQUESTED,
        requested_by_user_id=principal.user_id or 0,
        requested_at=now,
        expires_at=now + dt.timedelta(days=req.days),
    )
    if principal.user_id is None:
        raise Invalid("a waiver is requested by a person (log in), not a CI token")
    db.add(row)
    db.flush()
    audit.append(
        db,
        actor,
        audit.Record(
            "waiver.request", "waiver", waiver_id(row), org.slug, "", WaiverState.REQUESTED, _detail(row)
        ),
        now,
    )
    return row


def _detail(row: WaiverRow) -> dict[str, str]:
    return {
        "requirement": row.requirement_id,
        "model": row.model,
        "soc": row.soc,
        "profile": row.profile,
        "os_version": row.os_version,
        "reason": row.reason,
        "expires": instant_text(row.expires_at),
    }


def get(db: Session, principal: Principal, wid: int, action: Action) -> WaiverRow:
    row = db.get(
        WaiverRow,
        wid,
        options=[
            selectinload(WaiverRow.vendor),
            selectinload(WaiverRow.requested_by),
            selectinload(WaiverRow.decided_by),
        ],
    )
    if row is None:
        check(principal, action, Scope())
        raise NotVisible()
    check(principal, action, _scope(row))
    return row


def decide(
    db: Session,
    principal: Principal,
    actor: audit.Actor,
    wid: int,
    approve: bool,
    expires: dt.datetime | None,
    note: str,
    now: dt.datetime,
) -> WaiverRow:
    row = get(db, principal, wid, Action.WAIVER_DECIDE)
    if row.state != WaiverState.REQUESTED:
        raise Conflict(f"waiver {waiver_id(row)} is {row.state} already")
    note = _field("note", note, 4000)
    if approve:
        if expires is None:
            raise Invalid("expires: an approved waiver needs an expiry date")
        if expires <= now:
            raise Invalid("expires: must be in the future")
        if expires > now + dt.timedelta(days=MAX_DAYS):
            raise Invalid(f"expires: at most {MAX_DAYS} days ahead")
        row.expires_at = expires
    row.state = WaiverState.APPROVED if approve else WaiverState.REFUSED
    row.decided_by_user_id = principal.user_id
    row.decided_at = now
    row.decision_note = note
    db.flush()
    audit.append(
        db,
        actor,
        audit.Record(
            "waiver.approve" if approve else "waiver.refuse",
            "waiver",
            waiver_id(row),
            row.vendor.slug,
            WaiverState.REQUESTED,
            row.state,
            {**_detail(row), "note": note},
        ),
        now,
    )
    db.refresh(row)
    return row


def listing(db: Session, principal: Principal, vendor_org_id: int | None = None) -> Sequence[WaiverRow]:
    check(principal, Action.WAIVER_LIST)
    query = select(WaiverRow).options(
        selectinload(WaiverRow.vendor),
        selectinload(WaiverRow.requested_by),
        selectinload(WaiverRow.decided_by),
    )
    orgs = visible_orgs(principal, Action.WAIVER_LIST)
    if orgs is not None:
        query = query.where(WaiverRow.vendor_org_id.in_(orgs))
    if vendor_org_id is not None:
        query = query.where(WaiverRow.vendor_org_id == vendor_org_id)
    return db.scalars(query.order_by(WaiverRow.id.desc()).limit(1000)).all()


def approved_for(db: Session, vendor_org_id: int) -> list[Waiver]:
    """Every approved waiver of a vendor (expired ones too: the evaluation says they expired)."""
    rows = db.scalars(
        select(WaiverRow)
        .options(
            selectinload(WaiverRow.vendor),
            selectinload(WaiverRow.requested_by),
            selectinload(WaiverRow.decided_by),
        )
        .where(WaiverRow.vendor_org_id == vendor_org_id, WaiverRow.state == WaiverState.APPROVED)
        .order_by(WaiverRow.id)
    ).all()
    return [as_waiver(r) for r in rows]


def export(
    db: Session, principal: Principal, vendor_slug: str, signer: PlatformSigner, now: dt.datetime
) -> Envelope:
    """The vendor's approved waivers, signed: what `harness run --waivers FILE` reads."""
    check(principal, Action.WAIVER_EXPORT)
    org = db.scalar(select(Organisation).where(Organisation.slug == vendor_slug[:64]))
    if org is None or org.kind != OrgKind.VENDOR:
        raise NotVisible()
    check(principal, Action.WAIVER_EXPORT, Scope(orgs=frozenset({org.id})))
    return seal(WAIVERS_FORMAT, waivers_body(approved_for(db, org.id), org.slug, now), signer.private)
