"""The agent's batched steps on the real PostgreSQL: one round trip fetches the next job of each free
device (the oldest of its own queue and its tags' queues, priorities first) and never two of one device;
one gates several jobs, each by its own device's lease; a tag job claims its device only while the
device runs nothing, procrastinate's unique index backing that."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from harness.agent import health, leases
from harness.agent import queue as jobq
from harness.agent.dburl import conninfo
from harness.agent.names import HEALTH_TASK
from harness.agent.schema import ensure_schema
from harness.waiting import poll_until
from tests.agent_fixtures import agent_pg, queue_db  # noqa: F401  (fixtures)

T = ("t",)


@pytest.fixture
def conn(queue_db: str) -> Iterator[psycopg.Connection]:  # noqa: F811
    """A queue with host h and its devices h-a and h-b, both tagged t."""
    with psycopg.connect(conninfo(queue_db), autocommit=True, row_factory=dict_row) as c:
        ensure_schema(c)
        c.execute("INSERT INTO harness_hosts (name, instance, pid) VALUES ('h', 'i', 1)")
        c.execute("INSERT INTO harness_devices (name, host, tags) VALUES ('h-a', 'h', '{t}'), ('h-b', 'h', '{t}')")
        yield c


def own(device: str) -> jobq.JobRequest:
    return jobq.JobRequest(device=device, host="h")


def tagged(tag: str = "t") -> jobq.JobRequest:
    return jobq.JobRequest(device="", host="", tag=tag)


def take(conn: psycopg.Connection, device: str, worker: int, tags: tuple[str, ...] = T) -> int | None:
    """What the agent does for one free device: fetch its next job, claim it if it is a tag job, run it
    (at once done); the job's id, or None when there was nothing for it."""
    with conn.transaction():
        fetched = jobq.fetch_next(conn, "h", [(device, tags)], worker)
        if not fetched:
            return None
        [(_, job)] = fetched
        if job.tag and not job.device:
            assert jobq.claim(conn, [(job.id, device)], "h") == [True]
    assert jobq.finish(conn, job.id, "succeeded")
    return job.id


def test_one_fetch_takes_a_job_per_device_never_two_of_one_and_gates_each_by_its_lease(conn) -> None:
    ids = jobq.submit_many(conn, [own(d) for d in ("h-a", "h-a", "h-b", "h-a")])
    worker = jobq.register_worker(conn)
    # h-a asked for twice in one round trip (as a bug might): its second fetch finds its first running.
    with conn.transaction():
        jobs = jobq.fetch_next(conn, "h", [("h-a", ()), ("h-a", ()), ("h-b", ())], worker)
    assert sorted((d, j.id) for d, j in jobs) == [("h-a", ids[0]), ("h-b", ids[2])]
    with conn.transaction():
        assert jobq.fetch_next(conn, "h", [("h-a", ()), ("h-b", ())], worker) == []  # each runs its job
    # A lease on h-b (written straight in: reserve refuses while h-b runs a job).
    conn.execute(
        "INSERT INTO harness_reservations (device, owner, expires_at)"
        " VALUES ('h-b', 'alice', now() + interval '1 hour')"
    )
    with conn.transaction():
        gates = leases.check_gates(conn, [(d, j.task, j.id) for d, j in sorted(jobs, key=lambda x: x[0])])
    (a, a_starts), (b, _) = gates
    assert a.go and a_starts == 0
    assert not b.go and b.until is not None and "alice" in (b.note or "")


def test_a_busy_device_takes_the_older_tag_job_before_its_own_and_its_own_older_before_a_tag_job(conn) -> None:
    # h-a always has jobs of its own waiting; tag jobs arrive in between.
    ids = jobq.submit_many(conn, [own("h-a"), own("h-a"), tagged(), own("h-a"), tagged(), tagged(),
                                  own("h-a")])
    worker = jobq.register_worker(conn)
    order = []
    while (job := take(conn, "h-a", worker)) is not None:
        order.append(job)
    assert order == ids  # by age, whichever queue each is on
    # A tag of another device is no job of h-a's.
    [other] = jobq.submit_many(conn, [tagged("u")])
    assert take(conn, "h-a", worker) is None
    assert take(conn, "h-a", worker, ("u",)) == other


