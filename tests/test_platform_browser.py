"""The platform in a real browser (headless Chromium driven by Playwright) against a real server: a
lab run is published with `harness publish` and a CI token; an officer logs in, filters, opens the
submission and its sandboxed report, downloads the zip, which `harness verify` passes with the lab
key the platform serves; device output with markup stays text; the language switch works and
survives a reload, as does the session, which ends at logout; a vendor sees only its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.platform_peers import PASSWORD, PlatformServer, Seeded, make_bundle, seed
from tests.test_report_browser import CHROMIUM, CHROMIUM_ARGS, DEADLINE_MS, browser  # noqa: F401


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, PlatformServer, str]]:
    base = tmp_path_factory.mktemp("browser-platform")
    seeded = seed(base)
    server = PlatformServer(base / "data").start()
    bundle = make_bundle(base / "run", seeded.keys["lab-a"], "browser-run")
    env = {**os.environ, "HARNESS_PLATFORM_TOKEN": seeded.token("lab-a CI", "lab-a", "lab")}
    published = subprocess.run(
        [sys.executable, "-m", "harness", "publish", str(bundle), "--to", server.url, "--vendor", "vendor-a"],
        capture_output=True, text=True, env=env, timeout=60)
    assert published.returncode == 0, published.stderr
    other = make_bundle(base / "other", seeded.keys["lab-b"], "other-vendor-run")
    env["HARNESS_PLATFORM_TOKEN"] = seeded.tokens["lab-b-user"]
    assert subprocess.run([sys.executable, "-m", "harness", "publish", str(other), "--to", server.url, "--vendor",
                           "vendor-b"], env=env, capture_output=True, timeout=60).returncode == 0
    try:
        yield seeded, server, published.stdout.strip().splitlines()[-1]
    finally:
        server.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, dict[str, list[str]]]]:  # noqa: F811
    context = browser.new_context(accept_downloads=True)
    tab = context.new_page()
    seen: dict[str, list[str]] = {"dialogs": [], "errors": []}
    tab.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    tab.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: seen["errors"].append(str(e)))
    yield tab, seen
    context.close()


def log_in(tab: Any, url: str, username: str) -> None:
    tab.goto(url + "/submissions")
    assert tab.url.startswith(url + "/login")  # not logged in: the login page
    tab.fill("#username", username)
    tab.fill("#password", PASSWORD)
    tab.click("#login-submit")
    tab.wait_for_url(url + "/submissions", timeout=DEADLINE_MS)


@pytest.mark.peer("chromium")
def test_officer_finds_reads_and_downloads_a_published_run(
    platform: tuple[Seeded, PlatformServer, str], page: tuple[Any, dict[str, list[str]]], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    seeded, server, submission_url = platform
    tab, seen = page
    log_in(tab, server.url, "officer")
    rows = tab.locator("#submissions tbody tr")
    expect(rows).to_have_count(4, timeout=DEADLINE_MS)  # two runs of two devices
    tab.select_option("#f-vendor", "vendor-a")
    tab.fill("#f-q", "browser-run")
    tab.click("#f-apply")
    expect(rows).to_have_count(2, timeout=DEADLINE_MS)
    tab.select_option("#f-verdict", "CERTIFIED")  # the worst verdict of the run is NOT CERTIFIED
    tab.click("#f-apply")
    expect(tab.locator("#none-found")).to_be_visible(timeout=DEADLINE_MS)
    tab.select_option("#f-verdict", "NOT CERTIFIED")
    tab.click("#f-apply")
    expect(rows).to_have_count(2, timeout=DEADLINE_MS)
    tab.click("a.sub-link")
    tab.wait_for_url(submission_url, timeout=DEADLINE_MS)

    # Verdicts and identity per device; the lab key and when the platform verified the bundle.
    assert tab.locator('#verdicts .card[data-device="dev-a"] .verdict').inner_text() == "未通过认证"
    assert tab.locator('#verdicts .card[data-device="dev-b"] .verdict').inner_text() == "通过认证"
    assert tab.locator("#key-id").inner_text().startswith("SHA256:")
    assert "UTC" in tab.locator("#verified-at").inner_text()
    # Requirements, failures first; device output with markup is shown as text, never run.
    assert tab.locator("#requirements tbody tr").first.get_attribute("data-requirement") == "DEMO-2"
    message = tab.locator("tr.failure pre").first.inner_text()
    assert "<script>window.__pwned=1</script>" in message and 'onerror="window.__pwned=2"' in message
    assert tab.evaluate("window.__pwned") is None

    # The language switch, kept across a reload; so is the session.
    tab.go_back()
    tab.click("#lang-switch")
    assert tab.locator("#f-vendor option").first.inner_text() == "any"  # text without room for both
    assert tab.get_attribute("#f-q", "placeholder").startswith("run id")
    tab.go_forward()
    assert tab.locator('#verdicts .card[data-device="dev-a"] .verdict').inner_text() == "NOT CERTIFIED"
    tab.reload()
    assert tab.url == submission_url and tab.evaluate("document.documentElement.lang") == "en"
    assert tab.locator('#verdicts .card[data-device="dev-a"] .verdict').inner_text() == "NOT CERTIFIED"
    assert tab.locator("#whoami").inner_text() == "officer"

    # The bundle's own report, in a sandbox: it renders, its script runs, the platform is out of reach.
    with tab.context.expect_page() as opened:
        tab.click("#open-report")
    report = opened.value
    report.wait_for_load_state()
    assert report.locator("#title").inner_text().startswith("认证报告")
    report.click("#lang-switch")  # the report's own script works inside the sandbox
    assert report.locator("#title").inner_text().startswith("Certification report")
    assert report.evaluate("window.origin") == "null"  # an opaque origin: no platform cookies or pages
    assert report.evaluate("window.__pwned") is None
    report.close()

    # Download the zip and the lab's key; verify offline with the command the page shows.
    with tab.expect_download() as got:
        tab.click("#download")
    zipped = tmp_path / got.value.suggested_filename
    got.value.save_as(zipped)
    with tab.expect_download() as got_key:
        tab.click("#pubkey")
    key = tmp_path / got_key.value.suggested_filename
    got_key.value.save_as(key)
    command = tab.locator("#verify-command").inner_text().split()
    assert command[:2] == ["harness", "verify"] and command[2] == zipped.name and command[4] == key.name
    verified = subprocess.run([sys.executable, "-m", "harness", *command[1:]], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
    assert verified.returncode == 0 and "OK" in verified.stdout, verified.stderr

    tab.click("#logout")
    tab.wait_for_url(server.url + "/login", timeout=DEADLINE_MS)
    tab.goto(submission_url)
    assert tab.url.startswith(server.url + "/login?next=")
    assert seen == {"dialogs": [], "errors": []}


@pytest.mark.peer("chromium")
def test_a_vendor_sees_only_its_own(platform: tuple[Seeded, PlatformServer, str],
                                    page: tuple[Any, dict[str, list[str]]]) -> None:
    seeded, server, submission_url = platform
    tab, seen = page
    log_in(tab, server.url, "vendor-b-user")
    assert tab.locator("a.sub-link").all_inner_texts() == ["#2"]  # vendor-b's run only
    assert "browser-run" not in tab.content()
    response = tab.goto(submission_url)  # vendor-a's submission: not found, as if it did not exist
    assert response is not None and response.status == 404
    assert tab.locator("#message").inner_text() == "未找到。"
    assert tab.locator("#nav-keys").count() == 0
    assert seen["dialogs"] == []
