"""The comparison page: two submissions (two builds of a product, or two devices of one submission),
what is newly failing, fixed, still failing, flaky, added or removed, the requirements whose status
changed and the metrics that moved. Both submissions must be the viewer's to read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ...results.diff import sections
from ..auth.policy import Action
from ..services.comparison import BadComparison, compare
from . import i18n, render
from .access import ObjectId, lang_of, platform_of, route_name
from .guards import ViewerDep

router = APIRouter()
SHOWN = 200  # rows a list shows; the API has every one

STRINGS: dict[str, tuple[str, str]] = {
    "compare": ("Comparison", "对比"),
    "compare_prev": ("compare with the previous", "与上一次对比"),
    "compared_with": ("compared with", "对比"),
    "newly_failing": ("Newly failing", "新增失败"),
    "fixed": ("Fixed", "已修复"),
    "still_failing": ("Still failing", "仍然失败"),
    "changed": ("Other changes", "其他变化"),
    "added": ("Tests added", "新增测试"),
    "removed": ("Tests removed", "移除的测试"),
    "flaky": ("Flaky", "不稳定"),
    "metrics": ("Metrics moved", "指标变化"),
    "before": ("Before", "之前"),
    "after": ("After", "之后"),
    "no_changes": ("No differences.", "没有差异。"),
    "no_pair": (
        "No device to compare: the submissions name different devices. Pick two below.",
        "没有可对比的设备：两次提交的设备名称不同，请在下方选择。",
    ),
    "only_in": ("Only in submission {n}", "仅在提交 {n} 中"),
    "more_rows": ("{n} more in the API", "其余 {n} 条见 API"),
    "regression": ("Regression", "回归"),
    "pick_devices": ("Compare devices", "对比设备"),
    "why": ("Why", "原因"),
    "change_pct": ("Change", "变化"),
}
for key, pair in STRINGS.items():
    i18n.STRINGS.setdefault(key, pair)


@router.get(
    "/submissions/{submission_id}/compare/{other_id}",
    name=route_name(
        "page.compare", Action.SUBMISSION_READ, submission_id="submission", other_id="submission"
    ),
)
def compare_page(
    request: Request,
    viewer: ViewerDep,
    submission_id: ObjectId,
    other_id: ObjectId,
    device_a: Annotated[str, Query(max_length=200)] = "",
    device_b: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    platform = platform_of(request)
    error = ""
    with platform.db.read() as db:
        try:
            done = compare(
                db,
                platform.store,
                viewer.principal,
                submission_id,
                other_id,
                device_a,
                device_b,
                limit=platform.config.limits.max_results_json,
            )
        except BadComparison as exc:
            error = str(exc)
            done = compare(
                db,
                platform.store,
                viewer.principal,
                submission_id,
                other_id,
                limit=platform.config.limits.max_results_json,
            )
        return render.page(
            "compare.html.j2",
            lang=lang_of(request),
            viewer=viewer,
            a=done.a,
            b=done.b,
            diff=done.diff,
            sections=sections,
            shown=SHOWN,
            error=error,
            device_a=device_a,
            device_b=device_b,
        )
