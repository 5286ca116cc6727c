"""The pages of what the platform holds: submissions, a submission, its bundle, key and report,
products, keys. Every page needs a live session (else: the login page); objects outside the viewer's
reach are 'not found'."""

from __future__ import annotations

import datetime as dt
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from ..auth.policy import Action
from ..db.models import Organisation
from ..results_doc import VERDICT_ORDER
from ..services import catalogue
from ..services.catalogue import PageRequest, SubmissionFilter
from . import render, views
from .access import (
    ObjectId,
    lang_of,
    platform_of,
    route_name,
)
from .guards import ViewerDep

router = APIRouter()
REPORT_CSP = (
    "sandbox allow-scripts; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)
MAX_REPORT = 256 << 20


@router.get("/", name=route_name("page.home", None))
def home() -> RedirectResponse:
    return RedirectResponse("/submissions", status_code=303)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/submissions", name=route_name("page.submissions", Action.SUBMISSION_LIST))
def submissions_page(
    request: Request,
    viewer: ViewerDep,
    vendor: Annotated[str, Query(max_length=64)] = "",
    lab: Annotated[str, Query(max_length=64)] = "",
    product: Annotated[str, Query(max_length=200)] = "",
    soc: Annotated[str, Query(max_length=200)] = "",
    os: Annotated[str, Query(max_length=200)] = "",
    os_version: Annotated[str, Query(max_length=200)] = "",
    verdict: Annotated[str, Query(max_length=32)] = "",
    date_from: Annotated[str, Query(max_length=10)] = "",
    date_to: Annotated[str, Query(max_length=10)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    platform = platform_of(request)
    params = {
        "vendor": vendor,
        "lab": lab,
        "product": product,
        "soc": soc,
        "os": os,
        "os_version": os_version,
        "verdict": verdict,
        "date_from": date_from if _date(date_from) else "",
        "date_to": date_to if _date(date_to) else "",
        "q": q,
    }
    filters = SubmissionFilter(
        vendor=vendor,
        lab=lab,
        product=product,
        soc=soc,
        os=os,
        os_version=os_version,
        verdict=verdict,
        date_from=_date(date_from),
        date_to=_date(date_to),
        q=q,
    )
    with platform.db.read() as db:
        result = catalogue.list_submissions(db, viewer.principal, filters, PageRequest(page))
        vendors, labs = catalogue.vendor_and_lab_choices(db, viewer.principal)
        return render.page(
            "submissions.html.j2",
            lang=lang_of(request),
            viewer=viewer,
            result=result,
            params=params,
            vendors=vendors,
            labs=labs,
            verdicts=list(reversed(VERDICT_ORDER)),
        )


@router.get(
    "/submissions/{submission_id}",
    name=route_name("page.submission", Action.SUBMISSION_READ, submission_id="submission"),
)
def submission_page(request: Request, viewer: ViewerDep, submission_id: ObjectId) -> Response:
    platform = platform_of(request)
    with platform.db.read() as db:
        sub = catalogue.get_submission(db, viewer.principal, submission_id, Action.SUBMISSION_READ)
        key_org = db.get(Organisation, sub.signing_key.org_id)
        return render.page(
            "submission.html.j2",
            lang=lang_of(request),
            viewer=viewer,
            s=sub,
            key_org=key_org.name if key_org else "",
            requirements=views.requirement_lines(sub),
            bilingual_title=views.bilingual_title,
            any_failures=any(d.failures for d in sub.devices),
            filename=views.bundle_filename(sub),
            key_filename=views.key_filename(sub),
            verify_command=views.verify_command(sub),
        )


def bundle_response(request: Request, sha256: str, filename: str) -> FileResponse:
    path = platform_of(request).store.path_of(sha256)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=filename,
        headers={"ETag": f'"{sha256}"', "X-Content-SHA256": sha256, "Cache-Control": "private, no-transform"},
    )


@router.get(
    "/submissions/{submission_id}/bundle",
    name=route_name("page.submission_bundle", Action.SUBMISSION_DOWNLOAD, submission_id="submission"),
)
def submission_bundle(request: Request, viewer: ViewerDep, submission_id: ObjectId) -> Response:
    with platform_of(request).db.read() as db:
        sub = catalogue.get_submission(db, viewer.principal, submission_id, Action.SUBMISSION_DOWNLOAD)
        return bundle_response(request, sub.sha256, views.bundle_filename(sub))


def key_response(sub: Any) -> Response:
    return Response(
        sub.signing_key.public_key + "\n",
        media_type="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{views.key_filename(sub)}"'},
    )


@router.get(
    "/submissions/{submission_id}/key",
    name=route_name("page.submission_key", Action.SUBMISSION_READ, submission_id="submission"),
)
def submission_key(request: Request, viewer: ViewerDep, submission_id: ObjectId) -> Response:
    with platform_of(request).db.read() as db:
        sub = catalogue.get_submission(db, viewer.principal, submission_id, Action.SUBMISSION_READ)
        return key_response(sub)


@router.get(
    "/submissions/{submission_id}/report",
    name=route_name("page.submission_report", Action.SUBMISSION_READ, submission_id="submission"),
)
def submission_report(request: Request, viewer: ViewerDep, submission_id: ObjectId) -> Response:
    """The bundle's own report.html, read from the stored zip, in a sandbox: its scripts run in an
    opaque origin that cannot reach the platform's cookies or pages."""
    platform = platform_of(request)
    with platform.db.read() as db:
        sub = catalogue.get_submission(db, viewer.principal, submission_id, Action.SUBMISSION_READ)
        sha256 = sub.sha256
    with zipfile.ZipFile(platform.store.path_of(sha256)) as zf:
        names = [n for n in zf.namelist() if n == "report.html" or n.endswith("/report.html")]
        if not names:
            return render.page("message.html.j2", 404, lang=lang_of(request), viewer=viewer, key="not_found")
        info = zf.getinfo(min(names, key=len))
        if info.file_size > MAX_REPORT:
            return render.page("message.html.j2", 404, lang=lang_of(request), viewer=viewer, key="not_found")
        body = zf.read(info)
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "private, no-store"},
    )


@router.get("/products", name=route_name("page.products", Action.PRODUCT_LIST))
def products_page(
    request: Request,
    viewer: ViewerDep,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    with platform_of(request).db.read() as db:
        result = catalogue.list_products(db, viewer.principal, "", q, PageRequest(page))
        return render.page(
            "products.html.j2", lang=lang_of(request), viewer=viewer, result=result, params={"q": q}
        )


@router.get(
    "/products/{product_id}", name=route_name("page.product", Action.PRODUCT_READ, product_id="product")
)
def product_page(
    request: Request,
    viewer: ViewerDep,
    product_id: ObjectId,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    with platform_of(request).db.read() as db:
        view = catalogue.get_product(db, viewer.principal, product_id, PageRequest(page))
        return render.page(
            "product.html.j2",
            lang=lang_of(request),
            viewer=viewer,
            p=view.product,
            result=view.submissions,
            params={},
        )


@router.get("/keys", name=route_name("page.keys", Action.KEY_LIST))
def keys_page(request: Request, viewer: ViewerDep) -> Response:
    with platform_of(request).db.read() as db:
        keys = catalogue.list_keys(db, viewer.principal)
        return render.page("keys.html.j2", lang=lang_of(request), viewer=viewer, keys=keys)
