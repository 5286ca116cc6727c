"""report.html and index.html in real peers: headless Chromium (Debian's package, driven by Playwright)
opens them from file:// URLs, and the Nu HTML checker (vnu.jar on the machine's Java) validates them.

Chromium: /usr/bin/chromium (`apt-get install chromium`). vnu.jar: $VNU_JAR, else the npm package
vnu-jar in $HARNESS_TEST_CACHE (default ~/.cache/harness-tests), installed there with npm on first use.
A missing peer skips here and fails in CI (HARNESS_REQUIRE_PEERS=1)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.report.html import write_report
from harness.report.publish import Published, publish
from harness.results.reader import read_results
from tests.report_runs import make_run
from tests.synthetic_results import outcome_of, synthetic_results

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VNU_VERSION = "26.9.27"
DEADLINE_MS = 10_000


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    base = tmp_path_factory.mktemp("browser")
    run = make_run(base / "reports", base / "suites")
    return publish(run, lang="zh", key_dir=base / "keys")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def offline_page(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page whose every non-file request is refused and recorded: the report must need none."""
    context = browser.new_context()
    page = context.new_page()
    fetched: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            fetched.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    yield page, fetched
    context.close()


def visible_rows(page: Any) -> int:
    return int(page.eval_on_selector_all("#test-table tbody tr", "rs => rs.filter(r => !r.hidden).length"))


def wait_count(page: Any, count: int) -> None:
    """Until the page says `count` rows are shown (an assertion that retries, not a sleep)."""
    from playwright.sync_api import expect

    expect(page.locator("#f-count")).to_have_text(str(count), timeout=DEADLINE_MS)


@pytest.mark.peer("chromium")
def test_verdicts_and_language_switch(offline_page: tuple[Any, list[str]], published: Published) -> None:
    page, fetched = offline_page
    page.goto(published.report.as_uri())
    verdict_a = page.locator('#verdicts .card[data-device="dev-a"] .verdict')
    verdict_b = page.locator('#verdicts .card[data-device="dev-b"] .verdict')
    assert verdict_a.is_visible() and verdict_b.is_visible()
    assert verdict_a.inner_text() == "未通过认证" and verdict_b.inner_text() == "通过认证"
    assert page.locator("#title").inner_text().startswith("认证报告")
    page.click("#lang-switch")  # works only if the page's CSP accepts its own script's hash
    assert page.locator("#title").inner_text().startswith("Certification report")
    assert verdict_a.inner_text() == "NOT CERTIFIED" and verdict_b.inner_text() == "CERTIFIED"
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("#lang-switch").inner_text() == "中文"
    page.click("#lang-switch")
    assert verdict_a.inner_text() == "未通过认证"
    assert fetched == []  # nothing outside the file was asked for


# Draws each Han character of an element in the element's own font, and an unassigned code point that
# no font has (so it shows the missing-glyph box): with no CJK font every Han character is that box too.
_GLYPHS_JS = """el => {
    const font = getComputedStyle(el).font;
    const canvas = document.createElement('canvas');
    canvas.width = 96; canvas.height = 96;
    const g = canvas.getContext('2d');
    const draw = ch => {
        g.clearRect(0, 0, 96, 96); g.font = font; g.textBaseline = 'top'; g.fillStyle = '#000';
        g.fillText(ch, 8, 8);
        return Array.from(g.getImageData(0, 0, 96, 96).data.filter((_, i) => i % 4 === 3)).join('');
    };
    const han = [...new Set([...el.textContent].filter(ch => /\\p{Script=Han}/u.test(ch)))].slice(0, 4);
    const box = draw('\\u0378'), shapes = han.map(draw);
    return {font, han, boxInked: /[1-9]/.test(box), inked: shapes.map(s => /[1-9]/.test(s)),
            asBox: shapes.map(s => s === box), distinct: new Set(shapes).size};
}"""


@pytest.mark.peer("chromium")
def test_chinese_headings_render_real_glyphs(offline_page: tuple[Any, list[str]], published: Published) -> None:
    # Without a CJK font (scripts/system-deps.sh installs fonts-noto-cjk) the zh report shows boxes.
    page, _ = offline_page
    page.goto(published.report.as_uri())
    for selector in ("#title", "h2"):
        drawn = page.locator(selector).first.evaluate(_GLYPHS_JS)
        assert len(drawn["han"]) >= 2, drawn["han"]
        assert drawn["boxInked"], "the missing-glyph box drew nothing"
        boxes = [c for c, as_box in zip(drawn["han"], drawn["asBox"], strict=True) if as_box]
        assert not boxes, f"{boxes} render as the missing-glyph box in {drawn['font']}"
        assert all(drawn["inked"]) and drawn["distinct"] == len(drawn["han"]), drawn


