"""The API's documents for the lab's job queue (issue 15)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from ...agent.queue import JobView
from ...agent.selection import DeviceState


class JobOut(BaseModel):
    id: int
    kind: str = Field(description="run, or health (a device's health check)")
    device: str
    host: str
    suites: list[str]
    state: str = Field(description="queued, waiting, running, stalled (its host silent), pass, fail, error "
                                   "or cancelled")
    verdict: str | None
    submitter: str
    note: str | None
    queued_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    bundle_sha256: str | None
    starts: int = Field(description="how many times an agent started it (above 1: handed back, retried)")
    tag: str | None = Field(default=None, description="submitted for any device with this tag; device is "
                                                      "empty until one of them takes the job")

    @classmethod
    def of(cls, v: JobView) -> JobOut:
        return cls(
            id=v.id, kind=v.kind, device=v.device, host=v.host, suites=list(v.suites), state=v.state,
            verdict=v.verdict, submitter=v.submitter, note=v.note, queued_at=v.queued_at,
            started_at=v.started_at, ended_at=v.ended_at, bundle_sha256=v.bundle_sha256, starts=v.starts,
            tag=v.tag,
        )


class LabDeviceOut(BaseModel):
    name: str
    host: str
    host_alive: bool
    tags: list[str]
    health: str
    quarantined: bool
    reserved_by: str | None
    running: int
    queued: int

    @classmethod
    def of(cls, d: DeviceState) -> LabDeviceOut:
        return cls(
            name=d.name, host=d.host, host_alive=d.host_alive, tags=list(d.tags), health=d.health,
            quarantined=d.quarantined, reserved_by=d.reserved_by, running=d.running, queued=d.queued,
        )


class QueueOut(BaseModel):
    jobs: list[JobOut] = Field(description="the newest jobs, oldest first")
    devices: list[LabDeviceOut] = Field(description="the devices the lab's agents registered")
