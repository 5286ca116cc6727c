"""The lab's job queue as pages (issue 15): the jobs with their device, host, state and verdict, the
registered devices, and one job. Shown when the platform is given the queue's database (--jobs-db)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from ...report.i18n import bilingual
from ..auth.policy import Action
from ..services import jobs
from . import render
from .access import ObjectId, lang_of, platform_of, route_name
from .guards import ViewerDep
from .i18n import STRINGS, t

router = APIRouter()


def state_text(state: str) -> Markup:
    """A job's state in both languages (one the queue may add later: as it is)."""
    key = f"job_state_{state}"
    return t(key) if key in STRINGS else bilingual(state, state)


@router.get("/jobs", name=route_name("page.jobs", Action.JOB_LIST))
def jobs_page(
    request: Request,
    viewer: ViewerDep,
    active: Annotated[str, Query(max_length=5)] = "",
    device: Annotated[str, Query(max_length=jobs.MAX_DEVICE)] = "",
) -> Response:
    platform = platform_of(request)
    f = jobs.JobFilter(active=active == "1", device=device)
    with platform.db.read() as db:
        view = jobs.list_queue(db, platform.config, viewer.principal, f)
    return render.page(
        "jobs.html.j2",
        lang=lang_of(request),
        viewer=viewer,
        jobs=view.jobs,
        devices=view.devices,
        tags=view.tags,
        params={"active": "1" if f.active else "", "device": device},
        state_text=state_text,
    )


@router.get("/jobs/{job_id}", name=route_name("page.job", Action.JOB_READ, job_id="job"))
def job_page(request: Request, viewer: ViewerDep, job_id: ObjectId) -> Response:
    platform = platform_of(request)
    with platform.db.read() as db:
        job = jobs.get_job(db, platform.config, viewer.principal, job_id)
    return render.page("job.html.j2", lang=lang_of(request), viewer=viewer, j=job, state_text=state_text)
