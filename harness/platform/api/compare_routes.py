"""Two submissions compared, in the API: the document `harness diff --json` prints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from pydantic import BaseModel, Field

from ...results.diff import DEFAULT_TOLERANCE
from ..auth.policy import Action
from ..services.comparison import BadComparison, compare
from ..web.access import ObjectId, platform_of, route_name
from .common import REFUSALS, PrincipalDep, api_router

router = api_router()


class Comparison(BaseModel):
    a_run: str
    b_run: str
    a_source: str
    b_source: str
    tolerance: float
    devices: list[dict[str, Any]] = Field(
        description="per device pair: a, b, verdict_a/_b, build_a/_b, newly_failing, fixed, still_failing, "
        "changed, added, removed, flaky, requirements, metrics, counts, regression"
    )
    only_a: list[str]
    only_b: list[str]
    summary: dict[str, int]
    regression: bool


@router.get(
    "/submissions/{submission_id}/compare/{other_id}",
    name=route_name("api.compare", Action.SUBMISSION_READ, submission_id="submission", other_id="submission"),
    response_model=Comparison,
    responses={
        **REFUSALS,
        404: {**REFUSALS[404], "description": "no such submission (or not yours), or no device of that name"},
    },
)
def compare_submissions(
    request: Request,
    principal: PrincipalDep,
    submission_id: ObjectId,
    other_id: ObjectId,
    device_a: Annotated[str, Query(max_length=200, description="a device of the first submission")] = "",
    device_b: Annotated[str, Query(max_length=200, description="a device of the second submission")] = "",
    metric_tolerance: Annotated[
        float, Query(ge=0, le=1000, description="percent a metric may move before it is listed")
    ] = DEFAULT_TOLERANCE * 100,
) -> dict[str, Any]:
    """What changed from the first submission to the second (as `harness diff --json`)."""
    platform = platform_of(request)
    with platform.db.read() as db:
        try:
            done = compare(
                db,
                platform.store,
                principal,
                submission_id,
                other_id,
                device_a,
                device_b,
                metric_tolerance / 100,
                limit=platform.config.limits.max_results_json,
            )
        except BadComparison as exc:
            raise HTTPException(404, str(exc)) from None
        return done.diff.to_dict()
