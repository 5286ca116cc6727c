"""The JSON API under /api/v1: bearer tokens only (no cookies, so no cross-site request can use it)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from ..auth.apitokens import revoke
from ..auth.policy import Action, Principal
from ..db.models import ApiToken
from ..intake.refusal import Refused, Step
from ..services import catalogue, publishing
from ..services.catalogue import PageRequest, SubmissionFilter
from ..services.errors import LoginRequired
from ..web import pages
from ..web.access import ObjectId, bearer_principal, platform_of, route_name
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


router = APIRouter(prefix=PREFIX, dependencies=[Depends(known_query_only)])
UPLOAD_CHUNK = 1 << 20

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


def _page(items: list[Any], result: catalogue.Page[Any]) -> dict[str, Any]:
    return {
        "items": items,
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "pages": result.pages,
    }


@router.get(
    "/whoami",
    name=route_name("api.whoami", Action.ACCOUNT_READ),
    response_model=schemas.WhoAmI,
    responses=REFUSALS,
)
def whoami(request: Request, principal: PrincipalDep) -> schemas.WhoAmI:
    """The role and organisation of the token used."""
    catalogue.check(principal, Action.ACCOUNT_READ)
    with platform_of(request).db.read() as db:
        org = next(o for o in catalogue.list_orgs(db, principal) if o.id == principal.org_id)
        token = db.get(ApiToken, principal.token_id) if principal.token_id else None
        return schemas.WhoAmI(
            role=principal.role.value,
            organisation=schemas.OrgOut.of(org),
            token=token.prefix if token else None,
            token_expires_at=token.expires_at if token else None,
        )


@router.get(
    "/submissions",
    name=route_name("api.submissions", Action.SUBMISSION_LIST),
    response_model=schemas.SubmissionPage,
    responses=REFUSALS,
)
def list_submissions(
    request: Request,
    principal: PrincipalDep,
    vendor: Annotated[str, Query(max_length=64, description="vendor organisation slug")] = "",
    lab: Annotated[str, Query(max_length=64, description="publishing organisation slug")] = "",
    product: Annotated[str, Query(max_length=200, description="part of a product/model name")] = "",
    soc: Annotated[str, Query(max_length=200)] = "",
    os: Annotated[str, Query(max_length=200, description="part of an OS name")] = "",
    os_version: Annotated[str, Query(max_length=200)] = "",
    verdict: Annotated[str, Query(max_length=32, description="worst device verdict")] = "",
    date_from: Annotated[dt.date | None, Query(description="published on or after (UTC)")] = None,
    date_to: Annotated[dt.date | None, Query(description="published on or before (UTC)")] = None,
    q: Annotated[str, Query(max_length=200, description="words that must all appear")] = "",
    page: PageDep = 1,
    per_page: PerPageDep = catalogue.PER_PAGE,
) -> dict[str, Any]:
    """Submissions the token may see, newest first, filtered and paginated."""
    filters = SubmissionFilter(
        vendor=vendor,
        lab=lab,
        product=product,
        soc=soc,
        os=os,
        os_version=os_version,
        verdict=verdict,
        date_from=date_from,
        date_to=date_to,
        q=q,
    )
    with platform_of(request).db.read() as db:
        result = catalogue.list_submissions(db, principal, filters, PageRequest(page, per_page))
        return _page([schemas.SubmissionOut.of(s) for s in result.items], result)


@router.post(
    "/submissions",
    name=route_name("api.publish", Action.SUBMISSION_CREATE),
    status_code=201,
    response_model=schemas.Published,
    responses={
        **REFUSALS,
        200: {"model": schemas.Published, "description": "this exact bundle was published already"},
        413: {"model": schemas.Problem, "description": "larger than the platform accepts"},
        422: {"model": schemas.Problem, "description": "refused by a check (step and reason)"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the signed bundle (reports/<run-id>.zip), as the request body",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def publish(
    request: Request,
    principal: PrincipalDep,
    vendor: Annotated[
        str, Query(max_length=64, description="vendor organisation slug (a lab must name it)")
    ] = "",
    declared: Annotated[
        str,
        Query(
            max_length=publishing.MAX_DECLARED,
            description='JSON: {"device": {"model": "...", "soc": "..."}} from the publisher\'s inventory',
        ),
    ] = "",
) -> Response:
    """Publish a signed bundle. It is checked, in order: size, zip structure, manifest and every file's
    SHA-256, the signature by a key registered to the token's organisation, results.json against the
    schema. Nothing is kept unless every check passes."""
    catalogue.check(principal, Action.SUBMISSION_CREATE)
    platform = platform_of(request)
    limits = platform.config.limits
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limits.max_upload):
        return _refused(Refused(Step.SIZE, f"{length} bytes (at most {limits.max_upload})"))
    try:
        request_fields = publishing.PublishRequest(vendor or None, publishing.parse_declared(declared))
    except Refused as refused:
        return _refused(refused)
    incoming = platform.store.begin()
    try:
        pending = bytearray()  # the body arrives in small pieces: write it in 1 MiB blocks
        async for chunk in request.stream():
            if incoming.size + len(pending) + len(chunk) > limits.max_upload:
                raise Refused(Step.SIZE, f"more than {limits.max_upload} bytes")
            pending += chunk
            if len(pending) >= UPLOAD_CHUNK:
                await run_in_threadpool(incoming.write, bytes(pending))
                pending.clear()
        if pending:
            await run_in_threadpool(incoming.write, bytes(pending))
        if incoming.size == 0:
            raise Refused(Step.ZIP, "an empty body (send the bundle's zip as the body)")
        sha256 = await run_in_threadpool(incoming.finish)
        outcome = await run_in_threadpool(
            publishing.accept,
            platform.db,
            platform.store,
            limits,
            principal,
            incoming,
            sha256,
            request_fields,
        )
    except Refused as refused:
        return _refused(refused)
    finally:
        incoming.discard()
    body = schemas.Published(
        id=outcome.submission_id,
        sha256=outcome.sha256,
        run_id=outcome.run_id,
        created=outcome.created,
        url=f"/submissions/{outcome.submission_id}",
        api_url=f"{PREFIX}/submissions/{outcome.submission_id}",
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if outcome.created else 200)


def _refused(refused: Refused) -> JSONResponse:
    return JSONResponse({"detail": refused.reason, "step": refused.step.value}, status_code=refused.status)


@router.get(
    "/submissions/{submission_id}",
    name=route_name("api.submission", Action.SUBMISSION_READ, submission_id="submission"),
    response_model=schemas.SubmissionDetail,
    responses=REFUSALS,
)
def get_submission(
    request: Request, principal: PrincipalDep, submission_id: ObjectId
) -> schemas.SubmissionDetail:
    """One submission: devices, identity, signature, requirements (failures first), failures."""
    with platform_of(request).db.read() as db:
        sub = catalogue.get_submission(db, principal, submission_id, Action.SUBMISSION_READ)
        return schemas.SubmissionDetail.detail(sub)


@router.get(
    "/submissions/{submission_id}/bundle",
    name=route_name("api.submission_bundle", Action.SUBMISSION_DOWNLOAD, submission_id="submission"),
    response_class=Response,
    responses={
        **REFUSALS,
        200: {"content": {"application/zip": {}}, "description": "the bundle, byte-identical"},
    },
)
def get_bundle(request: Request, principal: PrincipalDep, submission_id: ObjectId) -> Response:
    """The signed bundle exactly as it was published."""
    with platform_of(request).db.read() as db:
        sub = catalogue.get_submission(db, principal, submission_id, Action.SUBMISSION_DOWNLOAD)
        return pages.bundle_response(request, sub.sha256, pages.views.bundle_filename(sub))


@router.get(
    "/submissions/{submission_id}/key",
    name=route_name("api.submission_key", Action.SUBMISSION_READ, submission_id="submission"),
    response_class=Response,
    responses={**REFUSALS, 200: {"content": {"text/plain": {}}, "description": "the lab's public key"}},
)
def get_key(request: Request, principal: PrincipalDep, submission_id: ObjectId) -> Response:
    """The public key that signed the bundle (for `harness verify --pubkey`)."""
    with platform_of(request).db.read() as db:
        sub = catalogue.get_submission(db, principal, submission_id, Action.SUBMISSION_READ)
        return pages.key_response(sub)


@router.get(
    "/products",
    name=route_name("api.products", Action.PRODUCT_LIST),
    response_model=schemas.ProductPage,
    responses=REFUSALS,
)
def list_products(
    request: Request,
    principal: PrincipalDep,
    vendor: Annotated[str, Query(max_length=64)] = "",
    q: Annotated[str, Query(max_length=200, description="part of a model or SoC")] = "",
    page: PageDep = 1,
    per_page: PerPageDep = catalogue.PER_PAGE,
) -> dict[str, Any]:
    with platform_of(request).db.read() as db:
        result = catalogue.list_products(db, principal, vendor, q, PageRequest(page, per_page))
        return _page([schemas.ProductOut.of(p) for p in result.items], result)


@router.get(
    "/products/{product_id}",
    name=route_name("api.product", Action.PRODUCT_READ, product_id="product"),
    response_model=schemas.ProductDetail,
    responses=REFUSALS,
)
def get_product(
    request: Request,
    principal: PrincipalDep,
    product_id: ObjectId,
    page: PageDep = 1,
    per_page: PerPageDep = 50,
) -> schemas.ProductDetail:
    """A product and every submission of it (across builds) that the token may see."""
    with platform_of(request).db.read() as db:
        view = catalogue.get_product(db, principal, product_id, PageRequest(page, per_page))
        subs = view.submissions
        return schemas.ProductDetail(
            **schemas.ProductOut.of(view.product).model_dump(),
            submissions=schemas.SubmissionPage(
                **_page([schemas.SubmissionOut.of(s) for s in subs.items], subs)
            ),
        )


@router.get(
    "/keys",
    name=route_name("api.keys", Action.KEY_LIST),
    response_model=list[schemas.KeyOut],
    responses=REFUSALS,
)
def list_keys(request: Request, principal: PrincipalDep) -> list[schemas.KeyOut]:
    """Registered signing keys: every one for officers and admins, the organisation's own for a lab."""
    with platform_of(request).db.read() as db:
        return [schemas.KeyOut.of(k) for k in catalogue.list_keys(db, principal)]


