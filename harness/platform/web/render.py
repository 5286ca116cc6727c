"""Pages from jinja2 templates: autoescaped, with device text cleaned of code points HTML forbids."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ...report.clean import html_text
from ...report.i18n import HTML_LANG
from .i18n import plain, t, word

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return html_text(value)


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return ""


def _size(value: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024  # type: ignore[assignment]
    return str(value)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        auto_reload=False,
    )
    env.globals.update(t=t, word=word, plain=plain, query=query)
    env.filters.update(when=_when, size=_size, verdict_class=lambda v: str(v).replace(" ", "_"))
    return env


def query(params: dict[str, Any], **changes: Any) -> str:
    """A query string of the current filters with `changes` applied (empty values left out)."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in ("", None)})


def page(name: str, status: int = 200, *, lang: str, **context: Any) -> HTMLResponse:
    html = (
        environment().get_template(name).render(lang=lang, html_lang=HTML_LANG[lang], query=query, **context)
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