def test_a_health_check_goes_before_older_tag_jobs_and_a_reserved_or_quarantined_device_takes_none(conn) -> None:
    worker = jobq.register_worker(conn)
    runs = jobq.submit_many(conn, [tagged(), own("h-a")])
    check = jobq.submit(conn, jobq.JobRequest(device="h-a", host="h", kind=HEALTH_TASK, suites=("smoke",)))
    assert check is not None
    assert take(conn, "h-a", worker) == check  # its priority first
    assert [take(conn, "h-a", worker), take(conn, "h-a", worker)] == runs

    jobq.submit_many(conn, [tagged()])
    health.set_quarantine(conn, "h-a", True, "by hand")
    conn.execute("INSERT INTO harness_reservations (device, owner, expires_at)"
                 " VALUES ('h-b', 'alice', now() + interval '1 hour')")
    assert take(conn, "h-a", worker) is None and take(conn, "h-b", worker) is None  # the tag job waits
    again = jobq.submit(conn, jobq.JobRequest(device="h-a", host="h", kind=HEALTH_TASK, suites=("smoke",)))
    assert take(conn, "h-a", worker) == again  # how a quarantined device gets out of it


def test_a_tag_job_claims_a_device_only_while_it_runs_nothing_and_the_index_backs_that(conn) -> None:
    [busy] = jobq.submit_many(conn, [own("h-a")])
    tag_jobs = jobq.submit_many(conn, [tagged() for _ in range(3)])
    worker = jobq.register_worker(conn)
    with conn.transaction():
        [(_, first)] = jobq.fetch_next(conn, "h", [("h-a", ())], worker)  # no tags: only its own
    assert first.id == busy
    with conn.transaction():
        fetched = jobq.fetch_next(conn, "h", [("h-a", T), ("h-b", T)], worker)
        assert [(d, j.id, j.tag, j.device) for d, j in fetched] == [
            ("h-a", tag_jobs[0], "t", ""), ("h-b", tag_jobs[1], "t", "")]
        assert jobq.claim(conn, [(tag_jobs[0], "h-a"), (tag_jobs[1], "h-b")], "h") == [False, True]
        assert jobq.hand_back(conn, tag_jobs[0])  # as the agent does with a job that got no device
    row = conn.execute("SELECT lock, queue_name, args->>'device' AS d FROM procrastinate_jobs WHERE id = %s",
                       (tag_jobs[1],)).fetchone()
    assert row == {"lock": "device:h-b", "queue_name": "host:h", "d": "h-b"}
    # Past the check, procrastinate's unique index on the running jobs' locks still refuses a second.
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("UPDATE procrastinate_jobs SET lock = 'device:h-a' WHERE id = %s", (tag_jobs[1],))
    # Rolled back, a fetched job is queued as it was; the next fetch gets it again.
    assert jobq.finish(conn, busy, "succeeded")
    with conn.transaction():
        [(_, again)] = jobq.fetch_next(conn, "h", [("h-a", T)], worker)
        raise psycopg.Rollback()
    assert again.id == tag_jobs[0] and take(conn, "h-a", worker) == tag_jobs[0]  # still first in its queue


def test_a_job_of_the_hosts_queue_for_a_device_it_does_not_serve_is_found(conn) -> None:
    conn.execute("INSERT INTO harness_devices (name, host) VALUES ('h-gone', 'h')")
    ids = jobq.submit_many(conn, [own("h-gone"), own("h-a")])
    assert [j.id for j in jobq.foreign_jobs(conn, "h", ["h-a", "h-b"])] == ids[:1]


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
