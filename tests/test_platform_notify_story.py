"""Notifications end to end on a served platform: a lab publishes, an officer moves the submission
through review over the API, and every change arrives at the vendor's webhook (signed) and the
officers' mailbox, each recorded in the delivery log. Real receivers on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness.platform.notify import signing
from tests.notify_peers import HookReceiver, SmtpServer
from tests.platform_peers import PlatformServer, api, make_bundle, seed, upload


def admin(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "platform", "admin", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def test_every_state_change_is_notified(tmp_path: Path) -> None:
    seeded = seed(tmp_path)
    data = tmp_path / "data"
    with HookReceiver() as hook, SmtpServer() as smtp:
        made = admin(data, "notify", "webhook", "add", hook.url + "/vendor", "--org", "vendor-a")
        assert made.returncode == 0, made.stderr
        secret = made.stdout.strip()
        assert admin(data, "notify", "email", "add", "officers@platform.example", "--org", "platform").returncode == 0
        assert admin(data, "notify", "smtp", "--host", "127.0.0.1", "--port", str(smtp.port), "--security", "none",
                     "--user", smtp.user, "--password-env", "PW", "--from", "harness@platform.example",
                     env={"PW": smtp.password}).returncode == 0
        server = PlatformServer(data).start()
        try:
            bundle = make_bundle(tmp_path / "run", seeded.keys["lab-a"], "story-run")
            published = upload(server, seeded.tokens["lab-a-user"], bundle, vendor="vendor-a")
            assert published.status_code == 201, published.text
            sid = published.json()["id"]
            officer = api(server, seeded.tokens["officer"])
            for state, reason in (("in_review", ""), ("retest_requested", "storage below 50 MB/s")):
                moved = officer.post(f"/api/v1/submissions/{sid}/state", json={"state": state, "reason": reason})
                assert moved.status_code == 200, moved.text
            requests = hook.wait_for(3)
            mails = smtp.wait_for(3)
            log = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the log is written after the receiver answered
                log = officer.get("/api/v1/notifications", params={"submission": sid}).json()
                if log["total"] == 6 and all(d["status"] == "delivered" for d in log["items"]):
                    break
                time.sleep(0.05)
        finally:
            server.stop()
    changes = []
    for r in requests:
        h = {k.lower(): v for k, v in r.headers.items()}
        assert signing.verify(secret, h["x-harness-timestamp"], r.body, h["x-harness-signature"], time.time())
        body = json.loads(r.body)
        assert body["submission_id"] == sid and body["vendor"] == "vendor-a"
        changes.append((body["before"], body["after"], body["reason"]))
    assert changes == [("", "submitted", changes[0][2]), ("submitted", "in_review", ""),
                       ("in_review", "retest_requested", "storage below 50 MB/s")]
    subjects = [m.message["Subject"] for m in mails]
    assert subjects[-1] == f"[harness] submission {sid}: in review -> re-test requested"
    assert log is not None and log["total"] == 6, log
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in log["items"])
