"""Charts drawn on the server as SVG: no script, no chart library from a CDN, and every piece of text escaped
(a method's or a currency's name is data, and data never becomes markup)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from markupsafe import Markup, escape


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # under the bar (may be blank to thin the axis)
    value: int
    title: str  # the tooltip, and what a screen reader says of the bar
    rate: int | None = None  # a whole percent drawn as a dot over the bar, if any


def _text(x: float, y: float, text: str, anchor: str = "middle", css: str = "axis") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{css}">{escape(text)}</text>'


def bar_chart(bars: Sequence[Bar], *, title: str, top_label: str, rate_label: str | None = None) -> Markup:
    """Vertical bars scaled to the largest value (``top_label`` names it on the axis), optional rate dots on a
    0-100 % scale; the SVG scales with its container through its viewBox."""
    width, height, left, right, top, bottom = 960, 220, 8, 8, 22, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((b.value for b in bars), default=0) or 1
    step = plot_w / max(len(bars), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="base"/>',
        _text(left, 14, top_label, "start"),
    ]
    if rate_label:
        parts.append(_text(width - right, 14, rate_label, "end", "axis rate"))
    dots: list[tuple[float, float] | None] = []  # None: a day with nothing to rate breaks the line
    for i, bar in enumerate(bars):
        h = plot_h * bar.value / peak
        x = left + i * step + step * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(bar.title)}</title></rect>"
        )
        if bar.label:
            parts.append(_text(x + step * 0.35, height - 8, bar.label))
        dots.append(None if bar.rate is None else (x + step * 0.35, top + plot_h * (1 - bar.rate / 100)))
    for a, b in pairwise(dots):
        if a is not None and b is not None:  # consecutive days only: no line across days without payments
            parts.append(f'<line x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" y2="{b[1]:.1f}" class="rate"/>')
    parts += [f'<circle cx="{d[0]:.1f}" cy="{d[1]:.1f}" r="3" class="rate"/>' for d in dots if d is not None]
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text and attribute value above is escaped


def rate_bars(rows: Sequence[tuple[str, int | None, str]], *, title: str) -> Markup:
    """Horizontal bars of success rates (0-100 %), one row per (label, rate, tooltip)."""
    width, row_h, label_w = 960, 26, 220
    height = max(len(rows), 1) * row_h + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, rate, tip) in enumerate(rows):
        y = 4 + i * row_h
        span = (width - label_w - 60) * (rate or 0) / 100
        parts.append(_text(label_w - 8, y + 17, label, "end", "label"))
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{width - label_w - 60}" height="{row_h - 10}" '
                     f'class="track"/>')  # fmt: skip
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{span:.1f}" height="{row_h - 10}" class="bar">'
                     f"<title>{escape(tip)}</title></rect>")  # fmt: skip
        parts.append(_text(width - 52, y + 17, "—" if rate is None else f"{rate} %", "start", "label"))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text and attribute value above is escaped
