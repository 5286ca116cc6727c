"""A RunDiff as text for a terminal or a CI log: one block per device pair, each list capped at
`limit` lines (the --json form has everything). Device text (messages, names) is untrusted: control
characters and escapes are shown as visible escapes, never sent to the terminal."""

from __future__ import annotations

import re
from typing import Any

from .diff import DeviceDiff, FlakyTest, MetricMove, RequirementChange, RunDiff, TestChange, sections

TITLES = {
    "newly_failing": "newly failing",
    "fixed": "fixed",
    "still_failing": "still failing",
    "changed": "other changes",
    "added": "tests added",
    "removed": "tests removed",
    "flaky": "flaky",
    "requirements": "requirements changed",
    "metrics": "metrics moved",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
MESSAGE_WIDTH = 100


def clean(text: str) -> str:
    return _CONTROL.sub(
        lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text
    )


def _outcome(value: str | None) -> str:
    return value if value is not None else "-"


def _number(value: float) -> str:
    return f"{value:g}"


def _line(item: Any) -> str:
    if isinstance(item, TestChange):
        reqs = f" [{', '.join(item.requirements)}]" if item.requirements else ""
        msg = item.message if len(item.message) <= MESSAGE_WIDTH else item.message[:MESSAGE_WIDTH] + "…"
        tail = f": {msg}" if msg and item.after not in ("PASS", None) else ""
        return clean(f"{_outcome(item.before)} -> {_outcome(item.after)}  {item.test_id}{reqs}{tail}")
    if isinstance(item, FlakyTest):
        return clean(f"{item.test_id}  (flaky in {' and '.join(item.runs)})")
    if isinstance(item, RequirementChange):
        return clean(f"{item.id} {item.level}: {_outcome(item.before)} -> {_outcome(item.after)}")
    if isinstance(item, MetricMove):
        change = f" ({item.change:+.1%})" if item.change is not None else ""
        bounds = []
        if item.low is not None:
            bounds.append(f">= {_number(item.low)}")
        if item.high is not None:
            bounds.append(f"<= {_number(item.high)}")
        limits = f", bounds {' and '.join(bounds)}" if bounds else ""
        unit = f" {item.unit}" if item.unit else ""
        return clean(
            f"{item.test_id} {item.name}: {_number(item.before)} -> {_number(item.after)}{unit}{change}: "
            f"{item.why}{limits}"
        )
    raise TypeError(f"no text for {type(item).__name__}")


def _device_block(d: DeviceDiff, limit: int) -> list[str]:
    title = d.a if d.a == d.b else f"{d.a} -> {d.b}"
    lines = [clean(f"device {title}: {d.verdict_a} -> {d.verdict_b}")]
    if d.build_a or d.build_b:
        build = d.build_a if d.build_a == d.build_b else f"{d.build_a or '-'} -> {d.build_b or '-'}"
        lines.append(clean(f"  build: {build}"))
    for key, items in sections(d):
        if not items:
            continue
        lines.append(f"  {TITLES[key]} ({len(items)}):")
        shown = items if limit <= 0 else items[:limit]
        lines += [f"    {_line(item)}" for item in shown]
        if len(shown) < len(items):
            lines.append(f"    ... and {len(items) - len(shown)} more (--limit 0 shows all, --json has all)")
    if not any(items for _, items in sections(d)):
        lines.append("  no differences")
    return lines


def render_text(diff: RunDiff, limit: int = 50) -> str:
    lines = [
        clean(f"comparing {diff.a_run} ({diff.a_source})"),
        clean(f"     with {diff.b_run} ({diff.b_source})"),
    ]
    if not diff.devices:
        lines.append("no device to compare: the runs name different devices (pair them with --pair A=B)")
    for d in diff.devices:
        lines += _device_block(d, limit)
    if diff.only_a:
        lines.append(clean(f"devices only in {diff.a_run}: {', '.join(diff.only_a)}"))
    if diff.only_b:
        lines.append(clean(f"devices only in {diff.b_run}: {', '.join(diff.only_b)}"))
    counts = diff.counts()
    summary = ", ".join(
        f"{counts.get(k, 0)} {TITLES[k]}"
        for k in ("newly_failing", "fixed", "still_failing", "flaky", "added", "removed")
    )
    lines.append(
        f"summary: {summary}; {counts.get('requirements_changed', 0)} requirements changed, "
        f"{counts.get('metrics_moved', 0)} metrics moved"
    )
    lines.append("regression: yes" if diff.regression else "regression: no")
    return "\n".join(lines) + "\n"
