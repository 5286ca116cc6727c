"""Multi-host lab benchmark (a script, not a test): `python bench/bench_agents.py [--devices 200]
[--agents 4] [--jobs 1000] [--job-seconds 0.5]`.

A private PostgreSQL cluster, `--agents` labs of simulated SSH boards (`--devices` in all) and one agent
process per lab (tests/agent_peers.py: the probe runner, one real command per job over SSH), then
`--jobs` short jobs submitted at once, spread evenly over the devices. Printed, from the queue's own
event timestamps and the devices' own command logs:

- submit-to-start latency p50/p99 of the jobs whose device was free when they were submitted
  (target p99 <= 1 s), and of every job after its device came free (the hand-over);
- scheduler overhead per job: each device's wall time from its first job's start to its last job's end,
  less the jobs' own time on the device, per job (target <= 50 ms);
- the total wall time as a ratio to the ideal (jobs x job time / devices), and to a baseline measured in
  the same run: the same jobs driven straight over one kept SSH connection per device, no queue.

`--tag arm64` (every simulated board has it) submits every job for "any device tagged arm64" instead of
a named device: the agents claim a device for each when it starts (the tag queue's path). With
`--tag-every N` only every Nth job is, the others named, interleaved: each device always has jobs of its
own queued, and the submit-to-start wait of each kind says whether the tag jobs get their turn by age."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from harness.agent import queue as jobq  # noqa: E402
from harness.agent.dburl import conninfo  # noqa: E402
from harness.agent.schema import ensure_schema  # noqa: E402
from harness.inventory import load_inventory  # noqa: E402
from harness.lab.device.command_log import LoggedCommand  # noqa: E402
from harness.lab.lab import Lab  # noqa: E402
from harness.transports import open_transport  # noqa: E402
from tests.agent_peers import command_logs, overlaps, start_ssh_lab, write_ssh_lab  # noqa: E402
from tests.pg_peer import PostgresCluster, available  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OVERHEAD_TARGET_MS = 50.0
LATENCY_TARGET_S = 1.0


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def baseline(inventories: list[Path], jobs_per_device: int, seconds: float) -> float:
    """The same commands, straight over one kept SSH connection per device, every device at once."""
    specs = [s for inv in inventories for s in load_inventory(inv).devices.values()]
    links = {s.name: open_transport(s) for s in specs}
    for link in links.values():
        link.run("true", timeout=30)  # connected before the clock starts, as the agents' links are

    def drive(name: str) -> None:
        for n in range(jobs_per_device):
            links[name].run(f"echo baseline {n} begin; sleep {seconds:g}; echo baseline {n} end", timeout=60)

    start = time.monotonic()
    threads = [threading.Thread(target=drive, args=(n,)) for n in links]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    for link in links.values():
        link.close()
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--job-seconds", type=float, default=0.5)
    parser.add_argument(
        "--no-lab",
        action="store_true",
        help="No simulated boards: each job holds its (registered) device for its time and "
        "touches nothing, so the figures are the scheduler's own",
    )
    parser.add_argument("--tag", default=None, help="Submit the jobs for any device with this tag")
    parser.add_argument("--tag-every", type=int, default=1, metavar="N",
                        help="With --tag: only every Nth job for the tag, the others for named devices "
                        "(interleaved), so every device has jobs of its own queued: the wait of each kind")
    opts = parser.parse_args()
    missing = available()
    if missing:
        sys.exit(f"bench_agents: {missing}")
    # Each simulated board watches its control folder with inotify: one instance each, from a per-user
    # budget (fs.inotify.max_user_instances, 128 by default) that the rest of the machine shares too.
    budget = int(Path("/proc/sys/fs/inotify/max_user_instances").read_text()) - 24
    if opts.devices > budget and not opts.no_lab:
        print(f"devices: {opts.devices} asked, {budget} fit under fs.inotify.max_user_instances")
        opts.devices = budget
    per_lab = opts.devices // opts.agents
    devices = per_lab * opts.agents
    tmp = Path(tempfile.mkdtemp(prefix="harness-bench-agents-"))
    cluster = PostgresCluster().start()
    labs: list[Lab] = []
    agents: list[subprocess.Popen[bytes]] = []
    try:
        url = cluster.create_database("bench")
        inventories = []
        started = time.monotonic()
        for i in range(opts.agents):
            if opts.no_lab:
                inventories.append(write_ssh_lab(tmp / f"lab{i}", f"h{i}", per_lab))
                continue
            lab, inventory = start_ssh_lab(tmp / f"lab{i}", f"h{i}", per_lab, boot_time=0.1, timeout=600)
            labs.append(lab)
            inventories.append(inventory)
        took = time.monotonic() - started
        what = "registered devices (no lab: --no-lab)" if opts.no_lab else "simulated boards"
        print(f"labs: {devices} {what} over {opts.agents} labs up in {took:.1f}s")
        jobs_per_device = max(1, opts.jobs // devices)
        base_wall = (
            jobs_per_device * opts.job_seconds
            if opts.no_lab
            else baseline(inventories, jobs_per_device, opts.job_seconds)
        )
        since = time.time()
        for i, inv in enumerate(inventories):
            log = open(tmp / f"agent{i}.log", "wb")  # noqa: SIM115  (lives as long as the agent)
            agents.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.agent_peers",
                        "--db",
                        url,
                        "-i",
                        str(inv),
                        "--host",
                        f"h{i}",
                        "--job-seconds",
                        f"{opts.job_seconds:g}",
                        "--heartbeat",
                        "2",
                        "--sleep-only" if opts.no_lab else "--warm",
                    ],
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        names = sorted(s for inv in inventories for s in load_inventory(inv).devices)
        with psycopg.connect(conninfo(url), autocommit=True, row_factory=dict_row) as conn:
            ensure_schema(conn)
            deadline = time.monotonic() + 120
            while conn.execute("SELECT count(*) AS n FROM harness_hosts").fetchone()["n"] < opts.agents:  # type: ignore[index]
                if time.monotonic() > deadline:
                    sys.exit("bench_agents: the agents did not register")
                time.sleep(0.1)  # polls the registrations (no event to wait on)
            total = jobs_per_device * devices
            t0 = time.monotonic()
            # One statement for all of them, as `harness submit` does.
            requests = [names[n % devices] for n in range(total)]
            tagged = jobq.JobRequest(device="", host="", tag=opts.tag or "", submitter="bench")
            named = iter(requests)  # the named jobs spread evenly over every device
            batch = [tagged if opts.tag and n % max(1, opts.tag_every) == 0
                     else jobq.JobRequest(device=(d := next(named)), host=d.split("-")[0], submitter="bench")
                     for n in range(total)]
            jobq.submit_many(conn, batch)
            submit_s = time.monotonic() - t0
            while conn.execute(
                "SELECT count(*) AS n FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
            ).fetchone()["n"]:  # type: ignore[index]
                time.sleep(0.2)  # polls the queue's end (the measurements come from timestamps)
            events = conn.execute(
                "SELECT j.id, j.args->>'device' AS device, j.args->>'tag' AS tag, j.status,"
                " extract(epoch FROM (SELECT min(at) FROM procrastinate_events e WHERE e.job_id = j.id"
                "  AND e.type = 'deferred')) AS deferred,"
                " extract(epoch FROM (SELECT min(at) FROM procrastinate_events e WHERE e.job_id = j.id"
                "  AND e.type = 'started')) AS started,"
                " extract(epoch FROM (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id"
                "  AND e.type IN ('succeeded', 'failed'))) AS ended"
                " FROM procrastinate_jobs j ORDER BY j.id"
            ).fetchall()
        if opts.no_lab:  # the jobs' own times on their devices, as the queue recorded them
            logs = {}
            for e in events:
                logs.setdefault(e["device"], []).append(
                    LoggedCommand("harness-job", float(e["started"]), float(e["ended"]), 0)
                )
            logs = {d: sorted(c, key=lambda x: x.start) for d, c in logs.items()}
        else:
            logs = {d: c for inv in inventories for d, c in command_logs(inv, since).items()}
        bad = [e for e in events if e["status"] != "succeeded"]
        by_device: dict[str, list[dict[str, float]]] = {}
        for e in events:
            by_device.setdefault(e["device"], []).append(e)
        first_latency = [float(v[0]["started"] - v[0]["deferred"]) for v in by_device.values()]
        cmd_by_device = {d: [c for c in cs if "harness-job" in c.cmd] for d, cs in logs.items()}
        handover = []
        overhead = []
        ends = []
        for cmds in cmd_by_device.values():
            if not cmds:
                continue
            ends.append(max(c.end or 0 for c in cmds))
            busy = sum((c.end or c.start) - c.start for c in cmds)
            span = (cmds[-1].end or cmds[-1].start) - cmds[0].start
            overhead.append((span - busy) / len(cmds))
            handover += [b.start - (a.end or a.start) for a, b in zip(cmds, cmds[1:], strict=False)]
        wall = max(ends) - min(float(e["deferred"]) for e in events)
        ideal = total * opts.job_seconds / devices
        print(
            f"jobs: {total} on {devices} devices ({jobs_per_device} each), {opts.job_seconds:g}s each; "
            f"submitted in {submit_s:.2f}s; not succeeded: {len(bad)}; "
            f"overlaps on a device: {len(overlaps(logs))}"
        )
        print(
            f"start latency, device free at submit: p50 {pct(first_latency, 0.5) * 1000:.0f} ms, "
            f"p99 {pct(first_latency, 0.99) * 1000:.0f} ms (target p99 <= {LATENCY_TARGET_S * 1000:.0f} ms)"
        )
        print(
            f"hand-over to the next job of a device: p50 {pct(handover, 0.5) * 1000:.0f} ms, "
            f"p99 {pct(handover, 0.99) * 1000:.0f} ms"
        )
        if opts.tag and opts.tag_every > 1:  # the fairness between a device's own jobs and its tags'
            for kind, of_kind in (("named", [e for e in events if not e["tag"]]),
                                  ("tag", [e for e in events if e["tag"]])):
                waits = [float(e["started"] - e["deferred"]) for e in of_kind]
                print(f"submit-to-start, {kind} jobs ({len(of_kind)}): p50 {pct(waits, 0.5):.2f}s, "
                      f"p99 {pct(waits, 0.99):.2f}s")
        print(
            f"scheduler overhead per job: median {statistics.median(overhead) * 1000:.0f} ms, "
            f"max {max(overhead) * 1000:.0f} ms over devices (target <= {OVERHEAD_TARGET_MS:.0f} ms)"
        )
        print(
            f"wall {wall:.1f}s = {wall / ideal:.2f}x the ideal {ideal:.1f}s; baseline (no queue) "
            f"{base_wall:.1f}s = {base_wall / ideal:.2f}x ideal; agents / baseline = {wall / base_wall:.2f}x"
        )
    finally:
        for a in agents:
            a.terminate()
        for a in agents:
            try:
                a.wait(timeout=60)
            except subprocess.TimeoutExpired:
                a.kill()
        for lab in labs:
            lab.down()
        cluster.stop()


if __name__ == "__main__":
    main()
