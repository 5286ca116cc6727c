"""POST /api/v1/submissions: a bundle streamed to disk under a name of our own (the size limit holds
while streaming), then the intake checks, the store and the rows (services.publishing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from ..auth.policy import Action
from ..intake.refusal import Refused, Step
from ..services import catalogue, publishing
from ..web.access import platform_of, route_name
from . import schemas
from .common import PREFIX, REFUSALS, PrincipalDep, api_router

router = api_router()
UPLOAD_CHUNK = 1 << 20


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
    answers: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="the submission (re-test asked, rejected) this run answers"),
    ] = None,
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
        request_fields = publishing.PublishRequest(
            vendor or None, publishing.parse_declared(declared), answers
        )
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
