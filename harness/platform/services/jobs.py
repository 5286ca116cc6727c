"""The lab's job queue as the platform shows it (issue 15): `harness agent`'s PostgreSQL, read through
the queue's own queries (harness.agent.queue, harness.agent.registry), never written.

Who sees it. The queue is the test centre's: the platform is told which lab organisation runs it
(`--jobs-org`). Admins and officers see every job; lab users of that organisation see them too, other
labs see an empty queue (a job they ask for by id is "not found"). Vendors see no jobs (403): a queued
job names a bench device of the lab's inventory and a suite, not a product, so which vendor it is for
cannot be told before its bundle is published, and then the vendor sees it as a submission."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...agent import queue as jobq
from ...agent import registry
from ...agent.db import Conn, Db, DbUnavailable
from ...agent.names import HOST_TIMEOUT
from ...agent.selection import DeviceState
from ..auth.policy import Action, Principal, Scope
from ..config import PlatformConfig
from ..db.models import Organisation
from .catalogue import check
from .errors import NotVisible, Unavailable

T = TypeVar("T")
log = logging.getLogger("harness.platform.jobs")
MAX_LIMIT = 1000
MAX_DEVICE = 200


@dataclass(frozen=True)
class JobFilter:
    active: bool = False  # only queued, waiting and running jobs
    device: str = ""  # one device's jobs
    limit: int = 200


@dataclass(frozen=True)
class QueueView:
    jobs: list[jobq.JobView]
    devices: list[DeviceState]
    tags: list[jobq.TagBacklog]  # jobs for any device of a tag, in no device's count until one takes them


def enabled(config: PlatformConfig) -> bool:
    return bool(config.jobs_db)


def queue_scope(db: Session, config: PlatformConfig) -> Scope:
    """Who has a stake in the queue's jobs: the organisation that runs it (none when not named)."""
    if not config.jobs_org:
        return Scope()
    org_id = db.scalar(select(Organisation.id).where(Organisation.slug == config.jobs_org))
    return Scope(orgs=frozenset({org_id})) if org_id is not None else Scope()


def _read(config: PlatformConfig, step: Callable[[Conn], T], empty: T) -> T:
    """One short connection per request: the pages are read rarely, and a lost server costs nothing."""
    queue = Db(config.jobs_db, connect_timeout=3)
    try:

        def guarded(conn: Conn) -> T:
            row = conn.execute(
                "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AND"
                " to_regclass('harness_job_runs') IS NOT NULL AS ready"
            ).fetchone()
            return step(conn) if row and row["ready"] else empty  # no agent has made the tables yet

        return queue.run(guarded)
    except DbUnavailable as exc:  # the server's log says where; the viewer is told only that it is down
        log.warning("jobs: %s", exc)
        raise Unavailable("the lab's job queue cannot be reached now") from None
    finally:
        queue.close()


def _may_see(db: Session, config: PlatformConfig, principal: Principal, action: Action) -> bool:
    """Checks the role (403 for one that may never); False when the jobs are not the principal's."""
    if not enabled(config):
        check(principal, action)
        raise NotVisible()
    try:
        check(principal, action, queue_scope(db, config))
    except NotVisible:
        return False
    return True


def list_queue(db: Session, config: PlatformConfig, principal: Principal, f: JobFilter) -> QueueView:
    if not _may_see(db, config, principal, Action.JOB_LIST):
        return QueueView([], [], [])
    limit = max(1, min(f.limit, MAX_LIMIT))
    device = f.device[:MAX_DEVICE]

    def step(conn: Conn) -> QueueView:
        jobs = jobq.list_jobs(conn, include_done=not f.active, limit=limit, device=device)
        devices = registry.device_states(conn, HOST_TIMEOUT)
        return QueueView(jobs, devices, jobq.tag_backlog(conn))

    return _read(config, step, QueueView([], [], []))


def get_job(db: Session, config: PlatformConfig, principal: Principal, job_id: int) -> jobq.JobView:
    if not _may_see(db, config, principal, Action.JOB_READ):
        raise NotVisible()
    none: list[jobq.JobView] = []
    found = _read(config, lambda conn: jobq.list_jobs(conn, ids=[job_id], limit=1), none)
    if not found:
        raise NotVisible()
    return found[0]
