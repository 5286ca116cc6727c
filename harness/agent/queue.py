"""Jobs on procrastinate's queue, through its own SQL functions (defer, fetch, finish, retry, cancel,
workers and heartbeats): submitting runs and health checks, fetching the next job of a host's queue,
finishing, handing back and cancelling, and the list `harness jobs` shows. What each job's run gave
(state, verdict, bundle digest) is the harness's own table, harness_job_runs."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from procrastinate import sql

from ..errors import HarnessError
from .db import Conn
from .names import (
    HEALTH_PRIORITY,
    HEALTH_TASK,
    HOST_TIMEOUT,
    RUN_PRIORITY,
    RUN_TASK,
    device_lock,
    health_queueing_lock,
    host_queue,
)

DEFER = """SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(%(queue)s, %(task)s, %(priority)s,
    %(lock)s, %(queueing_lock)s, %(args)s::jsonb, %(scheduled_at)s::timestamptz
    )::procrastinate_job_to_defer_v1])) AS id"""
# A job's state as `harness jobs` shows it.
DONE_STATES = ("pass", "fail", "error", "cancelled")


@dataclass(frozen=True)
class JobRequest:
    """One job: a run of suites on a device (or its health check), for whoever submitted it."""

    device: str
    host: str
    suites: tuple[str, ...] = ()
    keyword: str | None = None
    submitter: str = ""
    kind: str = RUN_TASK

    def args(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "suites": list(self.suites),
            "keyword": self.keyword,
            "submitter": self.submitter,
        }


@dataclass(frozen=True)
class QueuedJob:
    """A job as fetched by an agent."""

    id: int
    task: str
    device: str
    suites: tuple[str, ...]
    keyword: str | None
    submitter: str
    attempts: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> QueuedJob:
        args = row["args"] if isinstance(row["args"], dict) else json.loads(row["args"] or "{}")
        return cls(
            id=int(row["id"]),
            task=row["task_name"],
            device=str(args.get("device", "")),
            suites=tuple(args.get("suites") or ()),
            keyword=args.get("keyword"),
            submitter=str(args.get("submitter") or ""),
            attempts=int(row.get("attempts") or 0),
        )


def submit(conn: Conn, request: JobRequest) -> int | None:
    """Queue the job; its id, or None for a health check already waiting for that device."""
    health = request.kind == HEALTH_TASK
    params = {
        "queue": host_queue(request.host),
        "task": request.kind,
        "priority": HEALTH_PRIORITY if health else RUN_PRIORITY,
        "lock": device_lock(request.device),
        "queueing_lock": health_queueing_lock(request.device) if health else None,
        "args": json.dumps(request.args()),
        "scheduled_at": None,
    }
    try:
        row = conn.execute(DEFER, params).fetchone()
    except psycopg.errors.UniqueViolation:
        return None  # the queueing lock: one health check of the device is queued already
    assert row is not None
    return int(row["id"])


DEFER_MANY = """SELECT unnest(procrastinate_defer_jobs_v1(ARRAY(
    SELECT ROW(q, t, p, l, NULL, a::jsonb, NULL)::procrastinate_job_to_defer_v1
      FROM unnest(%(queues)s::text[], %(tasks)s::text[], %(priorities)s::int[], %(locks)s::text[],
                  %(args)s::text[]) WITH ORDINALITY AS x(q, t, p, l, a, n) ORDER BY n))) AS id"""


def submit_many(conn: Conn, requests: Sequence[JobRequest]) -> list[int]:
    """Queue runs in one statement: all of them or none; their ids in the order given."""
    assert all(r.kind != HEALTH_TASK for r in requests), "health checks go one by one (queueing lock)"
    rows = conn.execute(
        DEFER_MANY,
        {
            "queues": [host_queue(r.host) for r in requests],
            "tasks": [r.kind for r in requests],
            "priorities": [RUN_PRIORITY for _ in requests],
            "locks": [device_lock(r.device) for r in requests],
            "args": [json.dumps(r.args()) for r in requests],
        },
    ).fetchall()
    return sorted(int(r["id"]) for r in rows)  # one INSERT: ids rise in the order of its rows


def fetch(conn: Conn, host: str, worker_id: int) -> QueuedJob | None:
    row = conn.execute(
        sql.queries["fetch_job"], {"queues": [host_queue(host)], "worker_id": worker_id}
    ).fetchone()
    if row is None or row["id"] is None:
        return None
    return QueuedJob.from_row(row)


def fetch_many(conn: Conn, host: str, worker_id: int, count: int) -> list[QueuedJob]:
    """Up to `count` jobs of the host's queue in one round trip: procrastinate's own fetch, `count` times
    in a pipeline (each skips the devices whose job the previous ones took, as one by one would)."""
    if count <= 0:
        return []
    params = {"queues": [host_queue(host)], "worker_id": worker_id}
    with conn.pipeline():
        cursors = [conn.execute(sql.queries["fetch_job"], params) for _ in range(count)]
    rows = [cur.fetchone() for cur in cursors]
    return [QueuedJob.from_row(r) for r in rows if r is not None and r["id"] is not None]


def finish(conn: Conn, job_id: int, status: str, *, wait: bool = True) -> bool:
    """succeeded, failed or aborted; False when the job was no longer running (finished elsewhere).
    Never raises for that, so it can share a pipeline with the record that follows it (`wait` False:
    not waiting for the answer, which a pipeline sends along with the next ones)."""
    cur = conn.execute(
        "SELECT procrastinate_finish_job_v1(id, %s::procrastinate_job_status, false) IS NULL AS done"
        " FROM procrastinate_jobs WHERE id = %s AND status IN ('todo', 'doing')",
        (status, job_id),
    )
    return cur.fetchone() is not None if wait else True


def hand_back(conn: Conn, job_id: int, at: dt.datetime | None = None, *, wait: bool = True) -> bool:
    """Back to the queue (same id, same lock, same place in the device's order), to start again at `at`.
    False when it is not running any more."""
    cur = conn.execute(
        "SELECT procrastinate_retry_job_v2(id, %s, NULL::integer, NULL::varchar, NULL::varchar) IS NULL"
        " FROM procrastinate_jobs WHERE id = %s AND status = 'doing'",
        (at or _now(), job_id),
    )
    return cur.fetchone() is not None if wait else True


class CancelRefused(HarnessError):
    """The job is someone else's (exit 3, as a reservation of someone else's is)."""


def cancel(conn: Conn, job_id: int, who: str, force: bool = False) -> str | None:
    """Cancel a queued job, or ask the agent running it to stop it: its submitter may, anyone else
    only with `force` (as with a reservation). The job's status before, or None."""
    row = conn.execute("SELECT status, args->>'submitter' AS submitter FROM procrastinate_jobs WHERE id = %s",
                       (job_id,)).fetchone()
    if row is None:
        return None
    submitter = row["submitter"] or ""
    if row["status"] in ("todo", "doing") and submitter and submitter != who and not force:
        raise CancelRefused(f"job {job_id}: submitted by {submitter} (--force to cancel it anyway)")
    if row["status"] in ("todo", "doing"):
        conn.execute(sql.queries["cancel_job"], {"job_id": job_id, "abort": True, "delete_job": False})
        if row["status"] == "todo":
            record_run(
                conn,
                RunRecord(
                    job_id=job_id,
                    device=_device_of(conn, job_id),
                    state="cancelled",
                    note="cancelled before it started",
                ),
            )
    return str(row["status"])


