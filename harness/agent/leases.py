"""Reservations: an exclusive, renewable lease of a device with an owner, for interactive work. While a
lease holds, the device's queued jobs wait (the agent hands a fetched job back until the lease ends);
`harness exec`, `push` and `pull` by anyone else refuse unless --force. A lease that is not renewed
expires by itself. The rules are pure (`decide`, `gate`); the SQL steps take the device's row lock, so
a lease and a job start never both win."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, HarnessError
from .db import Conn
from .names import HEALTH_TASK
from .queue import wake

QUARANTINE_RECHECK = 60.0  # a run waiting for a quarantined device looks again (a pass wakes it sooner)


class LeaseRefused(HarnessError):
    """The device is someone else's for now, or busy (exit 3)."""


@dataclass(frozen=True)
class Lease:
    device: str
    owner: str
    since: dt.datetime
    expires_at: dt.datetime

    def describe(self) -> str:
        return f"reserved by {self.owner} until {self.expires_at.astimezone():%Y-%m-%d %H:%M:%S}"


def decide(existing: Lease | None, owner: str, running_job: int | None) -> str:
    """Pure: 'grant', 'renew', or why not."""
    if existing is not None and existing.owner != owner:
        return f"device {existing.device!r} is {existing.describe()}"
    if existing is not None:
        return "renew"
    if running_job is not None:
        return f"job {running_job} is running on it (wait for it with --wait SECONDS)"
    return "grant"


@dataclass(frozen=True)
class Gate:
    """Whether a fetched job may start now (pure), and if not until when it waits."""

    go: bool
    until: dt.datetime | None = None
    note: str | None = None


def gate(kind: str, lease: Lease | None, quarantined: bool, reason: str | None, now: dt.datetime) -> Gate:
    if lease is not None:
        return Gate(False, lease.expires_at, lease.describe())
    if quarantined and kind != HEALTH_TASK:  # the health check is how it leaves quarantine
        why = f": {reason}" if reason else ""
        return Gate(False, now + dt.timedelta(seconds=QUARANTINE_RECHECK), f"device quarantined{why}")
    return Gate(True)


def active_lease(conn: Conn, device: str) -> Lease | None:
    row = conn.execute(
        "SELECT device, owner, since, expires_at FROM harness_reservations WHERE device = %s"
        " AND expires_at > now()",
        (device,),
    ).fetchone()
    return Lease(**row) if row else None


def _lock_device(conn: Conn, device: str) -> dict[str, object]:
    row = conn.execute(
        "SELECT name, quarantined, quarantine_reason FROM harness_devices WHERE name = %s FOR UPDATE",
        (device,),
    ).fetchone()
    if row is None:
        raise ConfigError(
            f"no registered device named {device!r} (an agent registers its inventory's devices)"
        )
    return row


def reserve(conn: Conn, device: str, owner: str, seconds: float) -> Lease:
    with conn.transaction():
        _lock_device(conn, device)
        existing = active_lease(conn, device)
        running = conn.execute(
            "SELECT id FROM procrastinate_jobs WHERE lock = %s AND status = 'doing' LIMIT 1",
            ("device:" + device,),
        ).fetchone()
        verdict = decide(existing, owner, int(running["id"]) if running else None)
        if verdict not in ("grant", "renew"):
            raise LeaseRefused(f"reserve {device!r}: {verdict}")
        row = conn.execute(
            "INSERT INTO harness_reservations (device, owner, expires_at) VALUES (%s, %s, now() +"
            " make_interval(secs => %s)) ON CONFLICT (device) DO UPDATE SET owner = EXCLUDED.owner,"
            " expires_at = EXCLUDED.expires_at, since = CASE WHEN harness_reservations.owner = EXCLUDED.owner"
            " AND harness_reservations.expires_at > now() THEN harness_reservations.since ELSE now() END"
            " RETURNING device, owner, since, expires_at",
            (device, owner, seconds),
        ).fetchone()
    assert row is not None
    return Lease(**row)


def release(conn: Conn, device: str, owner: str, force: bool = False) -> Lease | None:
    """End the lease (its owner, or anyone with --force); the device's waiting jobs go at once."""
    with conn.transaction():
        _lock_device(conn, device)
        existing = active_lease(conn, device)
        if existing is None:
            return None
        if existing.owner != owner and not force:
            raise LeaseRefused(f"release {device!r}: it is {existing.describe()} (--force to end it anyway)")
        conn.execute("DELETE FROM harness_reservations WHERE device = %s", (device,))
        wake(conn, device)
    return existing


FREE_FOR_JOBS = """
SELECT d.name FROM harness_devices d
 WHERE d.host = %(host)s AND d.name = ANY(%(devices)s) AND NOT d.quarantined
   AND NOT EXISTS (SELECT 1 FROM harness_reservations r WHERE r.device = d.name AND r.expires_at > now())
"""


def free_for_jobs(conn: Conn, host: str, devices: list[str]) -> list[str]:
    """Of these devices, the ones a job of theirs may start on now: still this host's, not quarantined,
    not reserved (a job's own gate says so again when it starts, with the device's row locked)."""
    rows = conn.execute(FREE_FOR_JOBS, {"host": host, "devices": devices}).fetchall()
    return sorted(str(r["name"]) for r in rows)


# The gate in two statements: lock the device's row, then read its lease. One statement would not do:
# under READ COMMITTED a statement that waited for the row lock still reads the other tables as they were
# when it began, so a lease committed while it waited (reserve() holds the same row lock) went unseen and
# a lease and a start both won. The second statement's snapshot is taken after the lock is held.
GATE_LOCK = "SELECT name FROM harness_devices WHERE name = %(device)s FOR UPDATE"
GATE_READ = """
SELECT d.quarantined, d.quarantine_reason, now() AS now, r.device, r.owner, r.since, r.expires_at,
       (SELECT starts FROM harness_job_runs WHERE job_id = %(job)s) AS starts
  FROM harness_devices d LEFT JOIN harness_reservations r ON r.device = d.name AND r.expires_at > now()
 WHERE d.name = %(device)s
"""


def check_gate(conn: Conn, device: str, kind: str, job_id: int) -> tuple[Gate, int]:
    """Inside the caller's transaction: lock the device's row, decide whether its job starts, and say
    how often the job has started before."""
    return check_gates(conn, [(device, kind, job_id)])[0]


def check_gates(conn: Conn, jobs: list[tuple[str, str, int]]) -> list[tuple[Gate, int]]:
    """check_gate for several (device, kind, job id) in one round trip, inside the caller's transaction
    (the caller orders them by device, so two such transactions lock rows in the same order)."""
    with conn.pipeline():
        cursors = []
        for device, _, job_id in jobs:
            conn.execute(GATE_LOCK, {"device": device})
            cursors.append(conn.execute(GATE_READ, {"job": job_id, "device": device}))
    out = []
    for (device, kind, _), cur in zip(jobs, cursors, strict=True):
        out.append(_gate_of(cur.fetchone(), device, kind))
    return out


def _gate_of(row: dict[str, Any] | None, device: str, kind: str) -> tuple[Gate, int]:
    if row is None:
        return Gate(False, None, f"no registered device named {device!r}"), 0
    lease = Lease(row["device"], row["owner"], row["since"], row["expires_at"]) if row["owner"] else None
    return gate(kind, lease, bool(row["quarantined"]), row["quarantine_reason"], row["now"]), int(
        row["starts"] or 0
    )
