"""The certification pages for logged-in users: a submission's review (state, history, findings,
the verdict with waivers applied, the officer's forms), waivers, certificates, a product's
certification (listing opt-in, derived certification), the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from ..auth.policy import Action, Role
from ..db.cert_models import Certificate
from ..db.models import Organisation, OrgKind
from ..services import audit, certificates, lifecycle, public_list, waiver_service
from ..services.assessment import assess_submission
from ..services.catalogue import check, get_submission, list_orgs
from ..services.errors import Invalid
from ..services.lifecycle import FindingIn, State
from . import render
from .access import ObjectId, Viewer, lang_of, platform_of, route_name
from .actors import viewer_actor
from .guards import ViewerDep, check_csrf

router = APIRouter()
Text = Annotated[str, Form(max_length=4000)]
Csrf = Annotated[str, Form(max_length=200)]
OFFICER_MOVES = (State.IN_REVIEW, State.RETEST_REQUESTED, State.REJECTED, State.APPROVED)


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def parse_findings(text: str) -> list[FindingIn]:
    """One finding a line, "REQ-ID: reason"; blank lines are skipped."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        rid, sep, reason = line.partition(":")
        if not sep or not rid.strip() or not reason.strip():
            raise Invalid(f"findings, line {n}: write 'REQUIREMENT-ID: reason'")
        found.append(FindingIn(rid.strip(), reason.strip()))
    return found


@router.get(
    "/submissions/{submission_id}/review",
    name=route_name("page.submission_review", Action.SUBMISSION_READ, submission_id="submission"),
)
def review_page(request: Request, viewer: ViewerDep, submission_id: ObjectId) -> Response:
    platform = platform_of(request)
    now = platform.now()
    with platform.db.read() as db:
        sub = get_submission(db, viewer.principal, submission_id, Action.SUBMISSION_READ)
        waivers = waiver_service.approved_for(db, sub.vendor_org_id)
        officer = viewer.principal.role is Role.OFFICER
        history = (
            audit.entries_for(db, "submission", str(sub.id))
            if viewer.principal.role in (Role.OFFICER, Role.ADMIN)
            else []
        )
        certs = certificates.for_submission(db, sub.id)
        return render.page(
            "review.html.j2",
            lang=lang_of(request),
            viewer=viewer,
            s=sub,
            assessment=assess_submission(sub, waivers, now),
            findings=lifecycle.findings_of(db, sub.id),
            answers=lifecycle.answers_to(db, sub.id),
            history=history,
            certs=[(c, certificates.status_of(c, now)) for c in certs],
            moves=[m for m in OFFICER_MOVES if lifecycle.allowed(State(sub.state), m)] if officer else [],
            can_certify=officer and lifecycle.allowed(State(sub.state), State.CERTIFIED),
        )


