"""results.json -> report.html: one self-contained page (inline CSS, SVG and script; no URL to fetch)
in Chinese and English, for the certification officer.

Device output is untrusted: Jinja autoescapes every value, and a finalize hook turns code points HTML
forbids into visible escapes. Nothing from a device is ever marked safe. A Content-Security-Policy
allows only the page's own script (by hash), so even a slip in escaping could not run injected code.
Evidence is rendered only for failures and errors, in collapsed <details>, so 10,000+ results stay light."""

from __future__ import annotations

import base64
import hashlib
import shlex
import time
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, Template
from markupsafe import Markup

from ..atomic_file import write_atomic
from ..profiles import IDENTITY_FIELDS
from ..results.document import DeviceResult, ResultsDocument, SuiteEntry, TestEntry
from ..results.gc_pause import gc_paused
from ..results.model import Evidence, Outcome
from . import charts
from .clean import html_text
from .i18n import DEFAULT_LANG, HTML_LANG, IDENTITY_LABELS, LANGS, bilingual, plain, t, word

TEMPLATES = Path(__file__).resolve().parent / "templates"
OUTCOMES = ("PASS", "FAIL", "ERROR", "SKIP", "NOT_RUN")
EXCERPT = 4000  # characters per stream of one evidence command in the page
MESSAGE_IN_ROW = 240
MAX_FAILURES = 2000  # failures rendered with evidence; the rest are in the table and results.json
OPEN_FAILURES = 5  # the first few are open, the rest collapsed
MAX_METRICS = 60


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return html_text(value)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals.update(t=t, word=word, bilingual=bilingual)
    return env


def template(name: str) -> Template:
    return _environment().get_template(name)


