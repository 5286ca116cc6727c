"""Pages of one's own account: log in (throttled, with the login form's own CSRF token), log out, and
the API tokens page (a token shown once, made for the viewer's own organisation and role)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ...errors import ConfigError
from ..auth import logins, sessions
from ..auth.apitokens import revoke
from ..auth.policy import Action
from ..auth.tokens import new_secret, same
from ..db.types import utcnow
from ..services import accounts, catalogue
from . import render
from .access import ObjectId, Viewer, client_ip, cookie_options, lang_of, platform_of, route_name
from .guards import ViewerDep, check_csrf, safe_next
from .i18n import plain

router = APIRouter()


@router.get("/login", name=route_name("page.login", None))
def login_page(request: Request, next: str = "/submissions") -> Response:
    platform = platform_of(request)
    csrf = request.cookies.get(sessions.LOGIN_CSRF_COOKIE) or new_secret()
    response = render.page(
        "login.html.j2",
        lang=lang_of(request),
        viewer=None,
        csrf=csrf,
        next=safe_next(next),
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
            next=safe_next(next),
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
    response = RedirectResponse(safe_next(next), status_code=303)
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
