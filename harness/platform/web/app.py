"""The ASGI application: pages, the API, static files and the OpenAPI document, one authorisation.

`create_app(config)` is what tests and `harness platform serve` run; `app_from_environment` is the
factory uvicorn's workers call (the serve command passes the configuration in the environment)."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ... import __version__
from ..api import cert_routes as api_cert
from ..api import common as api_common
from ..api import compare_routes as api_compare
from ..api import job_routes as api_jobs
from ..api import notify_routes as api_notify
from ..api import publish as api_publish
from ..api import routes as api_routes
from ..config import PlatformConfig, make_config
from ..notify.worker import Notifier
from ..runtime import Platform
from ..services.errors import Conflict, Forbidden, Invalid, LoginRequired, NotVisible, Unavailable
from . import account_pages, cert_pages, compare_pages, job_pages, notify_pages, pages, public_pages, render
from .access import flat_routes, lang_of, page_viewer, route_name, undeclared
from .render import STATIC

OPENAPI_URL = "/api/v1/openapi.json"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Headers every response carries; pages get the platform's CSP unless they set their own
    (the sandboxed report does)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in names]
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(api_common.PREFIX)


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _is_api(request):
            return _problem(401, exc.reason, {"WWW-Authenticate": 'Bearer realm="harness-platform"'})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{render.query({'next': target})}", status_code=303)

    def _page_or_problem(request: Request, status: int, key: str, detail: str) -> Response:
        if _is_api(request):
            return _problem(status, detail)
        return render.page(
            "message.html.j2", status, lang=lang_of(request), viewer=page_viewer(request), key=key
        )

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _page_or_problem(request, 403, "forbidden", "your role may not do this")

    @app.exception_handler(NotVisible)
    async def not_visible(request: Request, exc: NotVisible) -> Response:
        return _page_or_problem(request, 404, "not_found", "not found")

    def _detail_page_or_problem(request: Request, status: int, key: str, detail: str) -> Response:
        if _is_api(request):
            return _problem(status, detail)
        return render.page("message.html.j2", status, lang=lang_of(request), viewer=page_viewer(request),
                           key=key, detail=detail)

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> Response:
        return _detail_page_or_problem(request, 409, "conflict", str(exc))

    @app.exception_handler(Invalid)
    async def invalid_request(request: Request, exc: Invalid) -> Response:
        return _detail_page_or_problem(request, 422, "bad_form", str(exc))

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> Response:
        if _is_api(request):
            return _problem(503, str(exc))
        return render.page("message.html.j2", 503, lang=lang_of(request), viewer=page_viewer(request),
                           key="queue_unavailable")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and not _is_api(request):
            return render.page("message.html.j2", 404, lang=lang_of(request), viewer=None, key="not_found")
        return _problem(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(api_common.UnknownQuery)
    async def unknown_query(request: Request, exc: api_common.UnknownQuery) -> Response:
        return _problem(422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        detail = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
        return _problem(422, detail)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title="Adaptation test platform API (适配测试平台)",
            version=__version__,
            description="Publish signed harness bundles; find, read and download submissions. "
            "Authenticate with 'Authorization: Bearer <token>'.",
            routes=[r.route for r in flat_routes(app.routes) if r.path.startswith(api_common.PREFIX)],
        )
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
        }
        schema["security"] = [{"bearer": []}]
        # Validation errors come back as a Problem (one line), not FastAPI's default shape.
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if "422" in responses:
                    responses["422"] = {
                        "description": responses["422"].get("description", "invalid request"),
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                    }
        schema["components"]["schemas"].pop("HTTPValidationError", None)
        schema["components"]["schemas"].pop("ValidationError", None)
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(config: PlatformConfig, platform: Platform | None = None) -> FastAPI:
    opened = platform or Platform.open(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened.store.sweep_partials()
        notifier = Notifier(opened).start()  # sends the state-change notifications of this process
        # What start-up made lives as long as the process: keep it out of the collector's way, so a
        # full collection during a request walks only what requests made (steadier tail latency).
        gc.collect()
        gc.freeze()
        yield
        notifier.stop()
        if platform is None:
            opened.close()

    app = FastAPI(
        title="harness platform", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.platform = opened
    app.include_router(account_pages.router)
    app.include_router(pages.router)
    app.include_router(api_publish.router)
    app.include_router(api_routes.router)
    app.include_router(notify_pages.router)
    app.include_router(api_notify.router)
    app.include_router(compare_pages.router)
    app.include_router(api_compare.router)
    app.include_router(cert_pages.router)
    app.include_router(public_pages.router)
    app.include_router(public_pages.api)
    app.include_router(api_cert.router)
    app.include_router(job_pages.router)
    app.include_router(api_jobs.router)
    app.mount("/static", StaticFiles(directory=STATIC), name=route_name("static", None))

    @app.get(OPENAPI_URL, name=route_name("api.openapi", None), include_in_schema=False)
    def openapi_document() -> JSONResponse:
        return JSONResponse(_openapi(app))

    @app.get("/healthz", name=route_name("healthz", None), include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    _install_errors(app)
    missing = undeclared(app.routes)
    if missing:
        raise RuntimeError(f"routes without an authorisation rule: {', '.join(missing)}")
    app.add_middleware(SecurityHeaders)
    return app


CONFIG_ENV = {
    "data": "HARNESS_PLATFORM_DATA",
    "db": "HARNESS_PLATFORM_DB",
    "secure": "HARNESS_PLATFORM_SECURE_COOKIES",
}


def app_from_environment() -> FastAPI:
    from dataclasses import replace

    config = make_config()
    secure = os.environ.get(CONFIG_ENV["secure"])
    if secure:
        config = replace(config, secure_cookies=secure)
    max_upload = os.environ.get("HARNESS_PLATFORM_MAX_UPLOAD")
    if max_upload:
        config = replace(config, limits=replace(config.limits, max_upload=int(max_upload)))
    return create_app(config)
