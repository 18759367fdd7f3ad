"""Charts drawn on the server as SVG shapes: numbers in, rectangles out (the template writes them, escaped)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    top: int  # the largest value, the chart's scale

    @property
    def baseline(self) -> int:
        return self.height - 16  # room for the labels under the bars


def bar_chart(points: list[tuple[str, int]], *, width: int = 640, height: int = 160) -> BarChart:
    """One bar per point, scaled to the largest; a bar with a value keeps at least a pixel, so it shows."""
    top = max((value for _label, value in points), default=0)
    plot = height - 16
    slot = width / max(len(points), 1)
    bars = []
    for n, (label, value) in enumerate(points):
        tall = 0.0 if top == 0 else max(plot * value / top, 1.0 if value else 0.0)
        bars.append(Bar(round(n * slot + slot * 0.1, 1), round(plot - tall, 1), round(slot * 0.8, 1), round(tall, 1),
                        label, value))  # fmt: skip
    return BarChart(width, height, bars, top)


def success_rate(succeeded: int, ended: int) -> int | None:
    """Whole percent of what ended that succeeded; None when nothing has ended."""
    return round(100 * succeeded / ended) if ended else None
