"""What every page request goes through: a live session, and for a form that changes something, the
session's CSRF token and a same-site origin."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from ..auth.tokens import same
from ..services.errors import Forbidden, LoginRequired
from .access import Viewer, page_viewer


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


def safe_next(target: str) -> str:
    """Only a path on this site: never an absolute URL or a scheme-relative one (open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/submissions"
