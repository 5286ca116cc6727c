"""Jobs on procrastinate's queue, through its own SQL functions (defer, fetch, finish, retry, cancel,
workers and heartbeats): submitting runs and health checks, fetching the next job of a host's queue,
claiming a device for a job of a tag's queue, finishing, handing back, cancelling and ending a stalled
job, and the list `harness jobs` shows. What each job's run gave
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
    tag_queue,
)

DEFER = """SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(%(queue)s, %(task)s, %(priority)s,
    %(lock)s, %(queueing_lock)s, %(args)s::jsonb, %(scheduled_at)s::timestamptz
    )::procrastinate_job_to_defer_v1])) AS id"""
# A job's state as `harness jobs` shows it.
DONE_STATES = ("pass", "fail", "error", "cancelled")


@dataclass(frozen=True)
class JobRequest:
    """One job: a run of suites on a device (or its health check), for whoever submitted it. With a
    `tag` (device and host ""), on whichever device of that tag is free first."""

    device: str
    host: str
    suites: tuple[str, ...] = ()
    keyword: str | None = None
    submitter: str = ""
    kind: str = RUN_TASK
    tag: str | None = None

    @property
    def queue(self) -> str:
        return tag_queue(self.tag) if self.tag else host_queue(self.host)

    @property
    def lock(self) -> str | None:
        return None if self.tag else device_lock(self.device)  # a tag job takes its device's when it starts

    def args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "device": self.device,
            "suites": list(self.suites),
            "keyword": self.keyword,
            "submitter": self.submitter,
        }
        if self.tag:
            args["tag"] = self.tag
        return args


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
    tag: str | None = None

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
            tag=args.get("tag") or None,
        )


def submit(conn: Conn, request: JobRequest) -> int | None:
    """Queue the job; its id, or None for a health check already waiting for that device."""
    health = request.kind == HEALTH_TASK
    params = {
        "queue": request.queue,
        "task": request.kind,
        "priority": HEALTH_PRIORITY if health else RUN_PRIORITY,
        "lock": request.lock,
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
            "queues": [r.queue for r in requests],
            "tasks": [r.kind for r in requests],
            "priorities": [RUN_PRIORITY for _ in requests],
            "locks": [r.lock for r in requests],
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


def tag_jobs_waiting(conn: Conn, tags: Sequence[str]) -> bool:
    """Whether any job of these tags' queues could start now (one cheap look before fetching for each
    free device)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE queue_name = ANY(%s) AND status = 'todo'"
        " AND (scheduled_at IS NULL OR scheduled_at <= now())) AS waiting",
        (sorted({tag_queue(t) for t in tags}),),
    ).fetchone()
    return bool(row and row["waiting"])


def fetch_tagged(
    conn: Conn, wants: Sequence[tuple[str, Sequence[str]]], worker_id: int
) -> list[tuple[str, QueuedJob]]:
    """For each (device, its tags) in turn, the oldest job of those tags' queues, in one round trip and
    inside the caller's transaction (until the caller claims and commits, the jobs are nobody's; rolling
    back leaves them queued as they were). Each fetch skips the jobs the previous ones took."""
    with conn.pipeline():
        cursors = [
            (device, conn.execute(sql.queries["fetch_job"],
                                  {"queues": sorted({tag_queue(t) for t in tags}), "worker_id": worker_id}))
            for device, tags in wants
        ]
    out = []
    for device, cur in cursors:
        row = cur.fetchone()
        if row is not None and row["id"] is not None:
            out.append((device, QueuedJob.from_row(row)))
    return out


# A device with a running job is left alone here; were one to start meanwhile all the same, the unique
# index on the running jobs' locks refuses this claim (and the caller's transaction with it).
CLAIM = """UPDATE procrastinate_jobs SET lock = %(lock)s, queue_name = %(queue)s,
    args = jsonb_set(args, '{device}', to_jsonb(%(device)s::text))
    WHERE id = %(id)s AND status = 'doing' AND lock IS NULL
      AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs o WHERE o.lock = %(lock)s AND o.status = 'doing')"""


def claim(conn: Conn, claims: Sequence[tuple[int, str]], host: str) -> list[bool]:
    """Make fetched tag jobs the running jobs of their devices (each its device's lock, this host's
    queue), in one round trip inside the caller's transaction: False for a device that has a running
    job already (the job was not changed)."""
    with conn.pipeline():
        cursors = [
            conn.execute(CLAIM, {"lock": device_lock(d), "queue": host_queue(host), "device": d, "id": j})
            for j, d in claims
        ]
    return [cur.rowcount == 1 for cur in cursors]


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


@dataclass(frozen=True)
class Cancelled:
    """What `harness cancel` did to a job: its status before, the action taken, and why."""

    before: str
    action: str  # cancel | abort | end | done
    note: str | None = None
    host_alive: bool = True


def cancel_action(status: str, submitter: str, who: str, force: bool, host_alive: bool) -> str:
    """Pure: cancel a queued job; ask a running job's agent to stop it (abort); end for good a running
    job whose host is silent (end: its agent may never come back to stop it), only with `force`, since
    its run may still be going on that host; or nothing, for a job already over. Someone else's job only
    with `force`."""
    if status not in ("todo", "doing"):
        return "done"
    if submitter and submitter != who and not force:
        return "refuse"
    if status == "todo":
        return "cancel"
    return "end" if force and not host_alive else "abort"


def ended_note(who: str, host: str, since: dt.datetime | None) -> str:
    when = f" since {since.astimezone():%Y-%m-%d %H:%M:%S}" if since else ""
    return f"ended by {who}: its host {host or '?'} was silent{when}"


