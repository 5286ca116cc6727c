"""The multi-host lab end to end: a real PostgreSQL, three agents as separate processes, each with its own
simulated lab (own ports, own inventory), 30 boards in all. What the devices' own command logs say is
the proof: no device ever ran two jobs at once, and every job ran exactly once, on its device."""

from __future__ import annotations

import hashlib
import json
import signal
import time
from pathlib import Path

import pytest

from tests.agent_fixtures import (  # noqa: F401  (fixtures)
    SUITES,
    Labs,
    agent_pg,
    harness,
    probe_agent,
    queue_db,
    suite_agent,
    three_labs,
    wait_all_done,
)
from tests.agent_peers import command_logs, completed_jobs, overlaps

# Real agents, labs and runs: well within this on a quiet machine; the bound is for a loaded one.
pytestmark = [pytest.mark.peer("postgresql"), pytest.mark.timeout(300)]


def test_three_agents_thirty_devices_two_hundred_jobs_each_exactly_once(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    since = time.time()
    agents = [probe_agent(queue_db, inv, host, tmp_path / f"{host}.log", "--job-seconds", "0.05")
              for host, inv in three_labs.inventories.items()]
    try:
        for a in agents:
            a.wait_registered()
        names = sorted(f"{h}-{i:02d}" for h in three_labs.inventories for i in range(10))
        args = [a for i in range(170) for a in ("--device", names[(i * 7) % len(names)])]
        args += [a for t in ("bench-a", "bench-b", "bench-c", "kylin") for a in ("--tag", t)] * 7 + ["--tag", "arm64"] * 2
        submitted = harness("submit", "--db", queue_db, "--json", *args)
        assert submitted.returncode == 0, submitted.stderr
        queued = json.loads(submitted.stdout)
        assert len(queued) == 200
        tags = {j["id"]: j["tag"] for j in queued if j["tag"]}  # resolved when they start
        states = wait_all_done(queue_db, 200, timeout=180)
        jobs = {j["id"]: j["device"] or states[j["id"]][1] for j in queued}
    finally:
        for a in agents:
            a.stop()
    assert {s for s, _, _ in states.values()} == {"pass"}, states
    # Each job ran on the host that has its device; a tag's job on a device of that tag.
    assert all(host and device.startswith(host) for _, device, host in states.values())
    assert all(tag == "kylin" or tag == "arm64" or jobs[j].startswith(f"host-{tag[-1]}") for j, tag in tags.items())
    logs = {d: c for inv in three_labs.inventories.values() for d, c in command_logs(inv, since).items()}
    assert overlaps(logs) == []
    runs = completed_jobs(logs)
    mine = {(job_id, dev): n for (job_id, dev), n in runs.items() if job_id in jobs}
    assert mine == {(job_id, dev): 1 for job_id, dev in jobs.items()}


def test_the_agent_runs_jobs_with_harness_run_and_records_verdict_and_bundle(
        queue_db: str, three_labs: Labs, tmp_path: Path) -> None:  # noqa: F811
    inventory = three_labs.inventories["host-a"]
    since = time.time()
    agent = suite_agent(queue_db, inventory, "host-a", tmp_path)
    try:
        agent.wait_registered()
        submitted = harness("submit", "tick", "--suites-root", str(SUITES), "--db", queue_db, "--device", "host-a-03", "--tag", "bench-a")
        assert submitted.returncode == 0, submitted.stderr
        ids = [int(line.split()[1].rstrip(":")) for line in submitted.stdout.splitlines()]
        assert len(ids) == 2 and "on host-a-03 (host host-a)" in submitted.stdout
        wait_all_done(queue_db, 2, timeout=120)
        shown = harness("jobs", "--db", queue_db)
        assert shown.returncode == 0
        first_stop = agent.stop(signal.SIGTERM)
    finally:
        agent.kill()
    assert first_stop == 0, agent.text()
    views = {j["id"]: j for j in json.loads(harness("jobs", "--db", queue_db, "--json").stdout)}
    for job_id in ids:
        view = views[job_id]
        assert (view["state"], view["verdict"], view["host"]) == ("pass", "CERTIFIED", "host-a"), view
        bundle = tmp_path / "reports" / f"job-{job_id}.zip"
        assert view["bundle_sha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()
        assert f"{job_id:>6}  pass" in shown.stdout
    logs = command_logs(inventory, since)
    assert overlaps(logs) == []
    runs = completed_jobs(logs)
    assert sorted(j for j, _ in runs) == sorted(ids) and set(runs.values()) == {1}
