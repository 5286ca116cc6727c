"""The delivery log in the API: admins' and officers' tokens only."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field

from ..auth.policy import Action
from ..db.notify_models import NotifyDelivery
from ..services import catalogue, notifications
from ..services.catalogue import PageRequest
from ..web.access import MAX_ID, platform_of, route_name
from .common import REFUSALS, PageDep, PerPageDep, PrincipalDep, api_router

router = api_router()


class AttemptOut(BaseModel):
    number: int
    at: dt.datetime
    ok: bool
    status_code: int | None = Field(None, description="HTTP status, or the SMTP reply code")
    error: str
    duration_ms: float


class DeliveryOut(BaseModel):
    id: int
    submission_id: int
    event: str
    before: str
    after: str
    kind: str = Field(description="webhook or email")
    target: str = Field(description="the e-mail address, or the URL without credentials or query")
    organisation: str = Field(description="the slug of the organisation the endpoint belongs to")
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    last_error: str
    created_at: dt.datetime
    tries: list[AttemptOut]

    @classmethod
    def of(cls, d: NotifyDelivery) -> DeliveryOut:
        return cls(
            id=d.id,
            submission_id=d.submission_id,
            event=d.event,
            before=d.before,
            after=d.after,
            kind=d.endpoint.kind,
            target=d.endpoint.target_shown,
            organisation=d.endpoint.org.slug,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            delivered_at=d.delivered_at,
            last_error=d.last_error,
            created_at=d.created_at,
            tries=[
                AttemptOut(
                    number=a.number,
                    at=a.at,
                    ok=a.ok,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                )
                for a in d.tries
            ],
        )


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    page: int
    per_page: int
    pages: int


@router.get(
    "/notifications",
    name=route_name("api.notifications", Action.NOTIFICATION_LOG),
    response_model=DeliveryPage,
    responses=REFUSALS,
)
def list_deliveries(
    request: Request,
    principal: PrincipalDep,
    submission: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this submission's")] = None,
    page: PageDep = 1,
    per_page: PerPageDep = catalogue.PER_PAGE,
) -> dict[str, Any]:
    """Deliveries of state-change notifications, newest first, each with its tries."""
    with platform_of(request).db.read() as db:
        result = notifications.delivery_log(db, principal, PageRequest(page, per_page), submission)
        return {
            "items": [DeliveryOut.of(d) for d in result.items],
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "pages": result.pages,
        }
