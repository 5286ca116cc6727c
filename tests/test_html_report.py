"""report.html as text: self-contained, escaped, bilingual, verdicts first, failures with evidence, run
metadata, charts, and light enough at 10,000 results. (The page in a real browser: test_report_browser.)"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path

import pytest

from harness.report.charts import MetricPoint, metric_ranges, stacked_outcomes
from harness.report.clean import html_text
from harness.report.html import MAX_FAILURES, render_report
from harness.results.build import build_document
from harness.results.document import ResultsDocument
from tests.report_runs import make_run
from tests.synthetic_results import outcome_of, synthetic_results


@pytest.fixture
def results(tmp_path: Path) -> ResultsDocument:
    return build_document(make_run(tmp_path / "reports", tmp_path / "suites"))


@pytest.fixture
def page(results: ResultsDocument) -> str:
    return render_report(results, "zh", key_id="SHA256:testkeyid")


def test_self_contained_one_script_allowed_by_its_hash(page: str) -> None:
    assert not re.search(r"<[^>]*\s(?:src|href)\s*=", page)  # nothing to load: no src, no link
    assert "http://" not in page and "https://" not in page and "url(" not in page
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1 and page.count("<script") == 1  # ours, and only ours
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp
    policy = html.unescape(csp.group(1))
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy


def test_device_output_is_escaped_text(page: str) -> None:
    assert "<img" not in page and 'onerror="' not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&#34;window.__pwned=2&#34;&gt;" in page
    # Code points HTML forbids are shown as escapes, not dropped silently and not raw.
    assert "\\x00\\x1b[31mred\\x1b[0m" in page and "\\ud800" in page and "\\ufffe" in page
    assert not re.search("[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff\ufffe]", page)
    assert "SN\\x07-00420" in page  # identity fields get the same treatment


def test_both_languages_and_the_default(results: ResultsDocument) -> None:
    zh = render_report(results, "zh")
    en = render_report(results, "en")
    assert zh.startswith('<!DOCTYPE html>\n<html lang="zh-Hans" class="show-zh">')
    assert en.startswith('<!DOCTYPE html>\n<html lang="en" class="show-en">')
    for page in (zh, en):  # one document carries both; CSS shows the chosen one
        assert '<span lang="en">Certification report</span><span lang="zh-Hans">认证报告</span>' in page
        assert '<span lang="en">Storage is fast enough</span><span lang="zh-Hans">存储速度达标</span>' in page
        assert "通过认证" in page and "未通过认证" in page
    assert render_report(results, "fr").startswith('<!DOCTYPE html>\n<html lang="zh-Hans"')


def _section(page: str, name: str) -> str:
    match = re.search(f'<section id="{name}">(.*?)</section>', page, re.S)
    assert match, name
    return match.group(1)


def test_verdicts_up_front_then_failures_before_the_full_table(page: str) -> None:
    order = [page.index(f'<section id="{s}">') for s in ("verdicts", "matrix", "failures", "tests", "run")]
    assert order == sorted(order)
    verdicts = _section(page, "verdicts")
    card_a = verdicts[verdicts.index('data-device="dev-a"') : verdicts.index('data-device="dev-b"')]
    assert 'class="card v-NOT_CERTIFIED"' in verdicts and "NOT CERTIFIED" in card_a
    assert "openEuler 22.03 LTS" in card_a and "MUST DEMO-2 is fail" in card_a
    failures = _section(page, "failures")
    assert failures.index("test_storage") < failures.index("test_link")  # FAIL before ERROR
    assert failures.count('<details class="fail"') == 2  # only FAIL and ERROR carry evidence
    assert "$ dd if=/dev/zero of=/tmp/x bs=1M count=64" in failures
    assert (
        '<pre class="stdout">probe output' in failures and '<pre class="stderr">dd: slow device' in failures
    )
    assert "CommandTimeout: no exit within 5s" in failures


def test_matrix_has_a_status_per_requirement_and_device(page: str) -> None:
    matrix = _section(page, "matrix")
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr><td class="mono">([^<]+)</td>.*?</tr>', matrix)}
    assert set(rows) == {"DEMO-1", "DEMO-2", "DEMO-3"}
    assert re.findall(r'class="s-([a-z-]+)"', rows["DEMO-2"]) == ["fail", "pass"]
    assert re.findall(r'class="s-([a-z-]+)"', rows["DEMO-3"]) == ["incomplete", "pass"]


def test_matrix_groups_by_suite_and_shows_each_source(results: ResultsDocument, page: str) -> None:
    matrix = _section(page, "matrix")
    heading = matrix.index('<tr class="suite-row" data-suite="demo">')
    assert heading < matrix.index('<td class="mono">DEMO-1</td>')
    assert "演示套件" in matrix[heading : matrix.index('<td class="mono">DEMO-1</td>')]
    assert "oec-hardware: kernel &lt;version &amp; source&gt;" in matrix  # escaped, on its row
    # A requirement whose test cuts the power says so on its row (and only that one), escaped.
    assert matrix.count('class="muted destructive"') == 1
    assert "破坏性操作</span>: cuts the &lt;device&#39;s&gt; power" in matrix
    [device, *_] = results.to_dict()["devices"]
    assert {r["id"]: r.get("destructive") for r in device["requirements"]} == {
        "DEMO-1": None, "DEMO-2": "cuts the <device's> power", "DEMO-3": None}
    # A document written before requirements named their suite still renders, under one unnamed group.
    data = results.to_dict()
    for device in data["devices"]:
        for req in device["requirements"]:
            req.pop("suite"), req.pop("source")
    old = _section(render_report(ResultsDocument.from_dict(data), "zh"), "matrix")
    assert '<tr class="suite-row" data-suite="">' in old and "DEMO-1" in old and "oec-hardware" not in old


def test_run_metadata_and_provenance(page: str) -> None:
    run = _section(page, "run")
    for text in (
        "20261127-101500-ab12",
        "tester",
        "lab-a",
        "harness run demo --all",
        "0.1.0",
        "SHA256:testkeyid",
        "2.1.0",
        "sha256:" + "cd" * 32,
        "2025-11-24 16:00:00 UTC",
    ):
        assert text in run, text
    identity = _section(page, "identity")
    assert "5.10.0-136.12" in identity and "openEuler/22.03/5.10.0-136.12" in identity


def test_charts_are_inline_svg_with_the_metric_threshold(page: str) -> None:
    charts = _section(page, "charts")
    assert charts.count("<svg ") == 4
    assert "dev-a write_MBps: 31.5 MB/s [50.0, ]" in charts  # below its low bound
    assert '<circle class="f-FAIL"' in charts and '<circle class="f-PASS"' in charts


def test_chart_labels_are_escaped() -> None:
    svg = stacked_outcomes([("<b>x</b>\x00", {"PASS": 2, "FAIL": 1})], "t")
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;\\x00" in svg
    point = MetricPoint("m<script>", 5.0, "ms", None, 3.0)
    assert not point.ok and "m&lt;script&gt;" in metric_ranges([point], "t")


def test_html_text_keeps_ordinary_text() -> None:
    assert html_text("tab\tnl\ncr\r 中文 \U0001f600") == "tab\tnl\ncr\r 中文 \U0001f600"
    assert html_text("a\x1bb\x9bc\ud800") == "a\\x1bb\\x9bc\\ud800"


def test_ten_thousand_results_stay_light() -> None:
    doc = synthetic_results(4, 2500, hostile="<script>window.__pwned=1</script>")
    page = render_report(doc)
    failures = sum(outcome_of(i) in ("FAIL", "ERROR") for i in range(2500)) * 4
    assert failures <= MAX_FAILURES
    assert page.count("<tr data-o=") == 10_000
    assert page.count('<details class="fail"') == failures  # evidence only where it is needed
    assert page.count('<pre class="stdout">') == failures
    assert len(page.encode()) < 6_000_000, len(page)
    assert "<script>window" not in page