def static_text(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def csp_for(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'"


def when(value: Any) -> str:
    if isinstance(value, int | float):
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
    return str(value or "")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f" … [+{len(text) - limit}]"


def _device_view(d: DeviceResult) -> dict[str, Any]:
    ident = d.identity or {}
    verdict = str(d.verdict)
    return {
        "name": d.name,
        "kind": d.kind,
        "profile": d.profile,
        "verdict": verdict,
        "verdict_class": verdict.replace(" ", "_"),
        "os": d.os_text,
        "summary": d.summary,
        "reachable": d.reachable,
        "interrupted": d.interrupted,
        "identity_changed": d.identity_changed,
        "reasons": d.verdict_reasons,
        "identity_values": [str(ident.get(k) or "") for k in IDENTITY_FIELDS],
    }


def _matrix(devices: list[DeviceResult], suites: list[SuiteEntry]) -> list[dict[str, Any]]:
    """Requirement rows grouped by the suite that defines each, suites in run order, then any other
    suite a row names; rows of a document written before requirements carried their suite group under ""."""
    rows: dict[str, dict[str, Any]] = {}
    for i, d in enumerate(devices):
        for r in d.requirements:
            blank = {
                "id": r.id,
                "level": r.level,
                "statuses": [None] * len(devices),
                "title_en": r.title_en,
                "title_zh": r.title_zh,
                "source": r.source,
                "destructive": r.destructive,
                "suite": r.suite,
            }
            row = rows.setdefault(r.id, blank)
            row["statuses"][i] = str(r.status)
    titles = {s.id: s for s in suites}
    groups: dict[str, dict[str, Any]] = {sid: {"suite": sid, "rows": []} for sid in titles}
    for row in rows.values():
        groups.setdefault(row["suite"], {"suite": row["suite"], "rows": []})["rows"].append(row)
    for sid, group in groups.items():
        ref = titles.get(sid)
        group["title_en"], group["title_zh"] = (ref.title_en, ref.title_zh) if ref else ("", "")
    return [g for g in groups.values() if g["rows"]]


def _evidence_view(ev: Evidence) -> dict[str, Any]:
    return {
        "command": ev.command,
        "exit_code": ev.exit_code,
        "duration": float(ev.duration or 0),
        "error": ev.error,
        "stdout": _cut(str(ev.stdout or ""), EXCERPT),
        "stderr": _cut(str(ev.stderr or ""), EXCERPT),
        "truncated": bool(ev.truncated),
    }


def _failure_view(device: str, test: TestEntry) -> dict[str, Any]:
    attempts = test.attempts
    history = "; ".join(f"#{a.attempt}: {a.outcome}" for a in attempts) if len(attempts) > 1 else ""
    return {
        "device": device,
        "test_id": test.test_id,
        "suite": test.suite,
        "outcome": str(test.outcome),
        "message": test.message,
        "requirements": ", ".join(test.requirements),
        "flaky": test.flaky,
        "history": history,
        "evidence": [_evidence_view(e) for e in test.evidence],
    }


def _charts(devices: list[DeviceResult], suite_ids: list[str]) -> dict[str, Any]:
    per_suite: dict[str, Counter[str]] = defaultdict(Counter)
    seconds: defaultdict[str, float] = defaultdict(float)
    points: list[charts.MetricPoint] = []
    for d in devices:
        for test in d.tests:
            per_suite[test.suite][str(test.outcome)] += 1
            seconds[test.suite] += float(test.duration or 0)
            for m in test.metrics:
                if m.low is not None or m.high is not None:
                    point = charts.MetricPoint(f"{d.name} {m.name}", float(m.value), m.unit, m.low, m.high)
                    points.append(point)
    # Out-of-range metrics first: they are what the reader looks for.
    points.sort(key=lambda p: p.ok)
    return {
        "suites": charts.stacked_outcomes([(s, dict(per_suite[s])) for s in suite_ids], "outcomes per suite"),
        "devices": charts.stacked_outcomes([(d.name, d.summary) for d in devices], "outcomes per device"),
        "durations": charts.bars([(s, seconds[s]) for s in suite_ids], "seconds per suite", " s"),
        "metrics": charts.metric_ranges(points[:MAX_METRICS], "metrics") if points else None,
        "metrics_left": max(len(points) - MAX_METRICS, 0),
    }


def report_context(results: ResultsDocument, lang: str = DEFAULT_LANG, key_id: str = "") -> dict[str, Any]:
    lang = lang if lang in LANGS else DEFAULT_LANG
    devices = results.devices
    run = results.run
    suite_ids = list(
        dict.fromkeys([s.id for s in results.suites] + [t.suite for d in devices for t in d.tests])
    )
    rows = []
    failures = []
    for d in devices:
        name = d.name
        for test in d.tests:
            outcome = str(test.outcome)
            rows.append(
                (
                    name,
                    test.suite,
                    test.test_id,
                    " ".join(test.requirements),
                    outcome,
                    f"{float(test.duration or 0):.2f}",
                    _cut(test.message or "", MESSAGE_IN_ROW),
                )
            )
            if test.outcome in (Outcome.FAIL, Outcome.ERROR):
                failures.append((name, test))
    failures.sort(key=lambda f: f[1].outcome is not Outcome.FAIL)  # product failures before lab errors
    chart_data = _charts(devices, suite_ids)
    script = static_text("script.js")
    return {
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "plain_title": plain("title", lang),
        "css": Markup(static_text("style.css")),
        "script": Markup(script),
        "csp": csp_for(script),
        "outcomes": OUTCOMES,
        "key_id": key_id or "-",
        "run": {
            "run_id": run.run_id,
            "operator": run.operator,
            "host": run.host,
            "start": when(run.start),
            "end": when(run.end),
            "harness_version": run.harness_version,
            "command_line": shlex.join(run.command_line),
            "waivers": ", ".join(run.waivers),
            "waivers_evaluated": run.waivers_evaluated or "",
        },
        "device_waivers": [{"device": d.name, **w.to_dict()} for d in devices for w in d.waivers or []],
        "suites": [s.to_dict() for s in results.suites],
        "suite_ids": suite_ids,
        "devices": [_device_view(d) for d in devices],
        "matrix": _matrix(devices, results.suites),
        "identity_fields": [bilingual(*IDENTITY_LABELS[k]) for k in IDENTITY_FIELDS],
        "failures": [_failure_view(n, f) for n, f in failures[:MAX_FAILURES]],
        "failures_total": len(failures),
        "failures_left": max(len(failures) - MAX_FAILURES, 0),
        "open_failures": OPEN_FAILURES,
        "charts": chart_data,
        "metrics_left": chart_data["metrics_left"],
        "rows": rows,
    }


def render_report(results: ResultsDocument, lang: str = DEFAULT_LANG, key_id: str = "") -> str:
    with gc_paused():  # the page's rows and views hold no cycles
        return template("report.html.j2").render(report_context(results, lang, key_id))


def write_report(results: ResultsDocument, path: Path, lang: str = DEFAULT_LANG, key_id: str = "") -> Path:
    # html_text already replaced surrogates; "replace" only guards against a path we did not foresee.
    return write_atomic(path, render_report(results, lang, key_id), errors="replace")
