"""Inline SVG charts, generated as text (no library, no external file). Every label is escaped here,
so the returned Markup can go into the page as it is. Colours come from the page's CSS classes."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from .clean import html_text

OUTCOMES = ("PASS", "FAIL", "ERROR", "SKIP", "NOT_RUN")
WIDTH = 720
LABEL_W = 190
ROW_H = 22
BAR_H = 14


def _label(text: str, limit: int = 30) -> Markup:
    text = html_text(text)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _svg(height: int, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def stacked_outcomes(rows: list[tuple[str, dict[str, int]]], label: str) -> Markup:
    """One horizontal bar per row, split by outcome, scaled to the largest row."""
    largest = max((sum(c.get(o, 0) for o in OUTCOMES) for _, c in rows), default=0) or 1
    span = WIDTH - LABEL_W - 60
    body = []
    for i, (name, counts) in enumerate(rows):
        y = i * ROW_H + 4
        body.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 3}" text-anchor="end">{_label(name)}</text>')
        x = float(LABEL_W)
        total = 0
        for outcome in OUTCOMES:
            n = counts.get(outcome, 0)
            if not n:
                continue
            w = span * n / largest
            body.append(
                f'<rect class="f-{outcome}" x="{x:.1f}" y="{y}" width="{max(w, 0.5):.1f}" '
                f'height="{BAR_H}"><title>{_label(name, 80)}: {outcome} {n}</title></rect>'
            )
            x += w
            total += n
        body.append(f'<text x="{x + 4:.1f}" y="{y + BAR_H - 3}">{total}</text>')
    return _svg(len(rows) * ROW_H + 8, body, label)


def bars(rows: list[tuple[str, float]], label: str, unit: str = "") -> Markup:
    largest = max((v for _, v in rows), default=0.0) or 1.0
    span = WIDTH - LABEL_W - 90
    body = []
    for i, (name, value) in enumerate(rows):
        y = i * ROW_H + 4
        w = span * value / largest
        body.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 3}" text-anchor="end">{_label(name)}</text>')
        body.append(
            f'<rect class="f-bar" x="{LABEL_W}" y="{y}" width="{max(w, 0.5):.1f}" height="{BAR_H}">'
            f"<title>{_label(name, 80)}: {value:.2f}{escape(unit)}</title></rect>"
        )
        body.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{y + BAR_H - 3}">{value:.2f}{escape(unit)}</text>')
    return _svg(len(rows) * ROW_H + 8, body, label)


@dataclass
class MetricPoint:
    label: str  # device and metric name
    value: float
    unit: str
    low: float | None
    high: float | None

    @property
    def ok(self) -> bool:
        return (self.low is None or self.value >= self.low) and (self.high is None or self.value <= self.high)


def metric_ranges(points: list[MetricPoint], label: str) -> Markup:
    """Each metric on its own scale: the pass range as a band, the measured value as a dot, green or red."""
    span = WIDTH - LABEL_W - 120
    body = []
    for i, p in enumerate(points):
        y = i * ROW_H + 4
        known = [v for v in (p.value, p.low, p.high) if v is not None]
        lo, hi = min(known), max(known)
        pad = (hi - lo) * 0.15 or abs(hi) * 0.15 or 1.0
        lo, hi = lo - pad, hi + pad

        def x_of(v: float, lo: float = lo, hi: float = hi) -> float:
            return LABEL_W + span * (v - lo) / (hi - lo)

        band_lo = x_of(p.low) if p.low is not None else float(LABEL_W)
        band_hi = x_of(p.high) if p.high is not None else float(LABEL_W + span)
        body.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 3}" text-anchor="end">{_label(p.label)}</text>')
        body.append(f'<rect class="f-track" x="{LABEL_W}" y="{y + 5}" width="{span}" height="4"/>')
        band_w = max(band_hi - band_lo, 1)
        body.append(f'<rect class="f-band" x="{band_lo:.1f}" y="{y + 2}" width="{band_w:.1f}" height="10"/>')
        state = "PASS" if p.ok else "FAIL"
        bounds = f"[{'' if p.low is None else p.low}, {'' if p.high is None else p.high}]"
        body.append(
            f'<circle class="f-{state}" cx="{x_of(p.value):.1f}" cy="{y + 7}" r="5">'
            f"<title>{_label(p.label, 80)}: {p.value:g} {escape(p.unit)} {bounds}</title></circle>"
        )
        body.append(f'<text x="{LABEL_W + span + 8}" y="{y + BAR_H - 3}">{p.value:g} {escape(p.unit)}</text>')
    return _svg(len(points) * ROW_H + 8, body, label)
