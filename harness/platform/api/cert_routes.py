"""The certification API: move a submission through review, the assessment with waivers applied,
waivers (request, decide, export signed), certificates (issue, revoke, derive), public listing
opt-in, the audit trail. Bearer tokens, as the rest of /api/v1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..auth.policy import Action, Principal
from ..services import audit, certificates, lifecycle, public_list, waiver_service
from ..services.assessment import assess_submission
from ..services.catalogue import check, get_submission
from ..services.errors import Invalid
from ..services.lifecycle import FindingIn, State
from ..web.access import ObjectId, platform_of, route_name
from ..web.actors import principal_actor
from . import cert_schemas as cs
from .common import REFUSALS, PrincipalDep, api_router
from .schemas import Problem

router = api_router()
CHANGES: dict[int | str, dict[str, Any]] = {
    **REFUSALS,
    400: {"model": Problem, "description": "the body is not JSON"},
    409: {"model": Problem, "description": "not possible in the present state"},
    422: {"model": Problem, "description": "invalid request"},
}


def role_may(action: Action) -> Callable[[Principal], Principal]:
    """A dependency: the bearer's principal, refused (403) before the body is read when its role may
    never do `action`; objects outside its reach are refused (404) by the service."""

    def dependency(principal: PrincipalDep) -> Principal:
        return check(principal, action)

    return dependency


MayAuditRead = Annotated[Principal, Depends(role_may(Action.AUDIT_READ))]
MayCertificateDerive = Annotated[Principal, Depends(role_may(Action.CERTIFICATE_DERIVE))]
MayCertificateIssue = Annotated[Principal, Depends(role_may(Action.CERTIFICATE_ISSUE))]
MayCertificateList = Annotated[Principal, Depends(role_may(Action.CERTIFICATE_LIST))]
MayCertificateRevoke = Annotated[Principal, Depends(role_may(Action.CERTIFICATE_REVOKE))]
MayListingSet = Annotated[Principal, Depends(role_may(Action.LISTING_SET))]
MaySubmissionReview = Annotated[Principal, Depends(role_may(Action.SUBMISSION_REVIEW))]
MayWaiverDecide = Annotated[Principal, Depends(role_may(Action.WAIVER_DECIDE))]
MayWaiverExport = Annotated[Principal, Depends(role_may(Action.WAIVER_EXPORT))]
MayWaiverList = Annotated[Principal, Depends(role_may(Action.WAIVER_LIST))]
MayWaiverRequest = Annotated[Principal, Depends(role_may(Action.WAIVER_REQUEST))]
OFFICER_MOVES = {State.IN_REVIEW, State.RETEST_REQUESTED, State.REJECTED, State.APPROVED}


@router.post(
    "/submissions/{submission_id}/state",
    name=route_name("api.submission_state", Action.SUBMISSION_REVIEW, submission_id="submission"),
    response_model=cs.StateOut,
    responses=CHANGES,
)
def move_submission(
    request: Request, principal: MaySubmissionReview, submission_id: ObjectId, body: cs.StateBody
) -> cs.StateOut:
    """An officer moves a submission: in_review, retest_requested (a reason), rejected (reasons per
    requirement) or approved. Certification, revocation and expiry have routes of their own."""
    check(principal, Action.SUBMISSION_REVIEW)
    try:
        target = State(body.state)
    except ValueError:
        raise Invalid(f"state: one of {', '.join(s.value for s in OFFICER_MOVES)}") from None
    if target not in OFFICER_MOVES:
        raise Invalid(f"state: one of {', '.join(sorted(s.value for s in OFFICER_MOVES))}")
    platform = platform_of(request)
    change = lifecycle.change_state(
        platform.db,
        principal_actor(request, principal),
        principal,
        submission_id,
        target,
        body.reason,
        findings=[FindingIn(f.requirement, f.reason) for f in body.findings],
        now=platform.now(),
    )
    return cs.StateOut(
        submission_id=change.submission_id, before=change.before, after=change.after, at=change.at
    )


@router.get(
    "/submissions/{submission_id}/assessment",
    name=route_name("api.submission_assessment", Action.SUBMISSION_READ, submission_id="submission"),
    response_model=cs.AssessmentOut,
    responses=REFUSALS,
)
def assessment(request: Request, principal: PrincipalDep, submission_id: ObjectId) -> cs.AssessmentOut:
    """The verdict the platform computes now: the bundle's statuses with the vendor's approved waivers
    applied (and each waiver's fate: applied, expired or out of scope)."""
    platform = platform_of(request)
    with platform.db.read() as db:
        sub = get_submission(db, principal, submission_id, Action.SUBMISSION_READ)
        result = assess_submission(sub, waiver_service.approved_for(db, sub.vendor_org_id), platform.now())
        return cs.AssessmentOut.of(sub.id, sub.state, result)


@router.post(
    "/submissions/{submission_id}/certificate",
    name=route_name("api.submission_certify", Action.CERTIFICATE_ISSUE, submission_id="submission"),
    status_code=201,
    response_model=cs.SignedDocument,
    responses=CHANGES,
)
def certify(
    request: Request, principal: MayCertificateIssue, submission_id: ObjectId, body: cs.CertifyBody
) -> Response:
    """Issue the platform-signed certificate of an approved submission whose every device is
    CERTIFIED with the waivers applied; the submission becomes certified."""
    platform = platform_of(request)
    cert = certificates.certify(
        platform.db,
        platform.signer,
        principal_actor(request, principal),
        principal,
        submission_id,
        body.days,
        platform.now(),
        platform.config.base_url,
    )
    return JSONResponse(certificates.envelope_of(cert).to_dict(), status_code=201)


@router.get(
    "/certificates",
    name=route_name("api.certificates", Action.CERTIFICATE_LIST),
    response_model=list[cs.CertificateOut],
    responses=REFUSALS,
)
def list_certificates(request: Request, principal: MayCertificateList) -> list[cs.CertificateOut]:
    platform = platform_of(request)
    at = platform.now()
    with platform.db.read() as db:
        return [
            cs.CertificateOut.of(c, certificates.status_of(c, at))
            for c in certificates.listing(db, principal)
        ]


@router.post(
    "/certificates/{certificate_id}/revocation",
    name=route_name("api.certificate_revoke", Action.CERTIFICATE_REVOKE, certificate_id="certificate"),
    response_model=cs.CertificateOut,
    responses=CHANGES,
)
def revoke(
    request: Request, principal: MayCertificateRevoke, certificate_id: ObjectId, body: cs.RevokeBody
) -> cs.CertificateOut:
    """Revoke a certificate (its submission becomes revoked); the revocation list names it at once."""
    platform = platform_of(request)
    certificates.revoke(
        platform.db,
        principal_actor(request, principal),
        principal,
        certificate_id,
        body.reason,
        platform.now(),
    )
    with platform.db.read() as db:
        cert = certificates.get(db, principal, certificate_id, Action.CERTIFICATE_LIST)
        return cs.CertificateOut.of(cert, certificates.status_of(cert, platform.now()))


@router.post(
    "/products/{product_id}/derived-certificate",
    name=route_name("api.product_derive", Action.CERTIFICATE_DERIVE, product_id="product"),
    status_code=201,
    response_model=cs.SignedDocument,
    responses=CHANGES,
)
def derive(
    request: Request, principal: MayCertificateDerive, product_id: ObjectId, body: cs.DeriveBody
) -> Response:
    """Certify a product from a certified one when every inheritance rule holds (409 naming the
    rules that do not)."""
    platform = platform_of(request)
    cert, _ = certificates.derive(
        platform.db,
        platform.signer,
        principal_actor(request, principal),
        principal,
        product_id,
        body.source,
        body.os_name,
        body.os_version,
        platform.now(),
        platform.config.base_url,
    )
    return JSONResponse(certificates.envelope_of(cert).to_dict(), status_code=201)


@router.put(
    "/products/{product_id}/listing",
    name=route_name("api.product_listing", Action.LISTING_SET, product_id="product"),
    response_model=cs.ListingOut,
    responses=CHANGES,
)
def set_listing(
    request: Request, principal: MayListingSet, product_id: ObjectId, body: cs.ListingBody
) -> cs.ListingOut:
    """The vendor's opt-in (or out) of the public list of certified products."""
    platform = platform_of(request)
    with platform.db.write() as db:
        listed = public_list.set_listing(
            db, principal, principal_actor(request, principal), product_id, body.listed, platform.now()
        )
    return cs.ListingOut(product_id=product_id, listed=listed)


@router.get(
    "/waivers",
    name=route_name("api.waivers", Action.WAIVER_LIST),
    response_model=list[cs.WaiverOut],
    responses=REFUSALS,
)
def list_waivers(request: Request, principal: MayWaiverList) -> list[cs.WaiverOut]:
    with platform_of(request).db.read() as db:
        return [cs.WaiverOut.of(w) for w in waiver_service.listing(db, principal)]


@router.post(
    "/waivers",
    name=route_name("api.waiver_request", Action.WAIVER_REQUEST),
    status_code=201,
    response_model=cs.WaiverOut,
    responses=CHANGES,
)
def request_waiver(request: Request, principal: MayWaiverRequest, body: cs.WaiverBody) -> cs.WaiverOut:
    """A vendor asks for a waiver of one requirement, optionally for one model, SoC, profile, OS version."""
    platform = platform_of(request)
    req = waiver_service.WaiverRequest(
        body.requirement, body.reason, body.model, body.soc, body.profile, body.os_version, body.days
    )
    with platform.db.write() as db:
        row = waiver_service.request(db, principal, principal_actor(request, principal), req, platform.now())
        wid = row.id
    with platform.db.read() as db:
        return cs.WaiverOut.of(waiver_service.get(db, principal, wid, Action.WAIVER_LIST))


@router.post(
    "/waivers/{waiver_id}/decision",
    name=route_name("api.waiver_decide", Action.WAIVER_DECIDE, waiver_id="waiver"),
    response_model=cs.WaiverOut,
    responses=CHANGES,
)
def decide_waiver(
    request: Request, principal: MayWaiverDecide, waiver_id: ObjectId, body: cs.DecisionBody
) -> cs.WaiverOut:
    """An officer approves a requested waiver with an expiry, or refuses it."""
    platform = platform_of(request)
    if body.expires is not None and body.expires.tzinfo is None:
        raise Invalid("expires: give a time zone (e.g. 2027-06-30T00:00:00Z)")
    expires = body.expires.astimezone(dt.UTC) if body.expires else None
    with platform.db.write() as db:
        waiver_service.decide(
            db,
            principal,
            principal_actor(request, principal),
            waiver_id,
            body.approve,
            expires,
            body.note,
            platform.now(),
        )
    with platform.db.read() as db:
        return cs.WaiverOut.of(waiver_service.get(db, principal, waiver_id, Action.WAIVER_LIST))


@router.get(
    "/waivers/export",
    name=route_name("api.waiver_export", Action.WAIVER_EXPORT),
    response_model=cs.SignedDocument,
    responses=REFUSALS,
)
def export_waivers(
    request: Request,
    principal: MayWaiverExport,
    vendor: Annotated[str, Query(min_length=1, max_length=64, description="vendor slug")],
) -> Response:
    """The vendor's approved waivers, signed with the platform key, for `harness run --waivers FILE`."""
    platform = platform_of(request)
    with platform.db.read() as db:
        envelope = waiver_service.export(db, principal, vendor, platform.signer, platform.now())
    return JSONResponse(
        envelope.to_dict(),
        headers={"Content-Disposition": f'attachment; filename="waivers-{_safe(vendor)}.json"'},
    )


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:64]


