"""The lab's job queue on the platform (issue 15 item 2), on a real PostgreSQL: devices registered by the
agents' own code, runs queued with `harness submit --db`, one started and one ended in lab trouble with
hostile device text in its note; the platform, served with --jobs-db, shows the same jobs as
`harness jobs` in its API and, in Chromium, on /jobs. Who sees them: admins, officers and the lab that
runs the queue (--jobs-org); another lab an empty queue and 404 for a job; a vendor 403. Without
--jobs-db the routes are 404; with the queue's server down, 503 and no password anywhere."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from harness.agent import queue as jobq
from harness.agent import registry
from harness.agent.dburl import conninfo
from harness.agent.schema import ensure_schema
from harness.specs import DeviceSpec
from harness.waiting import free_port
from tests.pg_peer import PostgresCluster, postgres  # noqa: F401  (the session's cluster)
from tests.platform_peers import PlatformServer, Seeded, api, seed
from tests.test_platform_browser import log_in, page  # noqa: F401
from tests.test_report_browser import DEADLINE_MS, browser  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
# What a device might print into a job's note: markup, an event handler, a terminal escape.
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">\x1b[31m'
SUBMITTER = "<b>tester</b>@bench"


@dataclass
class Queue:
    url: str
    running: int  # dev-1's job, started by an agent
    failed: int  # dev-2's job, ended in lab trouble
    tagged: int  # a job for any device tagged arm64, not started yet
    seeded: Seeded
    server: PlatformServer

    def host_heartbeats(self, ago: str = "0 seconds") -> None:
        """host-a's agent heartbeats (as it does every few seconds), or fell silent `ago`."""
        with _connect(self.url) as conn:
            conn.execute("UPDATE harness_hosts SET heartbeat_at = now() - %s::interval WHERE name = 'host-a'",
                         (ago,))


def _connect(url: str) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(conninfo(url), autocommit=True, row_factory=dict_row)


def harness(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresCluster) -> Iterator[Queue]:  # noqa: F811
    base = tmp_path_factory.mktemp("jobs-platform")
    url = postgres.create_database("jobs_platform")
    with _connect(url) as conn:  # what `harness agent` does at start: its host and inventory registered
        ensure_schema(conn)
        registry.register_host(conn, "host-a", "instance-1", os.getpid(), 30.0)
        registry.register_devices(conn, "host-a", [DeviceSpec("dev-1", "board", "debian", tags=("arm64",)),
                                                   DeviceSpec("dev-2", "board", "debian", tags=("arm64",))], 30.0)
    queued = harness("submit", "smoke", "--device", "dev-1", "--device", "dev-2", "--db", url, "--json",
                     env={"HARNESS_OWNER": SUBMITTER})
    assert queued.returncode == 0, queued.stderr
    ids = {j["device"]: j["id"] for j in json.loads(queued.stdout)}
    with _connect(url) as conn:  # an agent takes both; dev-1's runs, dev-2's ends in lab trouble
        worker = jobq.register_worker(conn)
        fetched = {j.device: j for j in jobq.fetch_many(conn, "host-a", worker, 2)}
        assert {d: j.id for d, j in fetched.items()} == ids
        jobq.record_run(conn, jobq.RunRecord(ids["dev-1"], "dev-1", "running", host="host-a", started=True))
        jobq.record_run(conn, jobq.RunRecord(ids["dev-2"], "dev-2", "error", host="host-a", verdict="ERROR",
                                             note=HOSTILE, started=True, ended=True))
        assert jobq.finish(conn, ids["dev-2"], "failed")
    tagged = harness("submit", "smoke", "--tag", "arm64", "--db", url, "--json", env={"HARNESS_OWNER": SUBMITTER})
    assert tagged.returncode == 0, tagged.stderr
    [tag_job] = [j["id"] for j in json.loads(tagged.stdout)]
    seeded = seed(base)
    server = PlatformServer(base / "data", args=("--jobs-db", url, "--jobs-org", "lab-a")).start()
    try:
        yield Queue(url, ids["dev-1"], ids["dev-2"], tag_job, seeded, server)
    finally:
        server.stop()


TIMES = ("queued_at", "started_at", "ended_at")


