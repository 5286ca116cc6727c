"""What every API route shares: the prefix, bearer-token principals, unknown query parameters refused,
the documented refusals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ..auth.policy import Principal
from ..services import catalogue
from ..services.errors import LoginRequired
from ..web.access import bearer_principal
from . import schemas

PREFIX = "/api/v1"


def known_query_only(request: Request) -> None:
    """A query parameter the operation does not take is an error, not silently ignored: a CI script's
    `?vendr=acme` must not quietly list every submission."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = {p.alias for p in dependant.query_params}
    for dep in dependant.dependencies:
        known |= {p.alias for p in dep.query_params}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise UnknownQuery(unknown[0][:80], sorted(known))


class UnknownQuery(Exception):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"query parameter {name!r} is not one this operation takes"
            + (f" ({', '.join(known)})" if known else "")
        )


REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.Problem, "description": "no token, or one that is unknown, expired or revoked"},
    403: {"model": schemas.Problem, "description": "the token's role may never do this"},
    404: {"model": schemas.Problem, "description": "no such object, or not one the token may see"},
}


def principal_required(request: Request) -> Principal:
    principal = bearer_principal(request)
    if principal is None:
        raise LoginRequired("no token: send 'Authorization: Bearer <token>'")
    return principal


PrincipalDep = Annotated[Principal, Depends(principal_required)]
PageDep = Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")]
PerPageDep = Annotated[int, Query(ge=1, le=catalogue.MAX_PER_PAGE, description="items per page")]


def api_router() -> APIRouter:
    return APIRouter(prefix=PREFIX, dependencies=[Depends(known_query_only)])
