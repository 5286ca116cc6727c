"""Who the audit trail names for a request: the user's login and role, and where it came from."""

from __future__ import annotations

from fastapi import Request

from ..auth.policy import Principal
from ..db.models import ApiToken, User
from ..services.audit import Actor
from .access import Viewer, client_ip, platform_of


def viewer_actor(request: Request, viewer: Viewer) -> Actor:
    return Actor(viewer.user.username, viewer.principal.role.value, client_ip(request))


def principal_actor(request: Request, principal: Principal) -> Actor:
    """An API caller: its user's login, or for a token without a user the token's shown prefix."""
    with platform_of(request).db.read() as db:
        user = db.get(User, principal.user_id) if principal.user_id else None
        if user is not None:
            login = user.username
        else:
            token = db.get(ApiToken, principal.token_id) if principal.token_id else None
            login = f"token:{token.prefix}" if token else "token"
    return Actor(login, principal.role.value, f"{client_ip(request)} (api)")
