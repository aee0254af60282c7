"""Small SVG charts for the KPI report: lines, grouped bars, a heatmap.

The report must open offline, from a file share or an e-mail attachment, so charts are inline SVG
written here rather than a JavaScript library loaded from a CDN (or a megabyte of one pasted into
every report). Each data mark carries a ``<title>``, which browsers show as a tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

Number = float | int | None
Format = Callable[[float], str]

PALETTE = ("#2f6db5", "#e07b39", "#3a9a5b", "#b5483b", "#7d5ba6", "#8c6d46", "#c55e9e", "#6b6b6b")
# Bars of values too uncertain to read (report: survey scores on too few answers).
GREY = "#cfcfcf"
WIDTH, HEIGHT = 640, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 30, 70
LABEL_CHARS = 22


def number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def percent(value: float) -> str:
    return f"{value:.0%}" if abs(value) >= 0.1 else f"{value:.1%}"


def points(value: float) -> str:
    """A score in points (NPS: -100 to +100), the unit written on every tick."""
    return f"{value:.0f} pts" if value == round(value) else f"{value:.1f} pts"


def percent_points(value: float) -> str:
    """A share already in percent (CSAT: 0 to 100), not a fraction."""
    return f"{value:.0f} %" if value == round(value) else f"{value:.1f} %"


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 5 x a power of ten apart)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _svg(body: list[str], label: str, height: int = HEIGHT) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="11">' + "".join(body) + "</svg>"
    )


def _legend(names: Sequence[str]) -> list[str]:
    """Series names above the plot (nothing to say for a single series: the title names it)."""
    if len(names) < 2:
        return []
    out, x, y = [], MARGIN_LEFT, 14
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="{y}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return out


def _value_axis(values: list[float], fmt: Format, zero: bool) -> tuple[Callable[[float], float], list[str]]:
    """Scale and gridlines of the vertical value axis."""
    low = min([*values, 0.0] if zero else values)
    high = max(values)
    ticks = _nice_ticks(low, high)
    top, bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM

    def scale(v: float) -> float:
        return bottom - (v - ticks[0]) / (ticks[-1] - ticks[0]) * (bottom - top)

    out = []
    for t in ticks:
        y = scale(t)
        out.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e4e4e4"/>'
        )
        out.append(f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(t))}</text>')
    return scale, out


def _category_labels(labels: Sequence[str], centre: Callable[[int], float]) -> list[str]:
    """Labels under the plot: level when few and short, else slanted and thinned to ~14."""
    y = HEIGHT - MARGIN_BOTTOM + 16
    short = [label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…" for label in labels]
    if len(labels) <= 5 and max(map(len, short)) * 6.5 < (WIDTH - MARGIN_LEFT) / len(labels):
        return [
            f'<text x="{centre(i):.1f}" y="{y}" text-anchor="middle">{escape(label)}</text>'
            for i, label in enumerate(short)
        ]
    step = max(1, math.ceil(len(labels) / 14))
    return [
        f'<text x="{centre(i):.1f}" y="{y}" text-anchor="end" transform="rotate(-35 {centre(i):.1f} {y})">'
        f"{escape(label)}<title>{escape(labels[i])}</title></text>"
        for i, label in enumerate(short)
        if i % step == 0
    ]


def line_chart(
    x: Sequence[str], series: dict[str, Sequence[Number]], fmt: Format = number, *, zero: bool = True
) -> str:
    """One line per series over categorical ``x`` (periods); gaps where a value is None."""
    values = [float(v) for s in series.values() for v in s if v is not None]
    if not values:
        return empty("no data")
    scale, body = _value_axis(values, fmt, zero)
    inner = WIDTH - MARGIN_LEFT - MARGIN_RIGHT

    def centre(i: int) -> float:
        return MARGIN_LEFT + inner * (i + 0.5) / len(x)

    for index, (name, points) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        path, pen_down = [], False
        for i, v in enumerate(points):
            if v is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{centre(i):.1f},{scale(float(v)):.1f}")
            pen_down = True
        body.append(
            f'<path class="mark" d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="2"/>'
        )
        for i, v in enumerate(points):
            if v is not None:
                body.append(
                    f'<circle class="mark" cx="{centre(i):.1f}" cy="{scale(float(v)):.1f}" r="3" '
                    f'fill="{color}">'
                    f"<title>{escape(name)} · {escape(x[i])}: {escape(fmt(float(v)))}</title></circle>"
                )
    body += _category_labels(x, centre)
    body += _legend(list(series))
    return _svg(body, ", ".join(series))


def bar_chart(
    categories: Sequence[str],
    series: dict[str, Sequence[Number]],
    fmt: Format = number,
    greyed: Sequence[bool] | None = None,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series; the categories flagged in
    ``greyed`` are drawn in grey (values too uncertain to read, e.g. too few survey answers)."""
    values = [float(v) for s in series.values() for v in s if v is not None]
    if not values:
        return empty("no data")
    scale, body = _value_axis(values, fmt, zero=True)
    inner = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    group = inner / len(categories)
    bar = group * 0.8 / len(series)
    for index, (name, points) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        for i, v in enumerate(points):
            if v is None:
                continue
            x = MARGIN_LEFT + group * i + group * 0.1 + bar * index
            y0, y1 = scale(0.0), scale(float(v))
            grey = bool(greyed and greyed[i])
            body.append(
                f'<rect class="mark" x="{x:.1f}" y="{min(y0, y1):.1f}" width="{bar:.1f}" '
                f'height="{max(abs(y0 - y1), 0.5):.1f}" fill="{GREY if grey else color}">'
                f"<title>{escape(name)} · {escape(categories[i])}: {escape(fmt(float(v)))}"
                f"{' (unreliable)' if grey else ''}</title></rect>"
            )
    body += _category_labels(categories, lambda i: MARGIN_LEFT + group * (i + 0.5))
    body += _legend(list(series))
    return _svg(body, ", ".join(series))


