"""The lab's job queue in the API (issue 15): what `harness jobs` shows, read from the queue's
PostgreSQL when the platform is given one (`--jobs-db`); 404 otherwise."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from ..auth.policy import Action
from ..services import jobs
from ..web.access import ObjectId, platform_of, route_name
from . import job_schemas
from .common import REFUSALS, PrincipalDep, api_router
from .schemas import Problem

router = api_router()
UNAVAILABLE = {**REFUSALS, 503: {"model": Problem, "description": "the job queue cannot be reached"}}


@router.get(
    "/jobs",
    name=route_name("api.jobs", Action.JOB_LIST),
    response_model=job_schemas.QueueOut,
    responses=UNAVAILABLE,
)
def list_jobs(
    request: Request,
    principal: PrincipalDep,
    active: Annotated[bool, Query(description="only queued, waiting and running jobs")] = False,
    device: Annotated[str, Query(max_length=jobs.MAX_DEVICE, description="one device's jobs")] = "",
    limit: Annotated[int, Query(ge=1, le=jobs.MAX_LIMIT, description="the newest this many")] = 200,
) -> job_schemas.QueueOut:
    """The lab's jobs (device, host, state, verdict), its registered devices, and the jobs waiting for
    any device of a tag."""
    platform = platform_of(request)
    with platform.db.read() as db:
        view = jobs.list_queue(db, platform.config, principal, jobs.JobFilter(active, device, limit))
    return job_schemas.QueueOut(
        jobs=[job_schemas.JobOut.of(j) for j in view.jobs],
        devices=[job_schemas.LabDeviceOut.of(d) for d in view.devices],
        tags=[job_schemas.TagQueueOut.of(b) for b in view.tags],
    )


@router.get(
    "/jobs/{job_id}",
    name=route_name("api.job", Action.JOB_READ, job_id="job"),
    response_model=job_schemas.JobOut,
    responses=UNAVAILABLE,
)
def get_job(request: Request, principal: PrincipalDep, job_id: ObjectId) -> job_schemas.JobOut:
    platform = platform_of(request)
    with platform.db.read() as db:
        return job_schemas.JobOut.of(jobs.get_job(db, platform.config, principal, job_id))
