"""The agent's batched steps on the real PostgreSQL: one round trip fetches a job per free device and
never two of one device; one gates several jobs, each by its own device's lease."""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg.rows import dict_row

from harness.agent import leases
from harness.agent import queue as jobq
from harness.agent.dburl import conninfo
from harness.agent.schema import ensure_schema
from harness.waiting import poll_until
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


def test_a_tag_job_claims_a_device_only_while_it_runs_nothing_and_the_index_backs_that(
    queue_db: str,  # noqa: F811
) -> None:
    with psycopg.connect(conninfo(queue_db), autocommit=True, row_factory=dict_row) as conn:
        ensure_schema(conn)
        conn.execute("INSERT INTO harness_hosts (name, instance, pid) VALUES ('h', 'i', 1)")
        conn.execute("INSERT INTO harness_devices (name, host, tags) VALUES ('h-a', 'h', '{t}'), ('h-b', 'h', '{t}')")
        [busy] = jobq.submit_many(conn, [jobq.JobRequest(device="h-a", host="h")])
        tagged = jobq.submit_many(conn, [jobq.JobRequest(device="", host="", tag="t") for _ in range(3)])
        worker = jobq.register_worker(conn)
        assert [j.id for j in jobq.fetch_many(conn, "h", worker, 2)] == [busy]  # tag jobs are not the host's
        with conn.transaction():
            fetched = jobq.fetch_tagged(conn, [("h-a", ("t",)), ("h-b", ("t",))], worker)
            assert [(d, j.id, j.tag, j.device) for d, j in fetched] == [
                ("h-a", tagged[0], "t", ""), ("h-b", tagged[1], "t", "")]
            assert jobq.claim(conn, [(tagged[0], "h-a"), (tagged[1], "h-b")], "h") == [False, True]
            assert jobq.hand_back(conn, tagged[0])  # as the agent does with a job that got no device
        row = conn.execute("SELECT lock, queue_name, args->>'device' AS d FROM procrastinate_jobs WHERE id = %s",
                           (tagged[1],)).fetchone()
        assert row == {"lock": "device:h-b", "queue_name": "host:h", "d": "h-b"}
        # Past the check, procrastinate's unique index on the running jobs' locks still refuses a second.
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("UPDATE procrastinate_jobs SET lock = 'device:h-a' WHERE id = %s", (tagged[1],))
        # Rolled back, a fetched job is queued as it was; the next fetch gets it again.
        with conn.transaction():
            [(_, again)] = jobq.fetch_tagged(conn, [("h-b", ("t",))], worker)
            raise psycopg.Rollback()
        [(_, first)] = jobq.fetch_tagged(conn, [("h-b", ("t",))], worker)
        assert again.id == first.id == tagged[0] and first.device == ""  # still first in its queue


def test_a_lease_committed_while_a_gate_waits_for_the_device_is_seen_by_that_gate(
    queue_db: str,  # noqa: F811
) -> None:
    # reserve() holds the device's row lock while it writes the lease; the agent's gate waits for that
    # lock. A gate that read the leases in the statement that waited would not see this one and start.
    with psycopg.connect(conninfo(queue_db), autocommit=True, row_factory=dict_row) as gate_conn, \
            psycopg.connect(conninfo(queue_db), autocommit=True, row_factory=dict_row) as lease_conn:
        ensure_schema(gate_conn)
        gate_conn.execute("INSERT INTO harness_hosts (name, instance, pid) VALUES ('g', 'i', 1)")
        gate_conn.execute("INSERT INTO harness_devices (name, host) VALUES ('g-a', 'g')")
        [job] = jobq.submit_many(gate_conn, [jobq.JobRequest(device="g-a", host="g")])
        gate_pid = gate_conn.info.backend_pid
        gates: list[tuple[leases.Gate, int]] = []
        with lease_conn.transaction():
            lease_conn.execute("SELECT name FROM harness_devices WHERE name = 'g-a' FOR UPDATE")
            lease_conn.execute(
                "INSERT INTO harness_reservations (device, owner, expires_at)"
                " VALUES ('g-a', 'alice', now() + interval '1 hour')"
            )

            def gate() -> None:
                with gate_conn.transaction():
                    gates.extend(leases.check_gates(gate_conn, [("g-a", "run", job)]))

            waiter = threading.Thread(target=gate)
            waiter.start()
            poll_until(lambda: lease_conn.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (gate_pid,)
            ).fetchone() == {"wait_event_type": "Lock"}, 30, what="the gate to wait for the device's lock")
        waiter.join(30)
        [(decision, _)] = gates
        assert not decision.go and "alice" in (decision.note or "")


def test_a_run_record_ended_by_hand_is_final_whatever_an_agent_records_after(
    queue_db: str,  # noqa: F811
) -> None:
    with psycopg.connect(conninfo(queue_db), autocommit=True, row_factory=dict_row) as conn:
        ensure_schema(conn)
        conn.execute("INSERT INTO harness_hosts (name, instance, pid) VALUES ('e', 'i', 1)")
        conn.execute("INSERT INTO harness_devices (name, host) VALUES ('e-a', 'e')")
        [job] = jobq.submit_many(conn, [jobq.JobRequest(device="e-a", host="e")])
        jobq.record_run(conn, jobq.RunRecord(job_id=job, device="e-a", state="running", host="e", started=True))
        jobq.record_run(conn, jobq.RunRecord(job_id=job, device="e-a", state="error", ended=True,
                                             ended_by="admin", note="ended by admin"))
        # The returning agent's result, its hand-back and a restart: none of them lands.
        for late in (
            jobq.RunRecord(job_id=job, device="e-a", state="pass", host="e", verdict="CERTIFIED", ended=True),
            jobq.RunRecord(job_id=job, device="e-a", state="queued", host="e", note="handed back"),
            jobq.RunRecord(job_id=job, device="e-a", state="running", host="e", started=True),
        ):
            jobq.record_run(conn, late)
        row = conn.execute("SELECT state, verdict, note, ended_by, starts FROM harness_job_runs WHERE job_id = %s",
                           (job,)).fetchone()
        assert row == {"state": "error", "verdict": None, "note": "ended by admin", "ended_by": "admin", "starts": 1}
