"""The agent's batched steps on the real PostgreSQL: one round trip fetches a job per free device and
never two of one device; one gates several jobs, each by its own device's lease."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from harness.agent import leases
from harness.agent import queue as jobq
from harness.agent.dburl import conninfo
from harness.agent.schema import ensure_schema
from tests.agent_fixtures import agent_pg, queue_db  # noqa: F401  (fixtures)


def test_one_fetch_takes_a_job_per_device_never_two_of_one_and_gates_each_by_its_lease(
    queue_db: str,  # noqa: F811
) -> None:
    with psycopg.connect(conninfo(queue_db), autocommit=True, row_factory=dict_row) as conn:
        ensure_schema(conn)
        conn.execute("INSERT INTO harness_hosts (name, instance, pid) VALUES ('h', 'i', 1)")
        conn.execute("INSERT INTO harness_devices (name, host) VALUES ('h-a', 'h'), ('h-b', 'h')")
        ids = jobq.submit_many(
            conn, [jobq.JobRequest(device=d, host="h") for d in ("h-a", "h-a", "h-b", "h-a")]
        )
        worker = jobq.register_worker(conn)
        jobs = jobq.fetch_many(conn, "h", worker, 4)
        assert sorted((j.device, j.id) for j in jobs) == [("h-a", ids[0]), ("h-b", ids[2])]
        assert jobq.fetch_many(conn, "h", worker, 4) == []  # each device has its job running
        # A lease on h-b (written straight in: reserve refuses while h-b runs a job).
        conn.execute(
            "INSERT INTO harness_reservations (device, owner, expires_at)"
            " VALUES ('h-b', 'alice', now() + interval '1 hour')"
        )
        with conn.transaction():
            gates = leases.check_gates(
                conn, [(j.device, j.task, j.id) for j in sorted(jobs, key=lambda j: j.device)]
            )
        (a, a_starts), (b, _) = gates
        assert a.go and a_starts == 0
        assert not b.go and b.until is not None and "alice" in (b.note or "")
