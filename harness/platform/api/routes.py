"""The JSON API under /api/v1 (reading; publishing is api/publish.py): bearer tokens only, no cookies,
so no cross-site request can use it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from ..auth.apitokens import revoke
from ..auth.policy import Action
from ..db.models import ApiToken
from ..services import catalogue
from ..services.catalogue import PageRequest, SubmissionFilter
from ..web import pages
from ..web.access import ObjectId, platform_of, route_name
from . import schemas
from .common import REFUSALS, PageDep, PerPageDep, PrincipalDep, api_router

router = api_router()


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