def to_abort(conn: Conn, host: str) -> list[int]:
    rows = conn.execute(sql.queries["list_jobs_to_abort"], {"queue_name": host_queue(host)}).fetchall()
    return [int(r["id"]) for r in rows]


def orphans(conn: Conn, host: str) -> list[QueuedJob]:
    """Jobs of this host's queue marked running. The caller leaves out the ones it runs: the rest were
    left by a previous agent of this host (SIGKILL, a crash, a reboot), or fetched by this one just as
    the database went away, before they could start. Only this host's agent can tell."""
    rows = conn.execute(
        "SELECT * FROM procrastinate_jobs WHERE queue_name = %s AND status = 'doing'", (host_queue(host),)
    ).fetchall()
    return [QueuedJob.from_row(r) for r in rows]


def register_worker(conn: Conn) -> int:
    row = conn.execute(sql.queries["register_worker"]).fetchone()
    assert row is not None
    return int(row["worker_id"])


def worker_heartbeat(conn: Conn, worker_id: int) -> bool:
    """False when the worker row is gone (pruned while we were cut off): register again."""
    row = conn.execute(
        "UPDATE procrastinate_workers SET last_heartbeat = now() WHERE id = %s RETURNING id", (worker_id,)
    ).fetchone()
    return row is not None