def _same_times(job: dict[str, Any]) -> dict[str, Any]:
    """A job's record with its times as instants (the API writes UTC as Z, the CLI as +00:00)."""
    return {k: dt.datetime.fromisoformat(v) if k in TIMES and v else v for k, v in job.items()}


def _cli_jobs(url: str) -> dict[int, dict[str, Any]]:
    shown = harness("jobs", "--db", url, "--json")
    assert shown.returncode == 0, shown.stderr
    return {j["id"]: _same_times(j) for j in json.loads(shown.stdout)}


def test_the_api_shows_what_harness_jobs_shows(queue: Queue) -> None:
    officer = api(queue.server, queue.seeded.tokens["officer"])
    queue.host_heartbeats()
    body = officer.get("/api/v1/jobs").json()
    shown = {j["id"]: j for j in body["jobs"]}
    assert {i: _same_times(j) for i, j in shown.items()} == _cli_jobs(queue.url)  # the same, field for field
    assert shown[queue.running]["state"] == "running" and shown[queue.running]["host"] == "host-a"
    failed = shown[queue.failed]
    assert (failed["state"], failed["verdict"], failed["device"], failed["note"]) == ("error", "ERROR", "dev-2",
                                                                                       HOSTILE)
    assert failed["submitter"] == SUBMITTER and failed["suites"] == ["smoke"]
    devices = {d["name"]: d for d in body["devices"]}
    assert set(devices) == {"dev-1", "dev-2"} and devices["dev-1"]["running"] == 1
    assert devices["dev-1"]["tags"] == ["arm64"] and devices["dev-1"]["host"] == "host-a"

    waiting = shown[queue.tagged]  # no device until one of its tag takes it
    assert (waiting["state"], waiting["device"], waiting["host"], waiting["tag"]) == ("queued", "", "", "arm64")
    assert waiting["note"] == "waiting for any device tagged 'arm64'"
    active = officer.get("/api/v1/jobs", params={"active": "true"}).json()["jobs"]
    assert [j["id"] for j in active] == [queue.running, queue.tagged]
    assert [j["id"] for j in officer.get("/api/v1/jobs", params={"device": "dev-2"}).json()["jobs"]] == [queue.failed]
    one = officer.get(f"/api/v1/jobs/{queue.failed}")
    assert one.status_code == 200 and one.json() == failed
    # Its host silent past the timeout: the running job is stalled, here as in `harness jobs`.
    queue.host_heartbeats(ago="1 hour")
    try:
        stalled = officer.get(f"/api/v1/jobs/{queue.running}").json()
        assert stalled["state"] == "stalled" and "silent since" in stalled["note"], stalled
        assert _cli_jobs(queue.url)[queue.running]["state"] == "stalled"
    finally:
        queue.host_heartbeats()
    assert officer.get("/api/v1/jobs/987654").status_code == 404
    assert officer.get("/api/v1/jobs", params={"devcie": "dev-2"}).status_code == 422  # a typo is no filter


def test_who_sees_the_queue(queue: Queue) -> None:
    def as_user(user: str | None, path: str) -> Any:
        return api(queue.server, queue.seeded.tokens[user] if user else None).get(path)

    for user in ("admin", "officer", "lab-a-user"):  # the platform's staff and the lab that runs it
        assert {j["id"] for j in as_user(user, "/api/v1/jobs").json()["jobs"]} == {queue.running, queue.failed,
                                                                                  queue.tagged}
        assert as_user(user, f"/api/v1/jobs/{queue.running}").status_code == 200
    other_lab = as_user("lab-b-user", "/api/v1/jobs")  # another lab: an empty queue, and no job exists
    assert other_lab.status_code == 200 and other_lab.json() == {"jobs": [], "devices": []}
    assert as_user("lab-b-user", f"/api/v1/jobs/{queue.running}").status_code == 404
    for path in ("/api/v1/jobs", f"/api/v1/jobs/{queue.running}"):
        assert as_user("vendor-a-user", path).status_code == 403
        assert as_user(None, path).status_code == 401