@pytest.mark.peer("chromium")
def test_filters_and_search_hide_rows(offline_page: tuple[Any, list[str]], published: Published) -> None:
    page, _ = offline_page
    page.goto(published.report.as_uri())
    assert visible_rows(page) == 10
    page.select_option("#f-outcome", "FAIL")
    wait_count(page, 1)
    assert visible_rows(page) == 1
    assert page.locator("#test-table tbody tr:not([hidden])").inner_text().count("test_storage") == 1
    assert page.locator("details.fail:not([hidden])").count() == 1  # the failures list follows the filter
    page.select_option("#f-outcome", "")
    page.select_option("#f-device", "dev-b")
    wait_count(page, 5)
    page.fill("#f-search", "TEST_LATE")  # case-insensitive
    wait_count(page, 1)
    page.select_option("#f-device", "")
    wait_count(page, 2)
    page.fill("#f-search", "no such text anywhere")
    wait_count(page, 0)
    assert visible_rows(page) == 0
    page.fill("#f-search", "")
    wait_count(page, 10)


@pytest.mark.peer("chromium")
def test_device_markup_does_not_run_and_shows_as_text(browser: Any, published: Published) -> None:
    # CSP bypassed: the escaping alone must keep the device's script from running.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(published.report.as_uri())
        page.locator("details.fail").first.wait_for(state="visible")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#failures script, #failures img, #tests img").count() == 0
        stdout = page.locator("details.fail pre.stdout").first.inner_text()
        assert "<script>window.__pwned=1</script>" in stdout
        assert '<img src=x onerror="window.__pwned=2">' in stdout
        assert "\\x1b[31mred" in stdout and "\\ud800" in stdout
        page.click("#lang-switch")  # our own script still runs
        assert page.evaluate("typeof window.__pwned") == "undefined"
    finally:
        context.close()


@pytest.mark.peer("chromium")
def test_index_lists_the_run_with_working_links(
    offline_page: tuple[Any, list[str]], published: Published
) -> None:
    page, fetched = offline_page
    page.goto(published.index.as_uri())
    text = page.locator("#runs").inner_text()
    assert "20261127-101500-ab12" in text and "dev-a" in text and "openEuler 22.03 LTS" in text
    assert "未通过认证" in text and "通过认证" in text
    links = page.eval_on_selector_all("#runs a", "as => as.map(a => a.href)")
    assert sorted(Path(link.removeprefix("file://")).name for link in links) == [
        "20261127-101500-ab12.zip",
        "report.html",
    ]
    assert all(Path(link.removeprefix("file://")).is_file() for link in links)
    assert fetched == []


@pytest.mark.peer("chromium")
def test_ten_thousand_results_open_and_filter_quickly(
    offline_page: tuple[Any, list[str]], tmp_path: Path
) -> None:
    page, _ = offline_page
    doc = synthetic_results(4, 2500)
    report = write_report(doc, tmp_path / "report.html", "en")
    # Each step waits for the page's count against DEADLINE_MS, the bound a page that cannot cope
    # with 10,000 rows misses; how fast it is, in seconds, is a benchmark's question, not a test's.
    page.goto(report.as_uri())
    page.select_option("#f-outcome", "FAIL")
    fails = sum(outcome_of(i) == "FAIL" for i in range(2500)) * 4
    wait_count(page, fails)
    page.fill("#f-search", "test_case_14")  # test_case_14, 140..149, 1400..1499 on each of the 4 devices
    wait_count(
        page, sum(outcome_of(i) == "FAIL" and "test_case_14" in f"test_case_{i}" for i in range(2500)) * 4
    )


# -- the Nu HTML checker ------------------------------------------------------------------------------


def vnu_jar() -> Path:
    if os.environ.get("VNU_JAR"):
        return Path(os.environ["VNU_JAR"])
    cache = Path(os.environ.get("HARNESS_TEST_CACHE") or Path.home() / ".cache" / "harness-tests") / "vnu"
    jar = cache / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
    if not jar.is_file():
        if not shutil.which("npm"):
            pytest.skip("vnu.jar missing and no npm to install it")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                "npm",
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(cache),
                f"vnu-jar@{VNU_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not jar.is_file():
            pytest.skip(f"could not install vnu-jar with npm: {done.stderr.strip()[-500:]}")
    return jar


@pytest.mark.peer("vnu")
def test_nu_html_checker_finds_no_error(published: Published, tmp_path: Path) -> None:
    if not shutil.which("java"):
        pytest.skip("no java for vnu.jar")
    jar = vnu_jar()
    english = write_report(read_results(published.results), tmp_path / "en.html", "en")
    pages = [published.report, english, published.index]
    done = subprocess.run(
        ["java", "-jar", str(jar), "--errors-only", *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stderr == "" and done.returncode == 0, done.stderr
    # The checker does report errors: a broken page must not pass.
    broken = tmp_path / "broken.html"
    broken.write_text(published.report.read_text().replace('<section id="run">', '<section id="run"><blink>'))
    bad = subprocess.run(
        ["java", "-jar", str(jar), "--errors-only", str(broken)], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode != 0 and "error" in bad.stderr
