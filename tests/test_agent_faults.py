"""The multi-host lab under trouble, and its reservations and quarantine: an agent SIGKILLed mid-job,
PostgreSQL restarted mid-run, an agent cut off from the database, two agents claiming one device,
leases that hold jobs and refuse `harness exec`, health checks that quarantine a device and release it.
Every check of exclusivity and exactly-once is read from the devices' own command logs."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.lab.faults import Faults
from harness.waiting import poll_until
from tests.agent_fixtures import (  # noqa: F401  (fixtures)
    SUITES,
    Labs,
    agent_pg,
    devices_json,
    harness,
    jobs_json,
    probe_agent,
    queue_db,
    sql,
    suite_agent,
    three_labs,
    wait_all_done,
)
from tests.agent_peers import JOB_MARK, CuttableProxy, command_logs, completed_jobs, overlaps
from tests.pg_peer import PostgresCluster

# Real agents, labs and runs: well within this on a quiet machine; the bound is for a loaded one.
pytestmark = [pytest.mark.peer("postgresql"), pytest.mark.timeout(300)]


def submit(db: str, *args: str) -> list[int]:
    done = harness("submit", "--db", db, "--json", *args)
    assert done.returncode == 0, done.stderr
    return [j["id"] for j in json.loads(done.stdout)]


def wait_state(db: str, job_id: int, *states: str, timeout: float = 60) -> dict[str, object]:
    return poll_until(lambda: (j := jobs_json(db).get(job_id)) and j["state"] in states and j, timeout,
                      interval=0.2, what=f"job {job_id} to be {'/'.join(states)}")


def exactly_once(inventory_logs: dict[str, list], jobs: dict[int, str]) -> None:
    """From the devices' own logs: no two commands at once on a device, and each job's command ran once
    (started once, on its device, and ran to its end)."""
    assert overlaps(inventory_logs) == []
    runs = completed_jobs(inventory_logs)
    assert {k: n for k, n in runs.items() if k[0] in jobs} == {(j, d): 1 for j, d in jobs.items()}
    started = Counter(int(m[1]) for cmds in inventory_logs.values() for c in cmds if (m := JOB_MARK.search(c.cmd)))
    assert {j: n for j, n in started.items() if j in jobs} == dict.fromkeys(jobs, 1)


def test_an_agent_killed_mid_job_its_run_is_resumed_never_run_twice_at_once(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    inventory = three_labs.inventories["host-a"]
    since = time.time()
    env = {"TICK_SECONDS": "3"}
    first = suite_agent(queue_db, inventory, "host-a", tmp_path, env=env)
    second = None
    try:
        first.wait_registered()
        ids = submit(queue_db, "tick", "--suites-root", str(SUITES), "--device", "host-a-05", "--device", "host-a-05")
        # The first job's command is on the device: kill its agent (no chance to clean up).
        poll_until(lambda: any(f"harness-job {ids[0]} run begin" in c.cmd
                               for c in command_logs(inventory, since)["host-a-05"]), 120, interval=0.1,
                   what="the first job's command to start")
        first.kill()
        # Its host silent past the timeout (as if for good): the job is stalled, never "running".
        sql(queue_db, "UPDATE harness_hosts SET heartbeat_at = now() - interval '1 hour' WHERE name = 'host-a'")
        stalled = jobs_json(queue_db)[ids[0]]
        assert stalled["state"] == "stalled" and "silent since" in str(stalled["note"]), stalled
        second = suite_agent(queue_db, inventory, "host-a", tmp_path, env=env, log="second")
        second.wait_registered()
        states = wait_all_done(queue_db, 2, timeout=180)
    finally:
        first.kill()
        if second is not None:
            second.stop()
    assert {s for s, _, _ in states.values()} == {"pass"}, second.text() if second else ""
    assert "marked running, not running here; queued again" in second.text()
    starts = dict(sql(queue_db, "SELECT job_id, starts FROM harness_job_runs"))
    assert starts == {ids[0]: 2, ids[1]: 1}  # the first resumed its run (nothing left to redo)
    exactly_once(command_logs(inventory, since), {ids[0]: "host-a-05", ids[1]: "host-a-05"})


def test_postgresql_restarted_mid_run_agents_reconnect_nothing_lost(
        agent_pg: PostgresCluster, queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    since = time.time()
    hosts = ("host-a", "host-b")
    agents = [probe_agent(queue_db, three_labs.inventories[h], h, tmp_path / f"{h}.log", "--job-seconds", "0.3")
              for h in hosts]
    try:
        for a in agents:
            a.wait_registered()
        names = [f"{h}-{i:02d}" for h in hosts for i in range(10)]
        ids = submit(queue_db, *[a for i in range(60) for a in ("--device", names[i % 20])])
        poll_until(lambda: sql(queue_db, "SELECT count(*) FROM harness_job_runs WHERE state = 'pass'")[0][0] >= 10,
                   60, interval=0.1, what="some jobs to finish")
        agent_pg._run("pg_ctl", "-D", str(agent_pg.data), "-l", str(agent_pg.base / "server.log"), "-m", "fast",
                     "-w", "restart")
        states = wait_all_done(queue_db, 60, timeout=120)
    finally:
        for a in agents:
            a.stop()
    assert {s for s, _, _ in states.values()} == {"pass"}
    assert any("running jobs go on" in a.text() for a in agents)  # they did lose the database
    logs = {d: c for h in hosts for d, c in command_logs(three_labs.inventories[h], since).items()}
    exactly_once(logs, {j: names[i % 20] for i, j in enumerate(ids)})


def test_an_agent_cut_off_from_the_database_starts_no_job_twice_and_resumes(
        agent_pg: PostgresCluster, queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    since = time.time()
    proxy = CuttableProxy(agent_pg.port)
    cut_url = queue_db.replace(f":{agent_pg.port}/", f":{proxy.port}/")
    inventory = three_labs.inventories["host-b"]
    agent = probe_agent(cut_url, inventory, "host-b", tmp_path / "b.log", "--job-seconds", "0.5",
                        "--host-timeout", "2")
    try:
        agent.wait_registered()
        names = [f"host-b-{i:02d}" for i in range(10)]
        ids = submit(queue_db, *[a for i in range(40) for a in ("--device", names[i % 10])])
        poll_until(lambda: sql(queue_db, "SELECT count(*) FROM harness_job_runs WHERE state = 'pass'")[0][0] >= 5,
                   60, interval=0.05, what="some jobs to finish")
        proxy.cut()
        poll_until(lambda: "running jobs go on" in agent.text(), 30, interval=0.05, what="the agent to notice")
        # Cut off past its host timeout: whatever was running finishes on the devices meanwhile.
        poll_until(lambda: all(c.end is not None for cs in command_logs(inventory, since).values() for c in cs)
                   and sql(queue_db, "SELECT bool_and(heartbeat_at < now() - interval '2 seconds')"
                                     " FROM harness_hosts")[0][0], 30, interval=0.1,
                   what="the running jobs to end while the agent is cut off")
        during = sql(queue_db, "SELECT count(*) FROM harness_job_runs WHERE state = 'running'")[0][0]
        proxy.restore()
        states = wait_all_done(queue_db, 40, timeout=120)
    finally:
        agent.stop()
        proxy.cut()
    assert during >= 1  # jobs were in flight when it was cut off, recorded only once it was back
    assert {s for s, _, _ in states.values()} == {"pass"}
    assert "queue database back" in agent.text()
    exactly_once(command_logs(inventory, since), {j: names[i % 10] for i, j in enumerate(ids)})


def test_two_agents_claiming_the_same_device_or_host_are_refused(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    inventory = three_labs.inventories["host-c"]
    owner = probe_agent(queue_db, inventory, "host-c", tmp_path / "c.log")
    try:
        owner.wait_registered()
        other = probe_agent(queue_db, inventory, "intruder", tmp_path / "i.log")
        assert other.proc.wait(timeout=60) == 3
        assert "cannot claim device 'host-c-00' (registered to host 'host-c', whose agent is alive)" in other.text()
        twin = probe_agent(queue_db, inventory, "host-c", tmp_path / "t.log")
        assert twin.proc.wait(timeout=60) == 3
        assert "host 'host-c' already has a live agent" in twin.text()
    finally:
        assert owner.stop() == 0
    assert {h for (h,) in sql(queue_db, "SELECT DISTINCT host FROM harness_devices")} == {"host-c"}


def test_a_reservation_holds_queued_jobs_refuses_others_exec_and_expires(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    inventory = three_labs.inventories["host-b"]
    since = time.time()
    agent = probe_agent(queue_db, inventory, "host-b", tmp_path / "b.log", "--job-seconds", "0.1")
    env = {"HARNESS_DB": queue_db}
    try:
        agent.wait_registered()
        mine = harness("reserve", "host-b-01", "--for", "10m", "--owner", "alice", "--db", queue_db)
        assert mine.returncode == 0 and "host-b-01: reserved by alice until" in mine.stdout, mine.stderr
        theirs = harness("reserve", "host-b-01", "--for", "10m", "--owner", "bob", "--db", queue_db)
        assert theirs.returncode == 3 and "reserved by alice" in theirs.stderr
        [held] = submit(queue_db, "--device", "host-b-01")
        view = wait_state(queue_db, held, "waiting")
        assert "reserved by alice" in str(view["note"])
        bob = harness("-i", str(inventory), "exec", "host-b-01", "--", "true", env={**env, "HARNESS_OWNER": "bob"})
        assert bob.returncode == 255 and "device 'host-b-01' is reserved by alice" in bob.stderr
        forced = harness("-i", str(inventory), "exec", "host-b-01", "--force", "--", "echo forced",
                         env={**env, "HARNESS_OWNER": "bob"})
        assert forced.returncode == 0 and forced.stdout.strip() == "forced"
        alice = harness("-i", str(inventory), "exec", "host-b-01", "--", "echo alice", env={**env, "HARNESS_OWNER": "alice"})
        assert alice.returncode == 0 and alice.stdout.strip() == "alice"
        assert jobs_json(queue_db)[held]["state"] == "waiting"
        released_at = time.time()
        done = harness("reserve", "host-b-01", "--release", "--owner", "alice", "--db", queue_db)
        assert done.returncode == 0 and "released" in done.stdout
        wait_state(queue_db, held, "pass")
        # A short lease ends by itself: its waiting job goes once it expires, nobody releasing it.
        short = harness("reserve", "--tag", "bench-b", "--for", "3s", "--owner", "carol", "--db", queue_db)
        assert short.returncode == 0, short.stderr
        leased = short.stdout.split(":")[0]
        [(expires,)] = sql(queue_db, "SELECT extract(epoch FROM expires_at) FROM harness_reservations"
                                     " WHERE device = %s", leased)
        [later] = submit(queue_db, "--device", leased)
        wait_state(queue_db, later, "pass", timeout=30)
        # A waiting job cancelled never runs.
        assert harness("reserve", leased, "--for", "10m", "--owner", "carol", "--db", queue_db).returncode == 0
        [cancelled] = submit(queue_db, "--device", leased)
        wait_state(queue_db, cancelled, "waiting")
        # Someone else's job: refused (exit 3, as for a reservation) unless forced (its submitter's own
        # cancel is in the SIGTERM test).
        theirs = harness("cancel", str(cancelled), "--owner", "mallory", "--db", queue_db)
        assert theirs.returncode == 3 and f"job {cancelled}: submitted by " in theirs.stderr, theirs.stderr
        assert jobs_json(queue_db)[cancelled]["state"] == "waiting"
        gone = harness("cancel", str(cancelled), "--owner", "mallory", "--force", "--db", queue_db)
        assert gone.returncode == 0 and f"job {cancelled}: cancelled" in gone.stdout
        assert harness("reserve", leased, "--release", "--owner", "carol", "--db", queue_db).returncode == 0
        assert jobs_json(queue_db)[cancelled]["state"] == "cancelled"
    finally:
        agent.stop()
    logs = command_logs(inventory, since)
    job_cmds = [c for c in logs["host-b-01"] if f"harness-job {held} " in c.cmd]
    assert len(job_cmds) == 1 and job_cmds[0].start >= released_at  # it waited for the release
    assert overlaps(logs) == []
    assert not any(f"harness-job {cancelled} " in c.cmd for c in logs[leased])
    [after] = [c for c in logs[leased] if f"harness-job {later} " in c.cmd]
    assert after.start >= float(expires)  # type: ignore[arg-type]


def test_a_failed_health_check_quarantines_a_device_until_one_passes_or_an_admin_releases_it(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    inventory = three_labs.inventories["host-c"]
    lab = next(lab for lab in three_labs.labs if lab.inventory_path == inventory.resolve())
    lab.set_faults("host-c-00", Faults(hang_commands=(r"harness-job \d+ health",)))
    agent = probe_agent(queue_db, inventory, "host-c", tmp_path / "c.log", "--health-every", "3",
                        "--job-timeout", "2", "--job-seconds", "0.05")
    try:
        agent.wait_registered()
        poll_until(lambda: devices_json(queue_db)["host-c-00"]["quarantined"], 60, interval=0.2,
                   what="the device to be quarantined")
        healthy = devices_json(queue_db)["host-c-01"]
        assert not healthy["quarantined"] and healthy["health"] == "pass"
        [held] = submit(queue_db, "--device", "host-c-00")
        view = wait_state(queue_db, held, "waiting")
        assert "quarantined: health check failed" in str(view["note"])
        lab.set_faults("host-c-00", Faults())  # repaired: the next check passes and lets the run go
        wait_state(queue_db, held, "pass", timeout=60)
        assert devices_json(queue_db)["host-c-00"]["health"] == "pass"
        by_hand = harness("quarantine", "host-c-02", "--db", queue_db)
        assert by_hand.returncode == 0
        [second] = submit(queue_db, "--device", "host-c-02")
        wait_state(queue_db, second, "waiting")
        assert harness("quarantine", "host-c-02", "--release", "--db", queue_db).returncode == 0
        wait_state(queue_db, second, "pass")
    finally:
        lab.set_faults("host-c-00", Faults())
        agent.stop()


def test_sigterm_finishes_running_jobs_a_second_hands_them_back_and_cancel_stops_one(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    inventory = three_labs.inventories["host-b"]
    since = time.time()

    def running(job_id: int, device: str) -> bool:
        return any(f"harness-job {job_id} run begin" in c.cmd for c in command_logs(inventory, since)[device])

    first = probe_agent(queue_db, inventory, "host-b", tmp_path / "1.log", "--job-seconds", "2")
    try:
        first.wait_registered()
        x1, x2, y1 = submit(queue_db, "--device", "host-b-07", "--device", "host-b-07", "--device", "host-b-08")
        poll_until(lambda: running(x1, "host-b-07") and running(y1, "host-b-08"), 60, interval=0.05,
                   what="both jobs to start")
        first.proc.send_signal(signal.SIGTERM)  # once: the running jobs finish, nothing new starts
        assert first.proc.wait(timeout=60) == 0
    finally:
        first.kill()
    views = jobs_json(queue_db)
    assert (views[x1]["state"], views[y1]["state"], views[x2]["state"]) == ("pass", "pass", "queued")
    second = probe_agent(queue_db, inventory, "host-b", tmp_path / "2.log", "--job-seconds", "60")
    try:
        second.wait_registered()
        [y2] = submit(queue_db, "--device", "host-b-08")
        poll_until(lambda: running(x2, "host-b-07") and running(y2, "host-b-08"), 60, interval=0.05,
                   what="both jobs to start")
        cancelled = harness("cancel", str(y2), "--db", queue_db)
        assert cancelled.returncode == 0 and "its agent stops it" in cancelled.stdout
        wait_state(queue_db, y2, "cancelled", timeout=30)
        second.proc.send_signal(signal.SIGTERM)
        poll_until(lambda: "stopping: no new jobs" in second.text(), 30, interval=0.05, what="the first signal")
        second.proc.send_signal(signal.SIGTERM)  # again: stop the running job, hand it back
        assert second.proc.wait(timeout=60) == 0
    finally:
        second.kill()
    view = jobs_json(queue_db)[x2]
    assert view["state"] == "queued" and "handed back" in str(view["note"])
    third = probe_agent(queue_db, inventory, "host-b", tmp_path / "3.log", "--job-seconds", "0.05")
    try:
        third.wait_registered()
        wait_state(queue_db, x2, "pass", timeout=60)
    finally:
        third.stop()
    logs = command_logs(inventory, since)
    assert overlaps(logs) == []
    runs = completed_jobs(logs)
    assert runs[(x2, "host-b-07")] == 1 and runs[(y2, "host-b-08")] == 0  # stopped ones never ran to their end
