"""Notifications of state changes against real receivers on loopback: an HTTP server for the signed
webhooks and aiosmtpd for the mail (with a login). Endpoints and the relay are set with the real
`harness platform admin notify` commands; the worker is the platform's own, fed at its seam (the
events listener); the delivery log is read through a served platform's page and API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, select

from harness.cli import main
from harness.platform.db.notify_models import NotifyAttempt, NotifyDelivery, NotifyEndpoint, NotifySettings
from harness.platform.notify import signing
from harness.platform.notify.worker import Notifier
from tests.notify_peers import HookReceiver, SmtpServer
from tests.platform_peers import PlatformServer, Seeded, api, fill_submissions, login, seed

SUBMISSION = 100_000  # the first row fill_submissions makes: vendor-a's, published by lab-a
HOOK_SECRET = "receiver-shared-secret-7f3a9c"


@dataclasses.dataclass(frozen=True)
class Change:  # the shape of services.events.StateChange
    submission_id: int
    organisation: str
    before: str
    after: str
    actor: str
    reason: str
    at: dt.datetime


def change(before: str = "in_review", after: str = "retest_requested", reason: str = "") -> Change:
    return Change(SUBMISSION, "vendor-a", before, after, "officer", reason, dt.datetime.now(dt.UTC))


def admin_process(seeded: Seeded, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`harness platform admin ...` as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "harness", "platform", "admin", "--data", str(seeded.base / "data"), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    made = seed(tmp_path_factory.mktemp("notify"))
    fill_submissions(made, 1)
    yield made
    made.platform.close()


@pytest.fixture
def platform(seeded: Seeded) -> Seeded:
    """The module's platform with no endpoints, settings or deliveries left from another test."""
    with seeded.platform.db.write() as db:
        for table in (NotifyAttempt, NotifyDelivery, NotifyEndpoint, NotifySettings):
            db.execute(delete(table))
    return seeded