CANCEL_ROW = """
SELECT j.status, j.args->>'submitter' AS submitter, j.args->>'device' AS device, x.host, h.heartbeat_at,
       COALESCE(h.stopped_at IS NULL AND h.heartbeat_at > now() - make_interval(secs => %(timeout)s), false)
           AS host_alive
  FROM procrastinate_jobs j LEFT JOIN harness_job_runs r ON r.job_id = j.id
  CROSS JOIN LATERAL (SELECT COALESCE(r.host, CASE WHEN j.queue_name LIKE 'host:%%'
                                                   THEN substr(j.queue_name, 6) END) AS host) x
  LEFT JOIN harness_hosts h ON h.name = x.host
 WHERE j.id = %(id)s FOR UPDATE OF j
"""


def cancel(
    conn: Conn, job_id: int, who: str, force: bool = False, host_timeout: float = HOST_TIMEOUT
) -> Cancelled | None:
    """Cancel a queued job, ask the agent running it to stop it, or (force, its host silent past
    `host_timeout`) end it for good: an error, its device's lock freed; its agent, if it comes back,
    stops that run and records nothing over the end. None: no such job."""
    with conn.transaction():
        row = conn.execute(CANCEL_ROW, {"id": job_id, "timeout": host_timeout}).fetchone()
        if row is None:
            return None
        status, alive = str(row["status"]), bool(row["host_alive"])
        action = cancel_action(status, row["submitter"] or "", who, force, alive)
        if action == "refuse":
            raise CancelRefused(
                f"job {job_id}: submitted by {row['submitter']} (--force to cancel it anyway)"
            )
        device = row["device"] or ""
        if action == "end":
            note = ended_note(who, row["host"] or "", row["heartbeat_at"])
            finish(conn, job_id, "failed")
            record_run(
                conn,
                RunRecord(job_id=job_id, device=device, state="error", host=row["host"], note=note,
                          ended=True, ended_by=who),
            )
            return Cancelled(status, action, note, alive)
        if action in ("cancel", "abort"):
            conn.execute(sql.queries["cancel_job"], {"job_id": job_id, "abort": True, "delete_job": False})
        if action == "cancel":
            record_run(
                conn,
                RunRecord(job_id=job_id, device=device, state="cancelled",
                          note="cancelled before it started"),
            )
        return Cancelled(status, action, None, alive)


@dataclass(frozen=True)
class RunCheck:
    """A running job as the queue has it now: still running there, asked to stop, or ended elsewhere."""

    status: str | None  # None: the job is gone from the queue
    abort_requested: bool = False
    note: str | None = None

    @property
    def ended_elsewhere(self) -> bool:
        return self.status != "doing"


def check_running(conn: Conn, job_ids: Sequence[int]) -> dict[int, RunCheck]:
    """What the queue says of the jobs this agent runs, in one query."""
    rows = conn.execute(
        "SELECT j.id, j.status, j.abort_requested, r.note FROM procrastinate_jobs j"
        " LEFT JOIN harness_job_runs r ON r.job_id = j.id WHERE j.id = ANY(%s)",
        (list(job_ids),),
    ).fetchall()
    found = {int(r["id"]): RunCheck(str(r["status"]), bool(r["abort_requested"]), r["note"]) for r in rows}
    return {j: found.get(j, RunCheck(None)) for j in job_ids}


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
    ended_by: str | None = None  # ended by hand (a stalled job): set once, and then the record is final


def record_run(conn: Conn, r: RunRecord) -> None:
    conn.execute(
        """
        INSERT INTO harness_job_runs (job_id, device, host, state, verdict, exit_code, run_id, bundle_path,
                                      bundle_sha256, note, starts, first_started_at, started_at, ended_at,
                                      ended_by)
        VALUES (%(job_id)s, %(device)s, %(host)s, %(state)s, %(verdict)s, %(exit_code)s, %(run_id)s,
                %(bundle_path)s, %(bundle_sha256)s, %(note)s, CASE WHEN %(started)s THEN 1 ELSE 0 END,
                CASE WHEN %(started)s THEN now() END, CASE WHEN %(started)s THEN now() END,
                CASE WHEN %(ended)s THEN now() END, %(ended_by)s)
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
            ended_at = COALESCE(EXCLUDED.ended_at, harness_job_runs.ended_at),
            ended_by = EXCLUDED.ended_by
        WHERE harness_job_runs.ended_by IS NULL
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
    tag: str | None = None  # submitted for any device with this tag (device "" until one takes it)
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
            "tag": self.tag,
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
          LEFT JOIN harness_hosts h ON h.name = COALESCE(r.host, CASE WHEN j.queue_name LIKE 'host:%%'
                                                                      THEN substr(j.queue_name, 6) END)
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
            note = (f"its host's agent is silent{silent}: it resumes the job when it returns"
                    " (harness cancel --force ends it)")
        tag = args.get("tag") or None
        device = str(args.get("device") or "")
        if tag and not device and state in ("queued", "waiting"):
            note = f"waiting for any device tagged {tag!r}" + (f"; {note}" if note else "")
        queue_host = r["queue_name"].removeprefix("host:") if r["queue_name"].startswith("host:") else ""
        out.append(
            JobView(
                id=int(r["id"]),
                kind="health" if r["task_name"] == HEALTH_TASK else "run",
                device=device,
                host=r["host"] or queue_host,
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
                tag=tag,
            )
        )
    return out
