"""The queue's tables: procrastinate's own schema (jobs, workers, events; its SQL functions do the
fetching, locking and retrying), plus the harness's: lab hosts, their devices (tags, health,
quarantine), reservations and what each job's run gave. Made on first use under an advisory lock, so
agents starting together make it once."""

from __future__ import annotations

from procrastinate.schema import SchemaManager

from .db import Conn

SCHEMA_LOCK = 0x6861726E  # pg_advisory_lock key: "harn"

HARNESS_SCHEMA = """
CREATE TABLE IF NOT EXISTS harness_hosts (
    name text PRIMARY KEY,
    instance text NOT NULL,
    pid integer NOT NULL,
    machine text NOT NULL DEFAULT '',
    worker_id bigint,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz
);
CREATE TABLE IF NOT EXISTS harness_devices (
    name text PRIMARY KEY,
    host text NOT NULL REFERENCES harness_hosts(name),
    kind text NOT NULL DEFAULT '',
    profile text NOT NULL DEFAULT '',
    tags text[] NOT NULL DEFAULT '{}',
    health text NOT NULL DEFAULT 'unknown',
    health_at timestamptz,
    quarantined boolean NOT NULL DEFAULT false,
    quarantine_reason text,
    quarantine_by_hand boolean NOT NULL DEFAULT false,
    registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS harness_reservations (
    device text PRIMARY KEY REFERENCES harness_devices(name),
    owner text NOT NULL,
    since timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS harness_job_runs (
    job_id bigint PRIMARY KEY,
    device text NOT NULL,
    host text,
    state text NOT NULL,
    verdict text,
    exit_code integer,
    run_id text,
    bundle_path text,
    bundle_sha256 text,
    note text,
    starts integer NOT NULL DEFAULT 0,
    first_started_at timestamptz,
    started_at timestamptz,
    ended_at timestamptz
);
-- Who ended a stalled job by hand (harness cancel --force): nothing its host's agent records later
-- overwrites that end.
ALTER TABLE harness_job_runs ADD COLUMN IF NOT EXISTS ended_by text;
"""


def ensure_schema(conn: Conn) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        row = conn.execute("SELECT to_regclass('procrastinate_jobs') AS t").fetchone()
        if row is None or row["t"] is None:
            conn.execute(SchemaManager.get_schema())
        conn.execute(HARNESS_SCHEMA)