@router.get(
    "/organisations",
    name=route_name("api.organisations", Action.ORG_LIST),
    response_model=list[schemas.OrgOut],
    responses=REFUSALS,
)
def list_organisations(request: Request, principal: PrincipalDep) -> list[schemas.OrgOut]:
    with platform_of(request).db.read() as db:
        return [schemas.OrgOut.of(o) for o in catalogue.list_orgs(db, principal)]


@router.get(
    "/tokens",
    name=route_name("api.tokens", Action.TOKEN_LIST),
    response_model=list[schemas.TokenOut],
    responses=REFUSALS,
)
def list_tokens(request: Request, principal: PrincipalDep) -> list[schemas.TokenOut]:
    """The caller's own tokens (an admin: every token). Secrets are never shown, only prefixes."""
    with platform_of(request).db.read() as db:
        return [schemas.TokenOut.of(t) for t in catalogue.list_tokens(db, principal)]


@router.delete(
    "/tokens/{token_id}",
    name=route_name("api.token_revoke", Action.TOKEN_REVOKE, token_id="token"),
    status_code=204,
    response_class=Response,
    responses=REFUSALS,
)
def revoke_token(request: Request, principal: PrincipalDep, token_id: ObjectId) -> Response:
    """Revoke one of the caller's tokens (an admin: any). Revoking twice is not an error."""
    with platform_of(request).db.write() as db:
        row = catalogue.get_token(db, principal, token_id, Action.TOKEN_REVOKE)
        revoke(row)
    return Response(status_code=204)
