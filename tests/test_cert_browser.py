"""Certification in a real browser (headless Chromium, Playwright) against a real server, the whole
story: the vendor's CI publishes a build; an officer asks for a re-test; the vendor's CI publishes a
new build answering it; the vendor asks for a waiver; the officer approves it and certifies; the
certificate verifies offline with the platform key (and the bundle is the certified one); the
officer revokes; the public page and the offline check with the new revocation list say revoked."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.platform.services import accounts, audit
from harness.report.signing import PUBLIC_NAME
from tests.cert_peers import FAILS_DEMO_2, make_bundle_with
from tests.platform_peers import PASSWORD, PlatformServer, Seeded, seed
from tests.test_report_browser import CHROMIUM, CHROMIUM_ARGS, DEADLINE_MS, browser  # noqa: F401

pytestmark = pytest.mark.peer("chromium")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, PlatformServer]]:
    base = tmp_path_factory.mktemp("cert-browser")
    seeded = seed(base)
    seeded.key("vendor-a-ci", None)  # the vendor's own CI signs with a key registered to vendor-a
    with seeded.platform.db.write() as db:
        accounts.register_key(db, accounts.org_by_slug(db, "vendor-a"),
                              (seeded.keys["vendor-a-ci"] / PUBLIC_NAME).read_text(), "vendor CI")
    seeded.token("vendor-a CI", "vendor-a", "lab")
    server = PlatformServer(base / "data").start()
    try:
        yield seeded, server
    finally:
        server.stop()


def ci_publish(seeded: Seeded, server: PlatformServer, run_id: str, *extra: str) -> int:
    bundle = make_bundle_with(seeded.base / run_id, seeded.keys["vendor-a-ci"], run_id, FAILS_DEMO_2)
    env = {**os.environ, "HARNESS_PLATFORM_TOKEN": seeded.tokens["vendor-a CI"]}
    done = subprocess.run([sys.executable, "-m", "harness", "publish", str(bundle), "--to", server.url, *extra],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().rsplit("/", 1)[-1])


def log_in(tab: Any, url: str, username: str) -> None:
    tab.goto(url + "/login")
    tab.fill("#username", username)
    tab.fill("#password", PASSWORD)
    tab.click("#login-submit")
    tab.wait_for_url(url + "/submissions", timeout=DEADLINE_MS)


def move(tab: Any, url: str, sub: int, state: str, reason: str = "") -> None:
    tab.goto(f"{url}/submissions/{sub}/review")
    tab.select_option("#state-to", state)
    tab.fill("#state-reason", reason)
    tab.click("#state-submit")
    tab.wait_for_url(f"{url}/submissions/{sub}/review", timeout=DEADLINE_MS)
    assert tab.get_attribute("#state", "data-state") == state


def download(tab: Any, selector: str, folder: Path) -> Path:
    with tab.expect_download() as got:
        tab.click(selector)
    path = folder / got.value.suggested_filename
    got.value.save_as(path)
    return path


def verify(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "verify-certificate", *args], cwd=folder,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(600)  # a long story: three sessions, two uploads, four downloads, three CLI checks
def test_from_a_re_test_and_a_waiver_to_a_certificate_anyone_can_check_and_its_revocation(
    world: tuple[Seeded, PlatformServer], browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    seeded, server = world
    url = server.url
    errors: list[str] = []
    officer_ctx, vendor_ctx, public_ctx = (browser.new_context(accept_downloads=True) for _ in range(3))
    officer, vendor, public = officer_ctx.new_page(), vendor_ctx.new_page(), public_ctx.new_page()
    for tab in (officer, vendor, public):
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    first = ci_publish(seeded, server, "story-build-1")
    log_in(officer, url, "officer")
    move(officer, url, first, "in_review")
    move(officer, url, first, "retest_requested", "DEMO-2 fails on dev-a: re-test with the new storage driver")
    expect(officer.locator('.card[data-device="dev-a"] .verdict')).to_contain_text("NOT CERTIFIED")

    second = ci_publish(seeded, server, "story-build-2", "--answers", str(first))
    officer.goto(f"{url}/submissions/{first}/review")
    expect(officer.locator("#answered-by")).to_contain_text(f"#{second}")

    log_in(vendor, url, "vendor-a-user")
    vendor.goto(url + "/waivers")
    vendor.fill("#w-requirement", "DEMO-2")
    vendor.fill("#w-model", "FT-2000/4")
    vendor.fill("#w-reason", "the storage driver fix ships in Q3")
    vendor.click("#w-submit")
    row = vendor.locator("#waivers tbody tr").first
    expect(row).to_have_attribute("data-state", "requested")
    waiver_id = row.get_attribute("data-waiver")

    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).date()
    officer.goto(url + "/waivers")
    officer_row = officer.locator(f'#waivers tr[data-waiver="{waiver_id}"]')
    officer_row.locator(".w-expires").fill(expires.isoformat())
    officer_row.locator(".w-approve").click()
    expect(officer.locator(f'#waivers tr[data-waiver="{waiver_id}"]')).to_have_attribute("data-state", "approved")

    move(officer, url, second, "in_review")
    expect(officer.locator("#platform-verdict")).to_have_attribute("data-verdict", "CERTIFIED")
    expect(officer.locator(".waiver-applied").first).to_have_text(waiver_id or "")
    move(officer, url, second, "approved", "DEMO-2 waived until the driver fix")
    officer.fill("#certify-days", "365")
    officer.click("#certify-submit")
    officer.wait_for_url(re.compile(r".*/public/certificates/HPC-\d{4}-[0-9A-F]{10}$"), timeout=DEADLINE_MS)
    cert_id = officer.url.rsplit("/", 1)[-1]
    expect(officer.locator("#cert-status")).to_have_attribute("data-status", "valid")
    assert expires.isoformat() in officer.locator("#cert-expires").inner_text()  # the waiver's expiry

    # Offline: the certificate and the platform key, from the public verification page.
    public.goto(f"{url}/public/certificates/{cert_id}")
    cert_file = download(public, "#cert-json", tmp_path)
    key_file = download(public, "#platform-key", tmp_path)
    bundle = download(officer_goto(officer, f"{url}/submissions/{second}"), "#download", tmp_path)
    valid = verify(tmp_path, cert_file.name, "--platform-key", key_file.name, "--bundle", bundle.name)
    assert valid.returncode == 0 and valid.stdout.strip().endswith("VALID"), valid.stdout + valid.stderr
    assert f"DEMO-2 ({waiver_id} until" in valid.stdout
    lab_key = seeded.keys["vendor-a-ci"] / PUBLIC_NAME  # a lab's key is not the platform's
    assert verify(tmp_path, cert_file.name, "--platform-key", str(lab_key)).returncode == 1

    officer.goto(url + "/certificates")
    revoke_row = officer.locator(f'#certificates tr[data-certificate="{cert_id}"]')
    revoke_row.locator(".revoke-reason").fill("the driver fix was withdrawn")
    revoke_row.locator(".revoke-submit").click()
    officer.wait_for_url(f"{url}/public/certificates/{cert_id}", timeout=DEADLINE_MS)

    public.goto(f"{url}/public/certificates/{cert_id}")
    expect(public.locator("#cert-status")).to_have_attribute("data-status", "revoked")
    revocations = download(public, "#revocations", tmp_path)
    revoked = verify(tmp_path, cert_file.name, "--platform-key", key_file.name, "--revocations", revocations.name)
    assert revoked.returncode == 1 and revoked.stdout.strip().endswith("REVOKED"), revoked.stdout + revoked.stderr
    assert "the driver fix was withdrawn" in revoked.stdout

    # Every step is in the audit trail, and the chain holds.
    with seeded.platform.db.read() as db:
        assert audit.verify(db).ok
        steps = [(e["action"], e["after"]) for e in audit.stream(db)]
    assert steps == [("submission.publish", "submitted"), ("submission.state", "in_review"),
                     ("submission.state", "retest_requested"), ("submission.publish", "submitted"),
                     ("waiver.request", "requested"), ("waiver.approve", "approved"),
                     ("submission.state", "in_review"), ("submission.state", "approved"),
                     ("submission.state", "certified"), ("submission.state", "revoked")]
    assert errors == []
    for ctx in (officer_ctx, vendor_ctx, public_ctx):
        ctx.close()


def officer_goto(tab: Any, target: str) -> Any:
    tab.goto(target)
    return tab