def adopt(conn: Conn, job_ids: Sequence[int], worker_id: int) -> None:
    """Our running jobs belong to our (new) worker row."""
    if job_ids:
        conn.execute(
            "UPDATE procrastinate_jobs SET worker_id = %s WHERE id = ANY(%s) AND status = 'doing'",
            (worker_id, list(job_ids)),
        )


def unregister_worker(conn: Conn, worker_id: int) -> None:
    conn.execute(sql.queries["unregister_worker"], {"worker_id": worker_id})


def prune_workers(conn: Conn, seconds: float) -> None:
    conn.execute(sql.queries["prune_stalled_workers"], {"seconds_since_heartbeat": seconds})


def wake(conn: Conn, device: str) -> None:
    """Jobs of the device waiting (a reservation, a quarantine) may go now."""
    conn.execute(
        "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE lock = %s AND status = 'todo'"
        " AND scheduled_at > now()",
        (device_lock(device),),
    )


@dataclass
class RunRecord:
    """What harness_job_runs holds about one job."""

    job_id: int
    device: str
    state: str  # waiting | running | pass | fail | error | cancelled | queued
    host: str | None = None
    verdict: str | None = None
    exit_code: int | None = None
    run_id: str | None = None
    bundle_path: str | None = None
    bundle_sha256: str | None = None
    note: str | None = None
    started: bool = False  # this record is a start: count it, stamp started_at
    ended: bool = False


def record_run(conn: Conn, r: RunRecord) -> None:
    conn.execute(
        """
        INSERT INTO harness_job_runs (job_id, device, host, state, verdict, exit_code, run_id, bundle_path,
                                      bundle_sha256, note, starts, first_started_at, started_at, ended_at)
        VALUES (%(job_id)s, %(device)s, %(host)s, %(state)s, %(verdict)s, %(exit_code)s, %(run_id)s,
                %(bundle_path)s, %(bundle_sha256)s, %(note)s, CASE WHEN %(started)s THEN 1 ELSE 0 END,
                CASE WHEN %(started)s THEN now() END, CASE WHEN %(started)s THEN now() END,
                CASE WHEN %(ended)s THEN now() END)
        ON CONFLICT (job_id) DO UPDATE SET
            host = COALESCE(EXCLUDED.host, harness_job_runs.host), state = EXCLUDED.state,
            verdict = COALESCE(EXCLUDED.verdict, harness_job_runs.verdict),
            exit_code = COALESCE(EXCLUDED.exit_code, harness_job_runs.exit_code),
            run_id = COALESCE(EXCLUDED.run_id, harness_job_runs.run_id),
            bundle_path = COALESCE(EXCLUDED.bundle_path, harness_job_runs.bundle_path),
            bundle_sha256 = COALESCE(EXCLUDED.bundle_sha256, harness_job_runs.bundle_sha256),
            note = EXCLUDED.note,
            starts = harness_job_runs.starts + CASE WHEN %(started)s THEN 1 ELSE 0 END,
            first_started_at = COALESCE(harness_job_runs.first_started_at, EXCLUDED.first_started_at),
            started_at = COALESCE(EXCLUDED.started_at, harness_job_runs.started_at),
            ended_at = COALESCE(EXCLUDED.ended_at, harness_job_runs.ended_at)
        """,
        vars(r),
    )


def starts_of(conn: Conn, job_id: int) -> int:
    row = conn.execute("SELECT starts FROM harness_job_runs WHERE job_id = %s", (job_id,)).fetchone()
    return int(row["starts"]) if row else 0