@router.post(
    "/submissions/{submission_id}/state",
    name=route_name("page.submission_state", Action.SUBMISSION_REVIEW, submission_id="submission"),
)
def change_state(
    request: Request,
    viewer: ViewerDep,
    submission_id: ObjectId,
    csrf_token: Csrf = "",
    state: Annotated[str, Form(max_length=32)] = "",
    reason: Text = "",
    findings: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    check_csrf(request, viewer, csrf_token)
    check(viewer.principal, Action.SUBMISSION_REVIEW)
    try:
        target = State(state)
    except ValueError:
        raise Invalid(f"state: one of {', '.join(m.value for m in OFFICER_MOVES)}") from None
    if target not in OFFICER_MOVES:
        raise Invalid(f"state: one of {', '.join(m.value for m in OFFICER_MOVES)}")
    platform = platform_of(request)
    lifecycle.change_state(
        platform.db,
        viewer_actor(request, viewer),
        viewer.principal,
        submission_id,
        target,
        reason,
        findings=parse_findings(findings),
        now=platform.now(),
    )
    return _back(f"/submissions/{submission_id}/review")


@router.post(
    "/submissions/{submission_id}/certify",
    name=route_name("page.submission_certify", Action.CERTIFICATE_ISSUE, submission_id="submission"),
)
def certify(
    request: Request,
    viewer: ViewerDep,
    submission_id: ObjectId,
    csrf_token: Csrf = "",
    days: Annotated[int, Form(ge=1, le=certificates.MAX_DAYS)] = certificates.DEFAULT_DAYS,
) -> Response:
    check_csrf(request, viewer, csrf_token)
    platform = platform_of(request)
    cert = certificates.certify(
        platform.db,
        platform.signer,
        viewer_actor(request, viewer),
        viewer.principal,
        submission_id,
        days,
        platform.now(),
        platform.config.base_url,
    )
    return _back(f"/public/certificates/{cert.cert_id}")


def _vendor_orgs(viewer: Viewer, orgs: list[Organisation]) -> list[Organisation]:
    return [o for o in orgs if o.kind == OrgKind.VENDOR]


@router.get("/waivers", name=route_name("page.waivers", Action.WAIVER_LIST))
def waivers_page(request: Request, viewer: ViewerDep) -> Response:
    platform = platform_of(request)
    with platform.db.read() as db:
        rows = waiver_service.listing(db, viewer.principal)
        vendors = _vendor_orgs(viewer, list(list_orgs(db, viewer.principal)))
        return render.page(
            "waivers.html.j2",
            lang=lang_of(request),
            viewer=viewer,
            waivers=rows,
            vendors=vendors,
            now=platform.now(),
            waiver_id=waiver_service.waiver_id,
            can_request=viewer.principal.role is Role.VENDOR,
            can_decide=viewer.principal.role is Role.OFFICER,
            default_expiry=(platform.now() + dt.timedelta(days=90)).date().isoformat(),
        )


@router.post("/waivers", name=route_name("page.waiver_request", Action.WAIVER_REQUEST))
def request_waiver(
    request: Request,
    viewer: ViewerDep,
    csrf_token: Csrf = "",
    requirement: Annotated[str, Form(max_length=200)] = "",
    reason: Text = "",
    model: Annotated[str, Form(max_length=200)] = "",
    soc: Annotated[str, Form(max_length=200)] = "",
    profile: Annotated[str, Form(max_length=64)] = "",
    os_version: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[int, Form(ge=1, le=waiver_service.MAX_DAYS)] = 90,
) -> Response:
    check_csrf(request, viewer, csrf_token)
    platform = platform_of(request)
    with platform.db.write() as db:
        waiver_service.request(
            db,
            viewer.principal,
            viewer_actor(request, viewer),
            waiver_service.WaiverRequest(requirement, reason, model, soc, profile, os_version, days),
            platform.now(),
        )
    return _back("/waivers")


@router.post(
    "/waivers/{waiver_id}/decision",
    name=route_name("page.waiver_decide", Action.WAIVER_DECIDE, waiver_id="waiver"),
)
def decide_waiver(
    request: Request,
    viewer: ViewerDep,
    waiver_id: ObjectId,
    csrf_token: Csrf = "",
    decision: Annotated[str, Form(max_length=16)] = "",
    expires: Annotated[str, Form(max_length=32)] = "",
    note: Text = "",
) -> Response:
    check_csrf(request, viewer, csrf_token)
    check(viewer.principal, Action.WAIVER_DECIDE)
    if decision not in ("approve", "refuse"):
        raise Invalid("decision: approve or refuse")
    until = None
    if expires:
        try:
            until = dt.datetime.combine(dt.date.fromisoformat(expires), dt.time(), dt.UTC)
        except ValueError:
            raise Invalid(f"expires: {expires[:32]!r} is not a date (YYYY-MM-DD)") from None
    platform = platform_of(request)
    with platform.db.write() as db:
        waiver_service.decide(
            db,
            viewer.principal,
            viewer_actor(request, viewer),
            waiver_id,
            decision == "approve",
            until,
            note,
            platform.now(),
        )
    return _back("/waivers")


@router.get("/waivers/export", name=route_name("page.waiver_export", Action.WAIVER_EXPORT))
def export_waivers(
    request: Request, viewer: ViewerDep, vendor: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    check(viewer.principal, Action.WAIVER_EXPORT)
    platform = platform_of(request)
    with platform.db.read() as db:
        if not vendor:
            own = db.get(Organisation, viewer.principal.org_id)
            if own is None or own.kind != OrgKind.VENDOR:
                raise Invalid("vendor: name the vendor whose waivers to export (?vendor=SLUG)")
            vendor = own.slug
        envelope = waiver_service.export(db, viewer.principal, vendor, platform.signer, platform.now())
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in vendor)[:64]
    return Response(
        envelope.text(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="waivers-{safe}.json"'},
    )


@router.get("/certificates", name=route_name("page.certificates", Action.CERTIFICATE_LIST))
def certificates_page(request: Request, viewer: ViewerDep) -> Response:
    platform = platform_of(request)
    now = platform.now()
    with platform.db.read() as db:
        rows = certificates.listing(db, viewer.principal)
        return render.page(
            "certificates.html.j2",
            lang=lang_of(request),
            viewer=viewer,
            certs=[(c, certificates.status_of(c, now)) for c in rows],
            can_revoke=viewer.principal.role is Role.OFFICER,
        )


@router.post(
    "/certificates/{certificate_id}/revoke",
    name=route_name("page.certificate_revoke", Action.CERTIFICATE_REVOKE, certificate_id="certificate"),
)
def revoke(
    request: Request, viewer: ViewerDep, certificate_id: ObjectId, csrf_token: Csrf = "", reason: Text = ""
) -> Response:
    check_csrf(request, viewer, csrf_token)
    platform = platform_of(request)
    cert = certificates.revoke(
        platform.db, viewer_actor(request, viewer), viewer.principal, certificate_id, reason, platform.now()
    )
    return _back(f"/public/certificates/{cert.cert_id}")


@router.get(
    "/products/{product_id}/certification",
    name=route_name("page.product_certification", Action.PRODUCT_READ, product_id="product"),
)
def product_certification(request: Request, viewer: ViewerDep, product_id: ObjectId) -> Response:
    from ..services.catalogue import PageRequest, get_product

    platform = platform_of(request)
    now = platform.now()
    with platform.db.read() as db:
        view = get_product(db, viewer.principal, product_id, PageRequest(1, 1))
        rows = (
            db.query(Certificate).filter(Certificate.product_id == product_id).order_by(Certificate.id).all()
        )
        return render.page(
            "product_certification.html.j2",
            lang=lang_of(request),
            viewer=viewer,
            p=view.product,
            certs=[(c, certificates.status_of(c, now)) for c in rows],
            listed=public_list.is_listed(db, product_id),
            can_list=viewer.principal.role in (Role.VENDOR, Role.ADMIN)
            and (
                viewer.principal.role is Role.ADMIN or viewer.principal.org_id == view.product.vendor_org_id
            ),
            can_derive=viewer.principal.role is Role.OFFICER,
        )


@router.post(
    "/products/{product_id}/listing",
    name=route_name("page.product_listing", Action.LISTING_SET, product_id="product"),
)
def set_listing(
    request: Request,
    viewer: ViewerDep,
    product_id: ObjectId,
    csrf_token: Csrf = "",
    listed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    check_csrf(request, viewer, csrf_token)
    platform = platform_of(request)
    with platform.db.write() as db:
        public_list.set_listing(
            db, viewer.principal, viewer_actor(request, viewer), product_id, listed == "1", platform.now()
        )
    return _back(f"/products/{product_id}/certification")


@router.post(
    "/products/{product_id}/derive",
    name=route_name("page.product_derive", Action.CERTIFICATE_DERIVE, product_id="product"),
)
def derive(
    request: Request,
    viewer: ViewerDep,
    product_id: ObjectId,
    csrf_token: Csrf = "",
    source: Annotated[str, Form(max_length=40)] = "",
    os_name: Annotated[str, Form(max_length=200)] = "",
    os_version: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, viewer, csrf_token)
    platform = platform_of(request)
    cert, _ = certificates.derive(
        platform.db,
        platform.signer,
        viewer_actor(request, viewer),
        viewer.principal,
        product_id,
        source,
        os_name,
        os_version,
        platform.now(),
        platform.config.base_url,
    )
    return _back(f"/public/certificates/{cert.cert_id}")


@router.get("/audit", name=route_name("page.audit", Action.AUDIT_READ))
def audit_page(
    request: Request, viewer: ViewerDep, before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> Response:
    check(viewer.principal, Action.AUDIT_READ)
    platform = platform_of(request)
    with platform.db.read() as db:
        entries = audit.page(db, before, 100)
        return render.page(
            "audit.html.j2",
            lang=lang_of(request),
            viewer=viewer,
            entries=entries,
            older=entries[-1].seq if len(entries) == 100 else None,
        )


@router.get("/audit/export", name=route_name("page.audit_export", Action.AUDIT_READ))
def audit_export(request: Request, viewer: ViewerDep) -> Response:
    check(viewer.principal, Action.AUDIT_READ)
    platform = platform_of(request)

    def lines() -> Iterator[str]:
        with platform.db.read() as db:
            yield from audit.export_lines(db)

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )
