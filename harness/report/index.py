"""reports/index.html: every run in a reports folder with its devices, OS, verdicts, date and links to
its report and signed bundle.

Each publish leaves a small entry in reports/.index/<run-id>.json, so the index never re-reads large
results.json files; a run without an entry (published by an older harness) is read once and cached."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from ..atomic_file import write_atomic
from ..errors import ConfigError
from ..results.build import RESULTS_JSON
from ..results.document import ResultsDocument
from ..results.reader import read_results
from .html import csp_for, static_text, template, when
from .i18n import DEFAULT_LANG, HTML_LANG, LANGS, plain

INDEX_HTML = "index.html"
ENTRY_DIR = ".index"


def index_entry(results: ResultsDocument) -> dict[str, Any]:
    return {
        "run_id": results.run.run_id,
        "start": results.run.start,
        "devices": [{"name": d.name, "os": d.os_text, "verdict": str(d.verdict)} for d in results.devices],
        "outcomes": dict(results.summary.outcomes),
    }


def _atomic_write(path: Path, text: str) -> None:
    write_atomic(path, text)


def save_entry(reports: Path, entry: dict[str, Any]) -> None:
    folder = reports / ENTRY_DIR
    folder.mkdir(exist_ok=True)
    _atomic_write(folder / f"{entry['run_id']}.json", json.dumps(entry, ensure_ascii=False))


def _load_entry(reports: Path, run_dir: Path) -> dict[str, Any] | None:
    cached = reports / ENTRY_DIR / f"{run_dir.name}.json"
    try:
        entry = json.loads(cached.read_text(encoding="utf-8"))
        if isinstance(entry, dict):
            return entry
    except (OSError, ValueError):
        pass
    try:
        # Only the run list is taken from it, once: not worth the schema's tens of seconds at 100,000.
        results = read_results(run_dir / RESULTS_JSON, check=False)
    except ConfigError:  # unreadable, or not a results document
        return None
    entry = index_entry(results)
    entry["run_id"] = run_dir.name
    save_entry(reports, entry)
    return entry


def _runs(reports: Path) -> list[dict[str, Any]]:
    runs = []
    for run_dir in sorted(p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()):
        if not ((run_dir / "run.json").is_file() or (run_dir / RESULTS_JSON).is_file()):
            continue
        entry = _load_entry(reports, run_dir) or {"run_id": run_dir.name, "start": None, "devices": []}
        bundle = reports / f"{run_dir.name}.zip"
        start = entry.get("start")
        runs.append(
            {
                "run_id": run_dir.name,
                "sort": float(start) if isinstance(start, int | float) else 0.0,
                "date": when(start),
                "devices": entry.get("devices") or [],
                "report": f"{quote(run_dir.name)}/report.html" if (run_dir / "report.html").is_file() else "",
                "bundle": quote(bundle.name) if bundle.is_file() else "",
            }
        )
    runs.sort(key=lambda r: (r["sort"], r["run_id"]), reverse=True)  # newest first
    return runs


def render_index(reports: Path, lang: str = DEFAULT_LANG) -> str:
    lang = lang if lang in LANGS else DEFAULT_LANG
    script = static_text("script.js")
    return template("index.html.j2").render(
        lang=lang,
        html_lang=HTML_LANG[lang],
        plain_title=plain("index_title", lang),
        css=Markup(static_text("style.css")),
        script=Markup(script),
        csp=csp_for(script),
        runs=_runs(reports),
    )


def write_index(reports: Path, lang: str = DEFAULT_LANG) -> Path:
    path = reports / INDEX_HTML
    _atomic_write(path, render_index(reports, lang))
    return path