@router.get(
    "/audit",
    name=route_name("api.audit", Action.AUDIT_READ),
    response_model=list[cs.AuditOut],
    responses=REFUSALS,
)
def audit_entries(
    request: Request,
    principal: MayAuditRead,
    before: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="entries numbered below this")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[cs.AuditOut]:
    """The audit trail, newest first (officers and admins)."""
    check(principal, Action.AUDIT_READ)
    with platform_of(request).db.read() as db:
        return [cs.AuditOut.of(e) for e in audit.page(db, before, limit)]


@router.get(
    "/audit/verification",
    name=route_name("api.audit_verify", Action.AUDIT_READ),
    response_model=cs.AuditVerified,
    responses=REFUSALS,
)
def audit_verify(request: Request, principal: MayAuditRead) -> cs.AuditVerified:
    """The chain checked now: every entry's hash, its link to the one before, the head."""
    check(principal, Action.AUDIT_READ)
    with platform_of(request).db.read() as db:
        result = audit.verify(db)
    return cs.AuditVerified(ok=result.ok, entries=result.entries, problems=[str(p) for p in result.problems])


@router.get(
    "/audit/export",
    name=route_name("api.audit_export", Action.AUDIT_READ),
    response_class=Response,
    responses={**REFUSALS, 200: {"content": {"application/x-ndjson": {}}, "description": "JSON Lines"}},
)
def audit_export(request: Request, principal: MayAuditRead) -> Response:
    """The whole trail as JSON Lines (a header with the head, then every entry), for
    `harness platform audit verify --export FILE`."""
    check(principal, Action.AUDIT_READ)
    platform = platform_of(request)

    def lines() -> Any:
        with platform.db.read() as db:
            yield from audit.export_lines(db)

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )
