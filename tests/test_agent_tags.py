"""Jobs for "any device tagged T", resolved when they start, and a stalled job ended by hand: on the real
PostgreSQL, with agents as separate processes over the simulated labs. What the devices' own command
logs say is the proof that no device ran two jobs at once."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from harness.agent import queue as jobq
from harness.agent.dburl import conninfo
from harness.waiting import poll_until
from tests.agent_fixtures import (  # noqa: F401  (fixtures)
    AgentProcess,
    Labs,
    agent_pg,
    harness,
    jobs_json,
    probe_agent,
    queue_db,
    sql,
    three_labs,
    wait_all_done,
)
from tests.agent_peers import command_logs, completed_jobs, overlaps

pytestmark = [pytest.mark.peer("postgresql"), pytest.mark.timeout(300)]


def submit(db: str, *args: str) -> list[dict[str, object]]:
    done = harness("submit", "--db", db, "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_state(db: str, job_id: int, *states: str, timeout: float = 60) -> dict[str, object]:
    return poll_until(lambda: (j := jobs_json(db).get(job_id)) and j["state"] in states and j, timeout,
                      interval=0.1, what=f"job {job_id} to be {'/'.join(states)}")


def began(inventory: Path, since: float, job_id: int) -> bool:
    return any(f"harness-job {job_id} run begin" in c.cmd for cs in command_logs(inventory, since).values()
               for c in cs)


def start_one_job_then_freeze(db: str, agent: AgentProcess, inventory: Path, since: float, device: str) -> int:
    """Submit a job for `device`, wait for its command to start on the device, then SIGSTOP the agent
    (the caller SIGCONTs it, in a finally too). The job's id."""
    [job] = [int(j["id"]) for j in submit(db, "--device", device)]  # type: ignore[call-overload]
    poll_until(lambda: began(inventory, since, job), 60, interval=0.05, what="the job's command to start")
    os.kill(agent.proc.pid, signal.SIGSTOP)
    return job


def one_command(logs: dict[str, list], job_id: int):  # -> (device, LoggedCommand)
    [(device, cmd)] = [(d, c) for d, cs in logs.items() for c in cs if f"harness-job {job_id} " in c.cmd]
    return device, cmd


def tagged_inventory(labs: Labs, tag: str, boards: slice) -> Path:
    """Some of host-c's boards, tagged `tag` too, in an inventory of their own (same lab, same state)."""
    source = labs.inventories["host-c"]
    head, *tables = source.read_text().split("\n[devices.")
    kept = [t.replace('"bench-c"]', f'"bench-c", "{tag}"]', 1) for t in tables[boards]]
    path = source.parent / f"{tag}.toml"
    path.write_text("\n[devices.".join([head, *kept]))
    return path


def trio_inventory(labs: Labs) -> Path:
    """Three of host-c's boards, tagged "trio" too."""
    return tagged_inventory(labs, "trio", slice(0, 3))


