"""Which rule guards each route, and who is asking.

Every route is declared with `route_name(name, action, **objects)`: its name, the policy action it
performs (None: public) and, for each path parameter naming an object, the kind of object. The app
refuses to start with a route that has no declaration, and the authorisation matrix test is
generated from these declarations and the app's route table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi import routing as fastapi_routing
from starlette.routing import BaseRoute

from ..auth import apitokens, sessions
from ..auth.policy import Action, Principal, Role
from ..db.models import User
from ..db.types import utcnow
from ..runtime import Platform
from ..services.errors import LoginRequired

LANG_COOKIE = "harness_lang"
MAX_ID = 2**31 - 1  # ids are 32-bit integers in both databases
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="the object's id")]


@dataclass(frozen=True)
class Access:
    name: str
    action: Action | None  # None: public, no login needed
    objects: dict[str, str] = field(default_factory=dict)  # path parameter -> object kind


ACCESS: dict[str, Access] = {}


def route_name(name: str, action: Action | None, **objects: str) -> str:
    """Declare a route's rule; returns the name to give the route."""
    if name in ACCESS and ACCESS[name] != Access(name, action, objects):
        raise ValueError(f"route {name!r} declared twice with different rules")
    ACCESS[name] = Access(name, action, objects)
    return name


@dataclass(frozen=True)
class RouteEntry:
    path: str
    name: str
    methods: frozenset[str]  # empty for a mount
    route: Any  # what the framework routes with (for the OpenAPI generator)


def flat_routes(routes: list[BaseRoute]) -> list[RouteEntry]:
    """Every route of the app, routers included (FastAPI >= 0.16x nests included routers)."""
    iterate = getattr(fastapi_routing, "iter_route_contexts", None)
    contexts: list[Any] = list(iterate(routes)) if iterate else list(routes)
    return [
        RouteEntry(
            path=str(getattr(c, "path", "") or ""),
            name=str(getattr(c, "name", "") or ""),
            methods=frozenset(getattr(c, "methods", None) or ()),
            route=c,
        )
        for c in contexts
    ]


def undeclared(routes: list[BaseRoute]) -> list[str]:
    """Routes (by path) that carry no declaration: a route added without a rule."""
    return [f"{r.path} ({r.name})" for r in flat_routes(routes) if r.name not in ACCESS]


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


@dataclass(frozen=True)
class Viewer:
    """The logged-in person behind a page request."""

    principal: Principal
    user: User
    org_name: str
    session_id: str
    csrf: str
    jobs: bool = False  # the platform shows the lab's job queue (its link in the menu)


def bearer_principal(request: Request) -> Principal | None:
    """The principal of an API request's bearer token; None when it sends none."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise LoginRequired("send the token as 'Authorization: Bearer <token>'")
    platform = platform_of(request)
    now = utcnow()
    with platform.db.read() as db:
        try:
            principal = apitokens.authenticate(db, secret.strip(), now)
        except apitokens.TokenRefused as exc:
            raise LoginRequired(str(exc)) from None
        due = principal.token_id is not None and apitokens.touch_due(db, principal.token_id, now)
    if due and principal.token_id is not None:
        with platform.db.write() as db:
            apitokens.touch(db, principal.token_id, now)
    return principal


def page_viewer(request: Request) -> Viewer | None:
    """The viewer of a page request's session cookie; None when there is no live session."""
    cookie = request.cookies.get(sessions.COOKIE)
    if not cookie:
        return None
    platform = platform_of(request)
    now = utcnow()
    with platform.db.read() as db:
        row = sessions.lookup(db, cookie)
        if row is None:
            return None
        state = sessions.state_of(row, platform.config.sessions, now)
        user = row.user
        viewer = Viewer(
            principal=Principal(role=Role(user.role), org_id=user.org_id, user_id=user.id),
            user=user,
            org_name=user.org.name,
            session_id=row.id,
            csrf=row.csrf_token,
            jobs=bool(platform.config.jobs_db),
        )
    if state is sessions.SessionState.ENDED:
        with platform.db.write() as db:
            sessions.end_by_id(db, viewer.session_id)
        return None
    if state is sessions.SessionState.LIVE_TOUCH:
        with platform.db.write() as db:
            sessions.touch(db, viewer.session_id, now)
    return viewer


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "")
    return lang if lang in ("zh", "en") else "zh"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def secure_request(request: Request, setting: str) -> bool:
    if setting == "always":
        return True
    if setting == "never":
        return False
    return request.url.scheme == "https"


def cookie_options(request: Request, setting: str, max_age: int | None = None) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": secure_request(request, setting),
        "path": "/",
        "max_age": max_age,
    }


def expires_text(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else ""