Admin = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def admin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Admin:
    """The same command through the CLI's entry point in this process (a process start costs seconds
    on a busy machine)."""

    def run(seeded: Seeded, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        argv = ["platform", "admin", "--data", str(seeded.base / "data"), *args]
        with pytest.raises(SystemExit) as stop:
            main(argv)
        out = capsys.readouterr()
        return subprocess.CompletedProcess(argv, int(stop.value.code or 0), out.out, out.err)

    return run


@pytest.fixture
def notifier(platform: Seeded) -> Iterator[Notifier]:
    worker = Notifier(platform.platform).start()
    yield worker
    worker.stop()


def deliveries(seeded: Seeded) -> list[NotifyDelivery]:
    with seeded.platform.db.read() as db:
        rows = list(db.scalars(select(NotifyDelivery).order_by(NotifyDelivery.id)))
        for r in rows:
            _ = r.tries, r.endpoint
        return rows


def settled(seeded: Seeded, count: int, timeout: float = 30.0) -> list[NotifyDelivery]:
    """Wait until `count` deliveries exist and none is pending."""
    deadline = time.monotonic() + timeout
    while True:
        rows = deliveries(seeded)
        if len(rows) >= count and all(r.status != "pending" for r in rows):
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError([(r.id, r.status, r.attempts, r.last_error) for r in rows])
        time.sleep(0.05)  # polling the database: nothing announces a row's change to this process


def test_a_state_change_is_a_signed_webhook_and_a_mail(platform: Seeded, notifier: Notifier, admin: Admin) -> None:
    with HookReceiver() as hook, SmtpServer() as smtp:
        url = f"http://hookuser:hookpass@127.0.0.1:{hook.server.server_address[1]}/hooks/harness?token=t0k3n-9q"
        made = admin_process(platform, "notify", "webhook", "add", url, "--org", "vendor-a")
        assert made.returncode == 0, made.stderr
        secret = made.stdout.strip()
        assert len(secret) >= 32 and "\n" not in secret  # shown once, alone on stdout
        assert "t0k3n-9q" not in made.stderr and "hookpass" not in made.stderr
        assert admin(platform, "notify", "email", "add", "officers@platform.example", "--org", "platform").returncode == 0
        relay = admin(platform, "notify", "smtp", "--host", "127.0.0.1", "--port", str(smtp.port), "--security",
                      "none", "--user", smtp.user, "--password-env", "RELAY_PW", "--from", "harness@platform.example",
                      env={"RELAY_PW": smtp.password})
        assert relay.returncode == 0, relay.stderr

        notifier.on_change(change(reason="storage below 50 MB/s <b>again</b>\nsee DEMO-2"))
        (request,) = hook.wait_for(1)
        (mail,) = smtp.wait_for(1)

    h = {k.lower(): v for k, v in request.headers.items()}
    assert request.path == "/hooks/harness?token=t0k3n-9q"
    assert h["x-harness-event"] == "submission.state_changed"
    assert signing.verify(secret, h["x-harness-timestamp"], request.body, h["x-harness-signature"], time.time())
    assert not signing.verify(secret, h["x-harness-timestamp"], request.body + b" ", h["x-harness-signature"],
                              time.time())  # one byte more: refused
    assert not signing.verify("another-secret-of-enough-length", h["x-harness-timestamp"], request.body,
                              h["x-harness-signature"], time.time())
    body = json.loads(request.body)
    assert body["submission_id"] == SUBMISSION and body["vendor"] == "vendor-a"
    assert (body["before"], body["after"], body["actor"]) == ("in_review", "retest_requested", "officer")
    assert body["reason"].startswith("storage below") and body["delivery"] == int(h["x-harness-delivery"])
    assert body["run_id"] == "bench-00000"

    assert mail.login == "mailer" and mail.recipients == ["officers@platform.example"]
    assert mail.sender == "harness@platform.example"
    assert mail.message["Subject"] == f"[harness] submission {SUBMISSION}: in review -> re-test requested"
    text = mail.message.get_payload(decode=True).decode()
    assert "要求重测" in text and "storage below 50 MB/s <b>again</b>\nsee DEMO-2" in text

    rows = settled(platform, 2)
    assert [(r.status, r.attempts) for r in rows] == [("delivered", 1), ("delivered", 1)]
    assert rows[0].endpoint.target_shown == f"http://127.0.0.1:{url.split(':')[3].split('/')[0]}/hooks/harness"


def test_failures_are_retried_with_a_growing_wait(platform: Seeded, notifier: Notifier, admin: Admin) -> None:
    assert admin(platform, "notify", "policy", "--attempts", "4", "--backoff", "0.3").returncode == 0
    with HookReceiver(fail_first=2, fail_status=503) as hook:
        made = admin(platform, "notify", "webhook", "add", hook.url + "/h", "--org", "lab-a",
                     "--secret-env", "HOOK", env={"HOOK": HOOK_SECRET})
        assert made.returncode == 0 and made.stdout == ""  # a given secret is not printed back
        notifier.on_change(change())
        requests = hook.wait_for(3)
        (row,) = settled(platform, 1)
    assert (row.status, row.attempts) == ("delivered", 3)
    assert [(a.ok, a.status_code) for a in row.tries] == [(False, 503), (False, 503), (True, 204)]
    assert row.tries[0].error == "HTTP 503: busy, try later"
    gaps = [(b.at - a.at).total_seconds() for a, b in zip(row.tries, row.tries[1:], strict=False)]
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6, gaps  # 0.3 s, then twice that
    ids = {r.headers["X-Harness-Delivery"] for r in requests}
    assert ids == {str(row.id)}  # every try is the same delivery: the receiver can drop duplicates
    for r in requests:
        assert signing.verify(HOOK_SECRET, r.headers["X-Harness-Timestamp"], r.body, r.headers["X-Harness-Signature"],
                              time.time())


def test_a_dead_receiver_is_given_up_and_logged(platform: Seeded, notifier: Notifier, admin: Admin,
                                                request: pytest.FixtureRequest) -> None:
    assert admin(platform, "notify", "policy", "--attempts", "3", "--backoff", "0.05").returncode == 0
    # A port held bound but never listening: every connection is refused, and no other test's server
    # can take it meanwhile (a free port alone was once taken, and answered, by another test).
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    request.addfinalizer(held.close)
    dead = f"http://127.0.0.1:{held.getsockname()[1]}/nobody"
    assert admin(platform, "notify", "webhook", "add", dead, "--org", "vendor-a").returncode == 0
    assert admin(platform, "notify", "email", "add", "vendor@a.example", "--org", "vendor-a").returncode == 0
    notifier.on_change(change())
    rows = settled(platform, 2)
    by_kind = {r.endpoint.kind: r for r in rows}
    hook, mail = by_kind["webhook"], by_kind["email"]
    assert (hook.status, hook.attempts, len(hook.tries)) == ("failed", 3, 3)
    assert hook.last_error.startswith("ConnectError") and dead not in hook.last_error
    assert mail.status == "failed" and "no mail relay set" in mail.last_error  # said, not silently dropped
    log = admin(platform, "notify", "log")
    assert log.returncode == 0 and "failed" in log.stdout and "ConnectError" in log.stdout


def test_changes_reach_only_their_organisations(platform: Seeded, notifier: Notifier, admin: Admin) -> None:
    with HookReceiver() as mine, HookReceiver() as theirs:
        assert admin(platform, "notify", "webhook", "add", mine.url, "--org", "vendor-a").returncode == 0
        assert admin(platform, "notify", "webhook", "add", theirs.url, "--org", "vendor-b").returncode == 0
        assert admin(platform, "notify", "webhook", "add", theirs.url + "/lab-b", "--org", "lab-b").returncode == 0
        notifier.on_change(change())
        mine.wait_for(1)
        settled(platform, 1)
        assert theirs.requests == []  # another vendor's and another lab's endpoints hear nothing


def test_secrets_are_never_stored_or_shown_in_clear(platform: Seeded, admin: Admin) -> None:
    url = "https://user:url-password-41@hooks.example/in?key=query-token-77"
    made = admin(platform, "notify", "webhook", "add", url, "--org", "vendor-a")
    secret = made.stdout.strip()
    admin(platform, "notify", "smtp", "--host", "mail.example", "--user", "u", "--password-env", "PW", "--from",
          "h@platform.example", env={"PW": "smtp-password-93"})
    listed = admin(platform, "notify", "list").stdout
    assert "https://hooks.example/in" in listed
    stored = b"".join(p.read_bytes() for p in (platform.base / "data").glob("platform.db*"))
    for clear in (secret, "url-password-41", "query-token-77", "smtp-password-93"):
        assert clear.encode() not in stored and clear not in listed, clear
    assert b"hooks.example/in" in stored  # the shown form is kept, and only it
    key = platform.base / "data" / "secrets" / "server.key"
    assert key.stat().st_mode & 0o077 == 0


def test_two_workers_send_each_delivery_once(platform: Seeded, admin: Admin) -> None:
    workers = [Notifier(platform.platform).start(), Notifier(platform.platform).start()]
    try:
        with HookReceiver() as hook:
            assert admin(platform, "notify", "webhook", "add", hook.url, "--org", "vendor-a").returncode == 0
            for i in range(12):
                workers[i % 2].on_change(change(after=f"state-{i}"))
            settled(platform, 12)
            got = [r.headers["X-Harness-Delivery"] for r in hook.requests]
    finally:
        for w in workers:
            w.stop()
    assert len(got) == 12 and len(set(got)) == 12


@pytest.mark.parametrize(("args", "expected"), [
    (("webhook", "add", "ftp://x.example/h", "--org", "vendor-a"), "give an http:// or https:// URL"),
    (("webhook", "add", "https://x.example/h", "--org", "nobody"), "organisation 'nobody': no such"),
    (("webhook", "add", "https://x.example/h", "--org", "vendor-a", "--secret-env", "SHORT"), "at least 16"),
    (("email", "add", "not an address", "--org", "vendor-a"), "not an address"),
    (("smtp", "--host", "m.example", "--user", "u", "--from", "a@b.example"), "--user needs --password-env"),
    (("policy", "--backoff", "nan"), "--backoff nan"),
    (("remove", "999"), "endpoint 999: no such active endpoint"),
])
def test_bad_settings_are_one_line_exit_2(platform: Seeded, admin: Admin, args: tuple[str, ...], expected: str) -> None:
    done = admin(platform, "notify", *args, env={"SHORT": "tiny"})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_delivery_log_page_and_api(tmp_path: Path, admin: Admin) -> None:
    # A platform of its own: a served process beside this one's several engines on one SQLite file
    # (the in-process commands never close theirs, a real command's process exits) upsets SQLite's
    # WAL bookkeeping for the next test.
    platform = seed(tmp_path)
    fill_submissions(platform, 1)
    notifier = Notifier(platform.platform).start()
    with HookReceiver(fail_first=1, fail_status=500) as hook:
        assert admin(platform, "notify", "policy", "--backoff", "0.05").returncode == 0
        assert admin(platform, "notify", "webhook", "add", hook.url + "/in?sig=s3cr3t-q", "--org", "vendor-a").returncode == 0
        notifier.on_change(change(reason="<script>alert(1)</script>"))
        settled(platform, 1)
    server = PlatformServer(platform.base / "data").start()
    try:
        page = login(server, "officer").get("/notifications")
        assert page.status_code == 200
        assert f'href="/submissions/{SUBMISSION}"' in page.text and "delivery-delivered" in page.text
        assert "/in</span>" in page.text and "s3cr3t-q" not in page.text
        assert "HTTP 500" in page.text
        body = api(server, platform.tokens["admin"]).get("/api/v1/notifications", params={"submission": SUBMISSION})
        assert body.status_code == 200, body.text
        (item,) = body.json()["items"]
        assert item["status"] == "delivered" and [t["status_code"] for t in item["tries"]] == [500, 204]
        assert "s3cr3t-q" not in body.text and item["target"].endswith("/in")
        assert api(server, platform.tokens["vendor-a-user"]).get("/api/v1/notifications").status_code == 403
        assert httpx.get(server.url + "/api/v1/notifications").status_code == 401
    finally:
        server.stop()
        notifier.stop()
        platform.platform.close()


def test_a_delivery_another_process_holds_is_due_when_its_lease_ends(platform: Seeded, admin: Admin) -> None:
    from harness.platform.notify import outbox

    assert admin(platform, "notify", "email", "add", "x@a.example", "--org", "vendor-a").returncode == 0
    now = dt.datetime.now(dt.UTC)
    with platform.platform.db.write() as db:
        outbox.enqueue(db, change(), "", now)
    with platform.platform.db.write() as db:
        assert len(outbox.claim(db, now)) == 1  # another process's worker took it
    with platform.platform.db.write() as db:
        assert outbox.claim(db, now) == []  # ... so this one gets nothing
    with platform.platform.db.read() as db:
        due = outbox.next_due(db, now)
    assert due is not None and (due - now).total_seconds() == pytest.approx(outbox.LEASE_S, abs=1)


def test_a_removed_endpoint_gets_no_more_tries(platform: Seeded, notifier: Notifier, admin: Admin) -> None:
    assert admin(platform, "notify", "policy", "--attempts", "8", "--backoff", "0.2").returncode == 0
    with HookReceiver(fail_first=100, fail_status=500) as hook:
        added = admin(platform, "notify", "webhook", "add", hook.url, "--org", "vendor-a")
        endpoint_id = added.stderr.split()[1]
        notifier.on_change(change())
        hook.wait_for(1)
        assert admin(platform, "notify", "remove", endpoint_id).returncode == 0
        (row,) = settled(platform, 1)
    assert row.status == "failed" and row.last_error == "the endpoint was removed"
    assert row.attempts <= 3 and len(hook.requests) == row.attempts - 1  # the last try sent nothing
