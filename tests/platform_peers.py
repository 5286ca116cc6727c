"""The platform for tests: `harness platform serve` as a real uvicorn subprocess on a private loopback
port, organisations, users, keys and tokens seeded through the platform's own services, and real
signed bundles made by the report code from tests.report_runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

from harness.platform.config import make_config
from harness.platform.db.migrate import upgrade
from harness.platform.db.models import (
    Product,
    RequirementResult,
    SigningKey,
    Submission,
    SubmissionDevice,
    TestFailure,
)
from harness.platform.runtime import Platform
from harness.platform.services import accounts
from harness.report.publish import publish
from harness.report.signing import PUBLIC_NAME, init_key
from harness.waiting import free_port, poll_until
from tests.report_runs import make_run

START_DEADLINE = 30.0
PASSWORD = "correct horse battery staple"


class PlatformServer:
    """One `harness platform serve` process; `kill()` is a kill -9, `start()` again restarts it."""

    def __init__(self, data: Path, db_url: str | None = None, args: tuple[str, ...] = ()) -> None:
        self.data = data
        self.db_url = db_url
        self.args = args
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"{data.name}-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "harness", "platform", "serve", "--data", str(self.data), "--port", str(self.port)]
        if self.db_url:
            cmd += ["--db", self.db_url]
        return [*cmd, "--no-access-log", *self.args]

    def start(self) -> PlatformServer:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_PLATFORM_")}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, env=env)
        poll_until(self._ready, START_DEADLINE, interval=0.05, what=f"platform on {self.url}")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"platform server exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def make_bundle(base: Path, key_dir: Path, run_id: str) -> Path:
    """A real signed bundle (dev-a with every outcome and hostile output, dev-b all PASS)."""
    reports = base / "reports"
    run = make_run(reports, base / "suites", run_id)
    return publish(run, key_dir=key_dir, announce=io.StringIO()).bundle


@dataclass
class Seeded:
    """What a test platform holds: each role's user, password and token, each lab's key folder."""

    base: Path
    platform: Platform
    passwords: dict[str, str] = field(default_factory=dict)  # username -> password
    tokens: dict[str, str] = field(default_factory=dict)  # name -> secret
    keys: dict[str, Path] = field(default_factory=dict)  # name -> key folder
    org_ids: dict[str, int] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def token(self, name: str, org: str, role: str, lifetime: dt.timedelta = dt.timedelta(days=1),
              user: str | None = None) -> str:
        with self.platform.db.write() as db:
            owner = accounts.user_by_name(db, user) if user else None
            made = accounts.issue_token(db, accounts.org_by_slug(db, org), role, name, lifetime, user=owner)
        self.tokens[name] = made.secret
        return made.secret

    def key(self, name: str, org: str | None) -> Path:
        folder = self.base / "keys" / name
        init_key(folder)
        if org:
            with self.platform.db.write() as db:
                accounts.register_key(db, accounts.org_by_slug(db, org), (folder / PUBLIC_NAME).read_text(), name)
        self.keys[name] = folder
        return folder


USERS = {  # username: (organisation, role)
    "admin": ("platform", "admin"),
    "officer": ("platform", "officer"),
    "lab-a-user": ("lab-a", "lab"),
    "lab-b-user": ("lab-b", "lab"),
    "vendor-a-user": ("vendor-a", "vendor"),
    "vendor-b-user": ("vendor-b", "vendor"),
}


def seed(base: Path, db_url: str | None = None) -> Seeded:
    """Two labs, two vendors, the platform; a user and a token per role; a key per lab."""
    data = base / "data"
    platform = Platform.open(make_config(data, db_url))
    upgrade(platform.db.engine)
    seeded = Seeded(base, platform)
    with platform.db.write() as db:
        for slug, kind in (("platform", "platform"), ("lab-a", "lab"), ("lab-b", "lab"), ("vendor-a", "vendor"),
                           ("vendor-b", "vendor")):
            seeded.org_ids[slug] = accounts.create_org(db, slug, f"{slug.title()} Org", kind).id
        for username, (org, role) in USERS.items():
            user = accounts.create_user(db, username, accounts.org_by_slug(db, org), role, PASSWORD)
            seeded.user_ids[username] = user.id
            seeded.passwords[username] = PASSWORD
    for username, (org, role) in USERS.items():
        seeded.token(username, org, role, user=username)
    seeded.key("lab-a", "lab-a")
    seeded.key("lab-b", "lab-b")
    return seeded


def api(server: PlatformServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60.0)


def upload(server: PlatformServer, token: str, body: bytes | Path, vendor: str = "vendor-a",
           declared: dict[str, Any] | None = None) -> httpx.Response:
    data = body.read_bytes() if isinstance(body, Path) else body
    params = {"vendor": vendor}
    if declared:
        params["declared"] = json.dumps(declared)
    with api(server, token) as client:
        return client.post("/api/v1/submissions", params=params, content=data,
                           headers={"Content-Type": "application/zip"})


def login(server: PlatformServer, username: str, password: str = PASSWORD) -> httpx.Client:
    """A browser-like client with a live session (the login form's CSRF cookie and field included)."""
    client = httpx.Client(base_url=server.url, timeout=30.0)
    client.get("/login")
    response = client.post("/login", data={"username": username, "password": password,
                                            "csrf_token": client.cookies.get("harness_login_csrf") or "",
                                            "next": "/submissions"})
    assert response.status_code == 303, (response.status_code, response.text[:500])
    return client


def csrf_of(client: httpx.Client) -> str:
    import re

    page = client.get("/tokens").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


OS_NAMES = ("openEuler", "OpenHarmony", "Kylin", "UOS", "HarmonyOS")
VERDICTS = ("CERTIFIED", "CONDITIONAL", "NOT CERTIFIED", "INCOMPLETE")


def fill_submissions(seeded: Seeded, count: int) -> None:
    """`count` submissions straight into the tables (uploading 10,000 bundles would time the upload)."""
    s = seeded
    with s.platform.db.write() as db:
        key_id = db.scalar(select(SigningKey.id))
        vendors = [s.org_ids["vendor-a"], s.org_ids["vendor-b"]]
        labs = [s.org_ids["lab-a"], s.org_ids["lab-b"]]
        products = []
        for i in range(200):
            products.append(
                {
                    "id": 10_000 + i,
                    "vendor_org_id": vendors[i % 2],
                    "model": f"Model-{i}",
                    "soc": f"SoC-{i % 17}",
                    "kind": "board",
                    "created_at": dt.datetime.now(dt.UTC),
                }
            )
        db.execute(insert(Product), products)
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        device_id = 1_000_000
        batch = 1000
        for first in range(0, count, batch):
            subs, devices, reqs, fails = [], [], [], []
            for n in range(first, min(first + batch, count)):
                sid = 100_000 + n
                created = start + dt.timedelta(minutes=n)
                subs.append(
                    {
                        "id": sid,
                        "sha256": hashlib.sha256(str(n).encode()).hexdigest(),
                        "size": 5_000_000,
                        "run_id": f"bench-{n:05d}",
                        "vendor_org_id": vendors[n % 2],
                        "lab_org_id": labs[n % 2],
                        "signing_key_id": key_id,
                        "manifest_sha256": "0" * 64,
                        "verified_at": created,
                        "created_at": created,
                        "state": "submitted",
                        "verdict": VERDICTS[n % 4],
                        "harness_version": "0.1.0",
                        "operator": "bench",
                        "run_host": "lab",
                        "search_text": f"bench-{n:05d} board-{n % 97} fp/{n}",
                    }
                )
                for position in range(2):
                    device_id += 1
                    product = products[(n * 2 + position) % len(products)]
                    devices.append(
                        {
                            "id": device_id,
                            "submission_id": sid,
                            "position": position,
                            "product_id": product["id"],
                            "name": f"board-{n % 97}-{position}",
                            "kind": "board",
                            "profile": "openeuler",
                            "model": product["model"],
                            "soc": product["soc"],
                            "os_name": OS_NAMES[n % 5],
                            "os_version": f"{20 + n % 5}.03",
                            "kernel": "5.10.0",
                            "arch": "aarch64",
                            "fingerprint": f"fp/{n}/{position}",
                            "serial": f"SN{n}",
                            "security_patch": "2026-01-01",
                            "reported_model": product["model"],
                            "verdict": VERDICTS[(n + position) % 4],
                            "verdict_reasons": "",
                            "reachable": True,
                            "n_pass": 50,
                            "n_fail": 3,
                            "n_error": 0,
                            "n_skip": 5,
                            "n_not_run": 0,
                            "failures_total": 3,
                        }
                    )
                    reqs += [
                        {
                            "device_id": device_id,
                            "position": r,
                            "requirement_id": f"REQ-{r:03d}",
                            "level": "MUST",
                            "status": "pass",
                            "title_en": "t",
                            "title_zh": "t",
                        }
                        for r in range(12)
                    ]
                    fails += [
                        {
                            "device_id": device_id,
                            "position": f,
                            "test_id": f"suite/test_{f}.py::t",
                            "suite": "suite",
                            "outcome": "FAIL",
                            "message": "x",
                            "requirements": "REQ-001",
                        }
                        for f in range(3)
                    ]
            db.execute(insert(Submission), subs)
            db.execute(insert(SubmissionDevice), devices)
            db.execute(insert(RequirementResult), reqs)
            db.execute(insert(TestFailure), fails)
