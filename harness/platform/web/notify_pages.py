"""The delivery log page: every webhook and e-mail sent (or being retried) for state changes, each
try with its answer. Admins and officers only; targets are shown without credentials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..auth.policy import Action
from ..services import notifications
from ..services.catalogue import PageRequest
from . import i18n, render
from .access import MAX_ID, lang_of, platform_of, route_name
from .guards import ViewerDep

router = APIRouter()

STRINGS: dict[str, tuple[str, str]] = {
    "deliveries": ("Notifications", "通知记录"),
    "deliveries_note": (
        "Webhooks (signed with HMAC-SHA256) and e-mail sent on every state change; a failed delivery "
        "is tried again with a growing wait.",
        "每次状态变更都会发送 Webhook（HMAC-SHA256 签名）和电子邮件；发送失败的通知会按递增的间隔重试。",
    ),
    "change": ("Change", "变更"),
    "target": ("Sent to", "接收方"),
    "tries": ("Tries", "尝试"),
    "next_try": ("Next try", "下次尝试"),
    "last_error": ("Last error", "最近错误"),
    "delivered": ("delivered", "已送达"),
    "pending": ("pending", "待发送"),
    "failed": ("failed", "失败"),
    "webhook": ("webhook", "Webhook"),
    "email": ("e-mail", "电子邮件"),
}
for key, pair in STRINGS.items():
    i18n.STRINGS.setdefault(key, pair)


@router.get("/notifications", name=route_name("page.notifications", Action.NOTIFICATION_LOG))
def notifications_page(
    request: Request,
    viewer: ViewerDep,
    submission: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    with platform_of(request).db.read() as db:
        result = notifications.delivery_log(db, viewer.principal, PageRequest(page), submission)
        return render.page(
            "notifications.html.j2",
            lang=lang_of(request),
            viewer=viewer,
            result=result,
            params={"submission": submission or ""},
        )
