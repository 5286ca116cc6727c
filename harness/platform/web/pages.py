"""The HTML pages. Every page needs a live session (else: the login page); every form that changes
something carries the session's CSRF token; objects outside the viewer's reach are 'not found'."""

from __future__ import annotations

import datetime as dt
import zipfile
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from ...errors import ConfigError
from ..auth import logins, sessions
from ..auth.apitokens import revoke
from ..auth.policy import Action
from ..auth.tokens import new_secret, same
from ..db.models import Organisation
from ..db.types import utcnow
from ..results_doc import VERDICT_ORDER
from ..services import accounts, catalogue
from ..services.catalogue import PageRequest, SubmissionFilter
from ..services.errors import Forbidden, LoginRequired
from . import render, views
from .access import (
    ObjectId,
    Viewer,
    client_ip,
    cookie_options,
    lang_of,
    page_viewer,
    platform_of,
    route_name,
)
from .i18n import plain

router = APIRouter()
REPORT_CSP = (
    "sandbox allow-scripts; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)
MAX_REPORT = 256 << 20


def viewer_required(request: Request) -> Viewer:
    viewer = page_viewer(request)
    if viewer is None:
        raise LoginRequired()
    return viewer


ViewerDep = Annotated[Viewer, Depends(viewer_required)]


def check_csrf(request: Request, viewer: Viewer, token: str) -> None:
    """A state-changing form must carry the session's token and, when the browser says where it comes
    from, come from this site."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        if urlsplit(origin).netloc != request.headers.get("host", ""):
            raise Forbidden()
    elif origin == "null":
        raise Forbidden()
    if not token or not same(token, viewer.csrf):
        raise Forbidden()


def _safe_next(target: str) -> str:
    """Only a path on this site: never an absolute URL or a scheme-relative one (open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/submissions"


@router.get("/", name=route_name("page.home", None))
def home() -> RedirectResponse:
    return RedirectResponse("/submissions", status_code=303)


@router.get("/login", name=route_name("page.login", None))
def login_page(request: Request, next: str = "/submissions") -> Response:
    platform = platform_of(request)
    csrf = request.cookies.get(sessions.LOGIN_CSRF_COOKIE) or new_secret()
    response = render.page(
        "login.html.j2",
        lang=lang_of(request),
        viewer=None,
        csrf=csrf,
        next=_safe_next(next),
        error="",
        username="",
    )
    response.set_cookie(
        sessions.LOGIN_CSRF_COOKIE, csrf, **cookie_options(request, platform.config.secure_cookies, 3600)
    )
    return response


@router.post("/login", name=route_name("page.login_submit", None))
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/submissions",
) -> Response:
    platform = platform_of(request)
    lang = lang_of(request)
    cookie_csrf = request.cookies.get(sessions.LOGIN_CSRF_COOKIE, "")

    def again(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
        fresh = new_secret()
        response = render.page(
            "login.html.j2",
            status,
            lang=lang,
            viewer=None,
            csrf=fresh,
            next=_safe_next(next),
            error=error,
            username=username[:64],
        )
        response.set_cookie(
            sessions.LOGIN_CSRF_COOKIE, fresh, **cookie_options(request, platform.config.secure_cookies, 3600)
        )
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    if not cookie_csrf or not csrf_token or not same(cookie_csrf, csrf_token):
        return again(plain("bad_form", lang), 403)
    now = utcnow()
    with platform.db.write() as db:
        result = logins.check_password(
            db, username, password, client_ip(request), platform.config.throttle, now
        )
        if result.locked is not None:
            wait = result.locked.retry_after(now)
            message = plain("throttled", lang).format(s=wait)
            return again(message, 429, {"Retry-After": str(wait)})
        if result.user is None:
            return again(plain("bad_login", lang), 401)
        started = sessions.start(db, result.user, platform.config.sessions, now)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        sessions.COOKIE,
        started.cookie,
        **cookie_options(request, platform.config.secure_cookies, platform.config.sessions.lifetime_s),
    )
    response.delete_cookie(sessions.LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", name=route_name("page.logout", Action.LOGOUT))
def logout(
    request: Request, viewer: ViewerDep, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    check_csrf(request, viewer, csrf_token)
    platform = platform_of(request)
    with platform.db.write() as db:
        sessions.end_by_id(db, viewer.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


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


def _tokens_page(request: Request, viewer: Viewer, status: int = 200, **extra: Any) -> Response:
    with platform_of(request).db.read() as db:
        tokens = catalogue.list_tokens(db, viewer.principal)
        context = {"new_secret": "", "error": "", **extra}
        return render.page(
            "tokens.html.j2",
            status,
            lang=lang_of(request),
            viewer=viewer,
            tokens=tokens,
            now=utcnow(),
            **context,
        )


@router.get("/tokens", name=route_name("page.tokens", Action.TOKEN_LIST))
def tokens_page(request: Request, viewer: ViewerDep) -> Response:
    return _tokens_page(request, viewer)


@router.post("/tokens", name=route_name("page.token_create", Action.TOKEN_CREATE))
def token_create(
    request: Request,
    viewer: ViewerDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[int, Form(ge=1, le=366)] = 90,
) -> Response:
    """A token for the viewer's own organisation and role (never more than the viewer has)."""
    check_csrf(request, viewer, csrf_token)
    catalogue.check(viewer.principal, Action.TOKEN_CREATE)
    platform = platform_of(request)
    try:
        with platform.db.write() as db:
            user = accounts.user_by_name(db, viewer.user.username)
            made = accounts.issue_token(db, user.org, user.role, name, dt.timedelta(days=days), user=user)
    except ConfigError as exc:
        return _tokens_page(request, viewer, 422, error=str(exc))
    return _tokens_page(request, viewer, 201, new_secret=made.secret)


@router.post(
    "/tokens/{token_id}/revoke", name=route_name("page.token_revoke", Action.TOKEN_REVOKE, token_id="token")
)
def token_revoke(
    request: Request,
    viewer: ViewerDep,
    token_id: ObjectId,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, viewer, csrf_token)
    with platform_of(request).db.write() as db:
        row = catalogue.get_token(db, viewer.principal, token_id, Action.TOKEN_REVOKE)
        revoke(row)
    return RedirectResponse("/tokens", status_code=303)