def _device_of(conn: Conn, job_id: int) -> str:
    row = conn.execute(
        "SELECT args->>'device' AS d FROM procrastinate_jobs WHERE id = %s", (job_id,)
    ).fetchone()
    return str(row["d"]) if row and row["d"] else ""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class JobView:
    """One line of `harness jobs`."""

    id: int
    kind: str
    device: str
    host: str
    suites: tuple[str, ...]
    state: str
    verdict: str | None
    submitter: str
    note: str | None
    queued_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    bundle_sha256: str | None
    starts: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_json(self) -> dict[str, Any]:
        def iso(t: dt.datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "id": self.id,
            "kind": self.kind,
            "device": self.device,
            "host": self.host,
            "suites": list(self.suites),
            "state": self.state,
            "verdict": self.verdict,
            "submitter": self.submitter,
            "note": self.note,
            "queued_at": iso(self.queued_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "bundle_sha256": self.bundle_sha256,
            "starts": self.starts,
        }


def view_state(status: str, run_state: str | None, host_alive: bool = True) -> str:
    """Pure: what `harness jobs` calls a job, from procrastinate's status, the run's record and whether
    its host still heartbeats. A running job of a silent host is "stalled", never "running": only that
    host's agent can tell what became of it (it resumes or requeues it when it comes back)."""
    if status == "cancelled" or (status == "aborted"):
        return "cancelled"
    if status == "todo":
        return "waiting" if run_state == "waiting" else "queued"
    if status == "doing":
        return "running" if host_alive else "stalled"
    if run_state in DONE_STATES:
        return run_state
    return "error" if status == "failed" else (run_state or status)


def list_jobs(
    conn: Conn, *, ids: Sequence[int] = (), include_done: bool = True, limit: int = 200, device: str = "",
    host_timeout: float = HOST_TIMEOUT,
) -> list[JobView]:
    """The newest `limit` jobs (of `ids`, of `device` when given), oldest first. A host silent for
    `host_timeout` seconds (or stopped) makes its running jobs stalled."""
    rows = conn.execute(
        """
        SELECT j.id, j.task_name, j.status, j.args, j.queue_name, j.abort_requested,
               (SELECT min(at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'deferred')
                   AS queued_at,
               r.state AS run_state, r.host, r.verdict, r.note, r.started_at, r.first_started_at, r.ended_at,
               r.bundle_sha256, r.starts, h.heartbeat_at,
               COALESCE(h.stopped_at IS NULL AND h.heartbeat_at > now() - make_interval(secs => %(timeout)s),
                        false) AS host_alive
          FROM procrastinate_jobs j LEFT JOIN harness_job_runs r ON r.job_id = j.id
          LEFT JOIN harness_hosts h ON h.name = COALESCE(r.host, substr(j.queue_name, 6))
         WHERE (cardinality(%(ids)s::bigint[]) = 0 OR j.id = ANY(%(ids)s::bigint[]))
           AND (%(done)s OR j.status IN ('todo', 'doing'))
           AND (%(device)s = '' OR j.lock = %(lock)s)
           AND j.task_name IN (%(run)s, %(health)s)
         ORDER BY j.id DESC LIMIT %(limit)s
        """,
        {"ids": list(ids), "done": include_done, "limit": limit, "run": RUN_TASK, "health": HEALTH_TASK,
         "device": device, "lock": device_lock(device), "timeout": host_timeout},
    ).fetchall()
    out = []
    for r in reversed(rows):
        args = r["args"] or {}
        note = r["note"]
        state = view_state(r["status"], r["run_state"], bool(r["host_alive"]))
        if r["abort_requested"] and r["status"] == "doing":
            note = "cancel requested"
        if state == "stalled":
            silent = f" since {r['heartbeat_at'].astimezone():%Y-%m-%d %H:%M:%S}" if r["heartbeat_at"] else ""
            note = f"its host's agent is silent{silent}: it resumes the job when it returns"
        out.append(
            JobView(
                id=int(r["id"]),
                kind="health" if r["task_name"] == HEALTH_TASK else "run",
                device=str(args.get("device", "")),
                host=r["host"] or r["queue_name"].removeprefix("host:"),
                suites=tuple(args.get("suites") or ()),
                state=state,
                verdict=r["verdict"],
                submitter=str(args.get("submitter") or ""),
                note=note,
                queued_at=r["queued_at"],
                started_at=r["first_started_at"],
                ended_at=r["ended_at"],
                bundle_sha256=r["bundle_sha256"],
                starts=int(r["starts"] or 0),
            )
        )
    return out