def test_tag_jobs_spread_over_the_hosts_that_have_the_tag_never_two_at_once_on_a_device(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    since = time.time()
    hosts = ("host-a", "host-b")
    agents = [probe_agent(queue_db, three_labs.inventories[h], h, tmp_path / f"{h}.log", "--job-seconds", "0.2")
              for h in hosts]
    try:
        for a in agents:
            a.wait_registered()
        # Device jobs and tag jobs on the same devices, mixed.
        args = [a for i in range(60) for a in (("--tag", "kylin") if i % 3 else ("--device", f"{hosts[i % 2]}-{i % 10:02d}"))]
        queued = submit(queue_db, *args)
        tagged = {int(j["id"]) for j in queued if j["tag"]}  # type: ignore[call-overload]
        assert len(tagged) == 40 and all(j["device"] is None and j["host"] is None for j in queued if j["tag"])
        states = wait_all_done(queue_db, 60, timeout=180)
    finally:
        for a in agents:
            a.stop()
    assert {s for s, _, _ in states.values()} == {"pass"}, states
    assert {states[j][2] for j in tagged} == set(hosts)  # both hosts took tag jobs
    assert all(dev.startswith(str(host)) for _, dev, host in states.values())
    logs = {d: c for h in hosts for d, c in command_logs(three_labs.inventories[h], since).items()}
    assert overlaps(logs) == []
    runs = completed_jobs(logs)
    assert {k: n for k, n in runs.items() if k[0] in states} == {(j, dev): 1 for j, (_, dev, _) in states.items()}


def test_a_tag_job_waits_while_every_device_of_its_tag_is_busy_reserved_or_quarantined(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    inventory = trio_inventory(three_labs)
    since = time.time()
    # Every job runs until it is cancelled: the busy device stays busy however slowly this test goes.
    agent = probe_agent(queue_db, inventory, "host-trio", tmp_path / "trio.log", "--job-seconds", "3600")
    try:
        agent.wait_registered()
        assert harness("reserve", "host-c-01", "--for", "10m", "--owner", "alice", "--db", queue_db).returncode == 0
        assert harness("quarantine", "host-c-02", "--db", queue_db).returncode == 0
        [busy] = submit(queue_db, "--device", "host-c-00")
        wait_state(queue_db, int(busy["id"]), "running")  # type: ignore[call-overload]
        text = harness("submit", "--db", queue_db, "--tag", "trio")
        assert text.returncode == 0 and "on any device tagged trio (none of its 3 free now: it waits" in text.stdout
        first = int(text.stdout.split()[1].rstrip(":"))
        view = jobs_json(queue_db)[first]
        assert (view["state"], view["device"], view["tag"]) == ("queued", "", "trio")
        assert "waiting for any device tagged 'trio'" in str(view["note"])
        shown = harness("jobs", "--db", queue_db, "--active")
        assert f"{first:>6}  queued    tag:trio" in shown.stdout, shown.stdout
        # Unknown tags are refused: one line, exit 2.
        unknown = harness("submit", "--db", queue_db, "--tag", "tiro")
        assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "did you mean 'trio'" in unknown.stderr
        assert jobs_json(queue_db)[first]["state"] == "queued"  # still: nothing of its tag is free
        assert harness("cancel", str(busy["id"]), "--db", queue_db).returncode == 0
        started = wait_state(queue_db, first, "running", timeout=60)
        assert started["device"] == "host-c-00" and started["host"] == "host-trio"
        [second] = submit(queue_db, "--tag", "trio")
        released_at = time.time()
        assert harness("quarantine", "host-c-02", "--release", "--db", queue_db).returncode == 0
        assert wait_state(queue_db, int(second["id"]), "running", timeout=60)["device"] == "host-c-02"  # type: ignore[call-overload]
        for job in (first, int(second["id"])):  # type: ignore[call-overload]
            assert harness("cancel", str(job), "--db", queue_db).returncode == 0
            wait_state(queue_db, job, "cancelled", timeout=60)
    finally:
        agent.stop()
    logs = command_logs(inventory, since)
    assert overlaps(logs) == []
    _, busy_cmd = one_command(logs, int(busy["id"]))  # type: ignore[call-overload]
    device, first_cmd = one_command(logs, first)
    assert device == "host-c-00" and first_cmd.start >= (busy_cmd.end or 0)  # it waited for the busy job
    device, second_cmd = one_command(logs, int(second["id"]))  # type: ignore[call-overload]
    assert device == "host-c-02" and second_cmd.start >= released_at  # the first device freed
    assert not [c for c in logs["host-c-01"] if "harness-job" in c.cmd]  # the reserved one ran none


def test_a_stalled_job_ended_by_hand_is_stopped_by_its_agent_when_it_returns_and_never_overlaps(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    inventory = three_labs.inventories["host-a"]
    since = time.time()
    # Each run takes 2 s to stop (as `harness run` writing its records): long enough that a next job
    # started on the device meanwhile would overlap it.
    agent = probe_agent(queue_db, inventory, "host-a", tmp_path / "a.log", "--job-seconds", "15",
                        "--stop-delay", "2")
    stopped = False
    try:
        agent.wait_registered()
        old = start_one_job_then_freeze(queue_db, agent, inventory, since, "host-a-04")
        stopped = True

        def silent() -> bool:  # (again, should a heartbeat sent just before the stop land after it)
            sql(queue_db, "UPDATE harness_hosts SET heartbeat_at = now() - interval '1 hour' WHERE name = 'host-a'")
            return jobs_json(queue_db)[old]["state"] == "stalled"

        poll_until(silent, 10, interval=0.2, what="the job to show stalled")
        plain = harness("cancel", str(old), "--db", queue_db)  # its submitter, not forced: it may come back
        assert plain.returncode == 0 and "stalled (its host is silent)" in plain.stdout, plain.stdout
        ended = harness("cancel", str(old), "--force", "--owner", "admin", "--db", queue_db)
        assert ended.returncode == 0 and "ended by admin: its host host-a was silent since" in ended.stdout
        view = jobs_json(queue_db)[old]
        assert view["state"] == "error" and str(view["note"]).startswith("ended by admin"), view
        [new] = [int(j["id"]) for j in submit(queue_db, "--device", "host-a-04")]  # type: ignore[call-overload]
        os.kill(agent.proc.pid, signal.SIGCONT)
        stopped = False
        wait_state(queue_db, new, "pass", timeout=120)
    finally:
        if stopped:
            os.kill(agent.proc.pid, signal.SIGCONT)
        agent.stop()
    # The new job waited for the old run to stop (only a device free here fetches): see overlaps below.
    assert f"job {old} on host-a-04: ended elsewhere (ended by admin" in agent.text()
    view = jobs_json(queue_db)[old]
    assert view["state"] == "error" and str(view["note"]).startswith("ended by admin"), view  # nothing over it
    logs = command_logs(inventory, since)
    assert overlaps(logs) == []
    runs = completed_jobs(logs)
    assert runs[(old, "host-a-04")] == 0 and runs[(new, "host-a-04")] == 1


def test_a_device_with_a_steady_stream_of_its_own_jobs_still_takes_an_older_tag_job_next(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    inventory = tagged_inventory(three_labs, "solo", slice(5, 6))  # host-c-05 alone has the tag
    since = time.time()
    agent = probe_agent(queue_db, inventory, "host-solo", tmp_path / "solo.log", "--job-seconds", "1")
    device = jobq.JobRequest(device="host-c-05", host="host-solo")
    tag = jobq.JobRequest(device="", host="", tag="solo")
    try:
        agent.wait_registered()
        with psycopg.connect(conninfo(queue_db), autocommit=True, row_factory=dict_row) as conn:
            [first] = jobq.submit_many(conn, [device])
            wait_state(queue_db, first, "running")
            # While it runs, more of its own jobs and tag jobs between them, in one statement (ids in
            # this order): there is always a job of its own waiting when the device comes free.
            rest = jobq.submit_many(conn, [device, tag, device, device, tag, device])
        for job in (first, *rest):
            wait_state(queue_db, job, "pass", timeout=90)
    finally:
        agent.stop()
    logs = command_logs(inventory, since)
    assert overlaps(logs) == []
    starts = {job: one_command(logs, job) for job in (first, *rest)}
    assert {d for d, _ in starts.values()} == {"host-c-05"}
    assert sorted(starts, key=lambda j: starts[j][1].start) == [first, *rest]  # by age, own and tag alike



def test_a_job_of_its_hosts_queue_for_a_device_the_agent_does_not_serve_is_ended_as_an_error(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    # No fetch of the agent's asks for such a device (it fetches for its own free devices), so the sweep
    # must end the job, or it would wait for ever.
    inventory = tagged_inventory(three_labs, "solo", slice(5, 6))
    agent = probe_agent(queue_db, inventory, "host-solo", tmp_path / "solo.log")
    try:
        agent.wait_registered()
        # Registered to this host once, no longer in its inventory.
        sql(queue_db, "INSERT INTO harness_devices (name, host) VALUES ('host-c-gone', 'host-solo')")
        with psycopg.connect(conninfo(queue_db), autocommit=True, row_factory=dict_row) as conn:
            [gone, mine] = jobq.submit_many(conn, [jobq.JobRequest(device="host-c-gone", host="host-solo"),
                                                   jobq.JobRequest(device="host-c-05", host="host-solo")])
        ended = wait_state(queue_db, gone, "error", timeout=60)
        wait_state(queue_db, mine, "pass", timeout=60)
    finally:
        agent.stop()
    assert ended["note"] == "host host-solo has no device 'host-c-gone'", ended


def test_an_agent_whose_host_name_was_taken_while_it_was_frozen_stops_its_run_and_records_nothing(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    # The old agent is frozen past the host timeout; a new agent of the same host name takes the queue
    # and resumes the job. Thawed, the old one must neither finish its copy of the run nor record it
    # (it would mark the job done under the new run's feet).
    inventory = three_labs.inventories["host-b"]
    since = time.time()
    old_agent = probe_agent(queue_db, inventory, "host-b", tmp_path / "old.log", "--job-seconds", "10")
    new_agent = None
    frozen = False
    try:
        old_agent.wait_registered()
        job = start_one_job_then_freeze(queue_db, old_agent, inventory, since, "host-b-06")
        frozen = True
        sql(queue_db, "UPDATE harness_hosts SET heartbeat_at = now() - interval '1 hour' WHERE name = 'host-b'")
        new_agent = probe_agent(queue_db, inventory, "host-b", tmp_path / "new.log", "--job-seconds", "10")
        new_agent.wait_registered()
        poll_until(lambda: f"job {job} on host-b-06: marked running, not running here" in new_agent.text(), 60,
                   interval=0.1, what="the new agent to take the job back")
        os.kill(old_agent.proc.pid, signal.SIGCONT)
        frozen = False
        assert old_agent.proc.wait(60) == 0  # it stops: the host is no longer its own
        wait_state(queue_db, job, "pass", timeout=120)
    finally:
        if frozen:
            os.kill(old_agent.proc.pid, signal.SIGCONT)
        old_agent.stop()
        if new_agent is not None:
            new_agent.stop()
    assert "another agent has taken this host's name" in old_agent.text()
    assert f"job {job} on host-b-06: pass" not in old_agent.text()
    assert f"job {job} on host-b-06: pass" in new_agent.text()
    # The old copy of the run was stopped: only the new agent's ran to its end.
    assert completed_jobs(command_logs(inventory, since))[(job, "host-b-06")] == 1