def heatmap(
    rows: Sequence[str], columns: Sequence[str], cells: dict[tuple[str, str], float], fmt: Format = percent
) -> str:
    """A row x column grid shaded by value (0 → white, max → dark blue), values written in."""
    if not cells:
        return empty("no data")
    high = max(cells.values()) or 1.0
    left, top, size_w = 140, 40, (WIDTH - 150) / max(len(columns), 1)
    size_h = 34
    height = top + size_h * len(rows) + 10
    body = [
        f'<text x="{left + size_w * (j + 0.5):.1f}" y="{top - 8}" text-anchor="middle">{escape(c)}</text>'
        for j, c in enumerate(columns)
    ]
    for i, r in enumerate(rows):
        y = top + size_h * i
        body.append(f'<text x="{left - 8}" y="{y + size_h / 2 + 4:.1f}" text-anchor="end">{escape(r)}</text>')
        for j, c in enumerate(columns):
            value = cells.get((r, c))
            shade = 0.0 if value is None else value / high
            fill = f"rgb({int(255 - 208 * shade)},{int(255 - 146 * shade)},{int(255 - 74 * shade)})"
            text = "" if value is None else fmt(value)
            ink = "#fff" if shade > 0.55 else "#222"
            body.append(
                f'<rect class="mark" x="{left + size_w * j:.1f}" y="{y}" width="{size_w - 2:.1f}" '
                f'height="{size_h - 2}" fill="{fill}"><title>{escape(r)} → {escape(c)}: '
                f"{escape(text)}</title></rect>"
                f'<text x="{left + size_w * (j + 0.5):.1f}" y="{y + size_h / 2 + 4:.1f}" '
                f'text-anchor="middle" fill="{ink}">{escape(text)}</text>'
            )
    return _svg(body, "heatmap", height)


def empty(reason: str) -> str:
    """A chart with nothing to draw says so rather than leaving a blank box."""
    return _svg(
        [f'<text class="mark" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">{escape(reason)}</text>'],
        reason,
    )
