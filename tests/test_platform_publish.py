"""Publishing to a real platform server: `harness publish` (exit codes 0/1/2/3 and what it prints),
`harness run --publish` after a real run against OpenSSH, the same bundle twice is one submission,
downloads are byte-identical and verify offline with the lab key the platform serves."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.peers.sshd import OpenSshServer
from harness.waiting import free_port
from tests.platform_peers import (
    PlatformServer,
    Seeded,
    api,
    fill_submissions,
    login,
    make_bundle,
    seed,
    upload,
)
from tests.test_publish import lab as mini_lab


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, PlatformServer]]:
    base = tmp_path_factory.mktemp("publish")
    seeded = seed(base)
    server = PlatformServer(base / "data").start()
    try:
        yield seeded, server
    finally:
        server.stop()


def harness(*args: str, token: str | None = None, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_PLATFORM_")}
    if token is not None:
        environ["HARNESS_PLATFORM_TOKEN"] = token
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=environ,
                          cwd=cwd, timeout=120)


def test_publish_exit_codes_and_the_same_bundle_twice(platform: tuple[Seeded, PlatformServer]) -> None:
    seeded, server = platform
    bundle = make_bundle(seeded.base / "twice", seeded.keys["lab-a"], "twice-run")
    token = seeded.tokens["lab-a-user"]
    first = harness("publish", str(bundle), "--to", server.url, "--vendor", "vendor-a", token=token)
    assert first.returncode == 0, first.stderr
    url = first.stdout.strip().splitlines()[-1]  # the last line: the submission's page
    assert url.startswith(server.url + "/submissions/") and "accepted as submission" in first.stdout
    assert token not in first.stdout + first.stderr
    again = harness("publish", str(bundle), "--to", server.url, "--vendor", "vendor-a", token=token)
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == url
    assert "already published" in again.stdout
    with api(server, seeded.tokens["officer"]) as client:
        assert client.get("/api/v1/submissions", params={"q": "twice-run"}).json()["total"] == 1

    # Refused (1, the server's reason), usage (2), network trouble (3).
    other = harness("publish", str(bundle), "--to", server.url, "--vendor", "vendor-a",
                    token=seeded.tokens["lab-b-user"])
    assert other.returncode == 1 and "refused at the signature check" in other.stderr, other.stderr
    assert "registered to another organisation" in other.stderr
    vendor = harness("publish", str(bundle), "--to", server.url, token=seeded.tokens["vendor-a-user"])
    assert vendor.returncode == 1 and "(403)" in vendor.stderr
    bad_token = harness("publish", str(bundle), "--to", server.url, "--vendor", "vendor-a", token="hpt_nonsense-token-xx")
    assert bad_token.returncode == 1 and "unknown token" in bad_token.stderr
    no_token = harness("publish", str(bundle), "--to", server.url)
    assert no_token.returncode == 2 and "HARNESS_PLATFORM_TOKEN" in no_token.stderr
    custom = harness("publish", str(bundle), "--to", server.url, "--token-env", "MY_CI_TOKEN", "--vendor", "vendor-a",
                     MY_CI_TOKEN=token)
    assert custom.returncode == 0, custom.stderr
    bad_url = harness("publish", str(bundle), "--to", "ftp://example", token=token)
    assert bad_url.returncode == 2 and "--to" in bad_url.stderr
    missing = harness("publish", "no-such-run", "--to", server.url, token=token, cwd=seeded.base)
    assert missing.returncode == 2 and "no run 'no-such-run'" in missing.stderr
    closed = harness("publish", str(bundle), "--to", f"http://127.0.0.1:{free_port()}", token=token)
    assert closed.returncode == 3 and "cannot reach the platform" in closed.stderr


def test_download_is_byte_identical_and_verifies_offline(platform: tuple[Seeded, PlatformServer], tmp_path: Path) -> None:
    seeded, server = platform
    bundle = make_bundle(seeded.base / "download", seeded.keys["lab-a"], "download-run")
    response = upload(server, seeded.tokens["lab-a-user"], bundle, declared={"dev-a": {"model": "EM-3568", "soc": "RK3568"}})
    assert response.status_code == 201, response.text
    sid = response.json()["id"]
    with api(server, seeded.tokens["vendor-a-user"]) as client:
        detail = client.get(f"/api/v1/submissions/{sid}").json()
        zipped = client.get(f"/api/v1/submissions/{sid}/bundle")
        key = client.get(f"/api/v1/submissions/{sid}/key")
    assert zipped.status_code == 200 and zipped.content == bundle.read_bytes()
    assert hashlib.sha256(zipped.content).hexdigest() == detail["sha256"] == zipped.headers["x-content-sha256"]
    assert detail["signing_key"]["organisation"]["slug"] == "lab-a"
    devices = {d["name"]: d for d in detail["devices"]}
    assert devices["dev-a"]["model"] == "EM-3568" and devices["dev-a"]["soc"] == "RK3568"
    assert devices["dev-a"]["verdict"] == "NOT CERTIFIED" and devices["dev-b"]["verdict"] == "CERTIFIED"
    assert detail["failures"][0]["outcome"] == "FAIL"  # failures first, product failures before lab errors
    assert detail["requirements"][0]["status"]["dev-a"] in ("fail", "incomplete")
    (tmp_path / "got.zip").write_bytes(zipped.content)
    (tmp_path / "lab.pub").write_text(key.text)
    verified = harness("verify", str(tmp_path / "got.zip"), "--pubkey", str(tmp_path / "lab.pub"))
    assert verified.returncode == 0 and "OK" in verified.stdout, verified.stderr
    assert detail["verify_command"].startswith("harness verify download-run.zip --pubkey lab-a-")


def test_filters_search_and_pagination(platform: tuple[Seeded, PlatformServer]) -> None:
    seeded, server = platform
    for i in range(3):
        bundle = make_bundle(seeded.base / f"page{i}", seeded.keys["lab-b"], f"page-run-{i}")
        soc = "EX9000" if i == 0 else "RK3588"
        response = upload(server, seeded.tokens["lab-b-user"], bundle, vendor="vendor-b",
                          declared={"dev-a": {"model": f"Board-{i}", "soc": soc}})
        assert response.status_code == 201, response.text
    with api(server, seeded.tokens["officer"]) as client:
        def ids(**params: object) -> list[str]:
            return [s["run_id"] for s in client.get("/api/v1/submissions", params=params).json()["items"]]

        assert ids(lab="lab-b") == ["page-run-2", "page-run-1", "page-run-0"]  # newest first
        assert ids(lab="lab-b", soc="ex9000") == ["page-run-0"]
        assert ids(vendor="vendor-b", product="board-1") == ["page-run-1"]
        assert ids(lab="lab-b", q="PAGE-RUN-2 dev-b") == ["page-run-2"]
        assert ids(lab="lab-b", verdict="NOT CERTIFIED", os="openeuler", os_version="22.03") == [
            "page-run-2", "page-run-1", "page-run-0"]
        assert ids(lab="lab-b", verdict="CERTIFIED") == []
        assert ids(lab="lab-b", date_from="2000-01-01", date_to="2000-12-31") == []
        first = client.get("/api/v1/submissions", params={"lab": "lab-b", "per_page": 2}).json()
        second = client.get("/api/v1/submissions", params={"lab": "lab-b", "per_page": 2, "page": 2}).json()
        assert (first["total"], first["pages"], len(first["items"]), len(second["items"])) == (3, 2, 2, 1)
        assert client.get("/api/v1/submissions", params={"per_page": 0}).status_code == 422
        products = client.get("/api/v1/products", params={"vendor": "vendor-b", "q": "board"}).json()
        assert [p["model"] for p in products["items"]] == ["Board-0", "Board-1", "Board-2"]
        one = client.get(f"/api/v1/products/{products['items'][0]['id']}").json()
        assert one["soc"] == "EX9000" and [s["run_id"] for s in one["submissions"]["items"]] == ["page-run-0"]
    with api(server, seeded.tokens["vendor-a-user"]) as client:  # vendor-a sees none of vendor-b's
        assert client.get("/api/v1/submissions", params={"lab": "lab-b"}).json()["total"] == 0
        assert client.get("/api/v1/products", params={"vendor": "vendor-b"}).json()["total"] == 0


@pytest.mark.peer("sshd")
def test_harness_run_publish_publishes_a_real_run(platform: tuple[Seeded, PlatformServer], tmp_path: Path) -> None:
    seeded, server = platform
    sshd = OpenSshServer().start()
    try:
        suites, inventory = mini_lab(tmp_path, sshd)
        reports = tmp_path / "reports"
        common = ["-i", str(inventory), "run", "mini", "--all", "--suites-root", str(suites), "--reports",
                  str(reports), "--plain", "--publish", server.url]
        keys = {"HARNESS_KEY_DIR": str(seeded.keys["lab-a"]), "HARNESS_PLATFORM_VENDOR": "vendor-a"}
        ran = harness(*common, "--run-id", "published-run", token=seeded.tokens["lab-a-user"], **keys)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout.strip().splitlines()[-1] == str(reports / "published-run.zip")  # still the last line
        assert "published published-run.zip: accepted as submission" in ran.stderr
        # No token: refused before the run starts (exit 2), nothing run.
        early = harness(*common, "--run-id", "never-run", **keys)
        assert early.returncode == 2 and "HARNESS_PLATFORM_TOKEN" in early.stderr
        assert not (reports / "never-run").exists()
    finally:
        sshd.cleanup()
    with api(server, seeded.tokens["officer"]) as client:
        found = client.get("/api/v1/submissions", params={"q": "published-run"}).json()["items"]
    assert len(found) == 1 and found[0]["devices"][0]["name"] == "board1" and found[0]["verdict"] == "CERTIFIED"


def test_the_list_page_pages_through_many_submissions(platform: tuple[Seeded, PlatformServer]) -> None:
    import re

    seeded, server = platform
    fill_submissions(seeded, 60)  # rows straight into the tables, as 60 verified uploads would leave them
    browser = login(server, "officer")

    def shown(page: int) -> tuple[set[str], str]:
        html = browser.get("/submissions", params={"q": "bench-", "page": page}).text
        return set(re.findall(r'data-submission="(\d+)"', html)), html

    first, html = shown(1)
    assert len(first) == 50 and 'id="page-next"' in html and "page=2" in html
    second, html = shown(2)
    assert len(second) == 10 and not first & second and 'id="page-next"' not in html and 'id="page-prev"' in html


def test_platform_local_publishes_a_run_and_says_how_to_serve_it(tmp_path: Path) -> None:
    """What `make run` ends with: a local platform made on first use, an officer shown once."""
    import io

    from harness.report.publish import publish as sign_run
    from tests.report_runs import make_run

    keys, reports, data = tmp_path / "keys", tmp_path / "reports", tmp_path / "platform"
    run = make_run(reports, tmp_path / "suites", "local-run")
    sign_run(run, key_dir=keys, announce=io.StringIO())
    env = {"HARNESS_KEY_DIR": str(keys)}
    first = harness("platform", "local", "local-run", "--data", str(data), "--reports", str(reports), cwd=tmp_path,
                    **env)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.strip().splitlines()
    assert lines[0].startswith("platform: local-run.zip accepted as submission 1")
    password = lines[1].split(" / ")[1].split()[0]
    assert lines[-1].endswith("# then open http://127.0.0.1:8780/submissions/1")
    assert f"platform serve --data {data}" in lines[-1]
    again = harness("platform", "local", "local-run", "--data", str(data), "--reports", str(reports), cwd=tmp_path,
                    **env)
    assert again.returncode == 0 and "already published as submission 1" in again.stdout
    assert password not in again.stdout and "user passwd officer" in again.stdout
    from sqlalchemy import select

    from harness.platform.config import make_config
    from harness.platform.db.models import ApiToken
    from harness.platform.runtime import Platform

    local = Platform.open(make_config(data))
    with local.db.read() as db:  # the publish tokens it made were revoked once used
        assert [t.revoked_at is not None for t in db.scalars(select(ApiToken))] == [True, True]
    local.close()
    server = PlatformServer(data).start()  # what the last line runs
    try:
        officer = login(server, "officer", password)
        page = officer.get("/submissions/1")
        assert page.status_code == 200 and "local-run" in page.text
        with api(server) as anonymous:
            assert anonymous.get("/api/v1/tokens").status_code == 401
    finally:
        server.stop()