@pytest.mark.peer("chromium")
def test_the_jobs_page_in_a_browser(queue: Queue, page: tuple[Any, dict[str, list[str]]]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    tab, seen = page
    queue.host_heartbeats()
    log_in(tab, queue.server.url, "officer")
    tab.click("#nav-jobs")
    tab.wait_for_url(queue.server.url + "/jobs", timeout=DEADLINE_MS)
    rows = tab.locator("#jobs tbody tr")
    expect(rows).to_have_count(3, timeout=DEADLINE_MS)
    failed = tab.locator(f'#jobs tr[data-job="{queue.failed}"]')
    assert failed.get_attribute("data-state") == "error"
    assert failed.locator(".device").inner_text() == "dev-2" and failed.locator(".host").inner_text() == "host-a"
    # The device's text is shown as text: no element made of it, no script run, the escape made visible.
    assert failed.locator(".note").inner_text() == HOSTILE.replace("\x1b", "\\x1b")
    assert tab.locator("#jobs script, #jobs img, #jobs b").count() == 0
    assert SUBMITTER in failed.inner_text()
    assert tab.evaluate("window.__pwned") is None
    running = tab.locator(f'#jobs tr[data-job="{queue.running}"]')
    assert running.locator(".state").inner_text() == "运行中"  # Chinese first ...
    tab.click("#lang-switch")
    assert running.locator(".state").inner_text() == "running"  # ... English at a click
    assert tab.locator('#lab-devices tr[data-device="dev-1"]').count() == 1
    tagged = tab.locator(f'#jobs tr[data-job="{queue.tagged}"]')
    assert tagged.locator(".device").inner_text() == "any device tagged arm64"

    tab.click("#f-active")
    tab.click("#f-apply")
    expect(rows).to_have_count(2, timeout=DEADLINE_MS)
    tab.click(f'#jobs tr[data-job="{queue.running}"] a.job-link')
    tab.wait_for_url(f"{queue.server.url}/jobs/{queue.running}", timeout=DEADLINE_MS)
    assert tab.locator("#job-device").inner_text() == "dev-1"
    assert tab.locator("#job-state").get_attribute("data-state") == "running"
    assert seen == {"dialogs": [], "errors": []}

    # A vendor has no jobs menu and is refused the page.
    tab.click("#logout")
    log_in(tab, queue.server.url, "vendor-a-user")
    assert tab.locator("#nav-jobs").count() == 0
    response = tab.goto(queue.server.url + "/jobs")
    assert response is not None and response.status == 403


def test_without_a_queue_or_with_it_down(queue: Queue, tmp_path: Path) -> None:
    plain = PlatformServer(queue.seeded.base / "data").start()  # the same platform, no --jobs-db
    try:
        officer = api(plain, queue.seeded.tokens["officer"])
        assert officer.get("/api/v1/jobs").status_code == 404
        assert officer.get(f"/api/v1/jobs/{queue.running}").status_code == 404
    finally:
        plain.stop()
    secret = "queue-secret-pw-7Hq"
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"postgresql://harness:{secret}@127.0.0.1:{probe.getsockname()[1]}/queue"
    down = PlatformServer(queue.seeded.base / "data", args=("--jobs-db", dead)).start()
    try:
        answer = api(down, queue.seeded.tokens["officer"]).get("/api/v1/jobs")
        assert answer.status_code == 503 and answer.json() == {"detail": "the lab's job queue cannot be reached now"}
    finally:
        down.stop()
    assert secret not in down.log.read_text() and "127.0.0.1" in down.log.read_text()


@pytest.mark.parametrize(("args", "message"), [
    (("--jobs-db", "mysql://u:p@h/db"), "--jobs-db: scheme 'mysql' is not PostgreSQL's"),
    (("--jobs-org", "lab-a"), "--jobs-org needs --jobs-db"),
    (("--jobs-db", "postgresql://u@127.0.0.1/q", "--jobs-org", "vendor-a"), "a vendor organisation, not a lab"),
    (("--jobs-db", "postgresql://u@127.0.0.1/q", "--jobs-org", "nobody"), "--jobs-org 'nobody': no such organisation"),
])
def test_serve_refuses_a_bad_queue_option(queue: Queue, args: tuple[str, ...], message: str) -> None:
    done = harness("platform", "serve", "--data", str(queue.seeded.base / "data"), "--port", str(free_port()), *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
