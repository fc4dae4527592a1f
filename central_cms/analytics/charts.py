"""Server-side SVG charts, readable at a glance; pure (values in, markup out).

Every chart has a title and a description for screen readers (`role="img"`), and the
page shows the same numbers in a table next to it. Colours pass WCAG AA on white.
Every piece of text is escaped before it joins the markup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from html import escape

from markupsafe import Markup

from central_cms.times import local_time

PALETTE = ("#005ea5", "#a4161a", "#1e6b34", "#7a4b00", "#5a2d82", "#00606b", "#4a5360")
INK, MUTED, GRID, ALERT = "#1b1f24", "#4a5360", "#dde3e9", "#a4161a"


def _text(
    x: float, y: float, content: str, *, anchor: str = "start", size: int = 11, fill: str = MUTED
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{fill}">{escape(content)}</text>'
    )


def _hline(x1: float, x2: float, y: float, stroke: str = GRID, dash: str = "") -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line x1="{x1}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}" stroke="{stroke}"{dashed}/>'


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def _grid(left: float, right: float, top: float, plot_h: float, peak: float) -> list[str]:
    parts = []
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        parts.append(_hline(left, right, y))
        parts.append(_text(left - 6, y + 4, _number(peak * i / 4), anchor="end"))
    return parts


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** (len(str(int(value))) - 1)
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * magnitude:
            return step * magnitude
    return float(value)


def _number(value: float) -> str:
    if value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


def _frame(title: str, description: str, width: int, height: int) -> str:
    ident = "c" + hashlib.sha256(f"{title}\n{description}".encode()).hexdigest()[:10]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{ident}t {ident}d" class="chart">'
        f'<title id="{ident}t">{escape(title)}</title>'
        f'<desc id="{ident}d">{escape(description)}</desc>'
    )


def _done(parts: list[str]) -> Markup:
    return Markup("".join(parts) + "</svg>")  # noqa: S704 - every text part was escaped


def column_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    width: int = 720,
    height: int = 240,
    colour: str = PALETTE[0],
) -> Markup:
    """Vertical bars with their values on top (days, buckets)."""
    left, bottom, top = 48, 40, 24
    plot_w, plot_h = width - left - 8, height - bottom - top
    highest = max((v for _, v in points), default=0)
    peak = _nice_max(highest)
    parts = [_frame(title, f"{len(points)} bars; highest {_number(highest)} {unit}", width, height)]
    parts += _grid(left, width - 8, top, plot_h, peak)
    if points:
        slot = plot_w / len(points)
        bar = max(2.0, min(48.0, slot * 0.7))
        label_every = max(1, int(len(points) / (plot_w / 56)) + 1)
        for index, (label, value) in enumerate(points):
            x = left + slot * index + (slot - bar) / 2
            h = plot_h * value / peak
            y = top + plot_h - h
            parts.append(_rect(x, y, bar, h, colour, f"{label}: {_number(value)} {unit}"))
            if len(points) <= 16 and value:
                parts.append(_text(x + bar / 2, y - 4, _number(value), anchor="middle", fill=INK))
            if index % label_every == 0:
                parts.append(_text(x + bar / 2, height - bottom + 16, label, anchor="middle"))
    return _done(parts)


def bar_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    width: int = 720,
    percent: bool = False,
) -> Markup:
    """Horizontal bars, one per label (campaigns, promotions): long names stay legible."""
    row, right = 26, 60
    left = min(220, width // 2 - 20)
    height = 20 + row * max(1, len(points))
    peak = 1.0 if percent else _nice_max(max((v for _, v in points), default=0))
    parts = [_frame(title, f"{len(points)} bars", width, height)]
    for index, (label, value) in enumerate(points):
        y = 10 + row * index
        w = (width - left - right) * min(value / peak, 1.0)
        shown = f"{value:.0%}" if percent else f"{_number(value)} {unit}".strip()
        room = max(8, left // 7)
        short = label if len(label) <= room else label[: room - 1] + "…"
        colour = PALETTE[0] if percent else PALETTE[index % len(PALETTE)]
        parts.append(_text(left - 8, y + 15, short, anchor="end", size=12, fill=INK))
        parts.append(_rect(left, y + 3, w, row - 8, colour, f"{label}: {shown}"))
        parts.append(_text(left + w + 6, y + 15, shown, size=12, fill=INK))
    return _done(parts)


def line_chart(
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    *,
    title: str,
    unit: str = "",
    width: int = 720,
    height: int = 220,
    limit: float | None = None,
    fixed_max: float | None = None,
    zone: tzinfo = UTC,
) -> Markup:
    """Lines over time (health history), with an optional dashed alert threshold; the
    axis is labelled on `zone`'s clock (the device's site), with the zone named."""
    left, bottom, top = 48, 32, 16
    plot_w, plot_h = width - left - 110, height - bottom - top
    stamps = [t for points in series.values() for t, _ in points]
    values = [v for points in series.values() for _, v in points]
    parts = [_frame(title, f"{len(stamps)} samples", width, height)]
    if not stamps:
        parts.append(_text(width / 2, height / 2, "No samples in this period", anchor="middle"))
        return _done(parts)
    first, last = min(stamps), max(stamps)
    span = max((last - first).total_seconds(), 1.0)
    peak = fixed_max or _nice_max(max([*values, limit or 0]))
    parts += _grid(left, left + plot_w, top, plot_h, peak)
    parts.append(_text(left, height - 8, local_time(first, zone)))
    parts.append(_text(left + plot_w, height - 8, local_time(last, zone), anchor="end"))
    if limit is not None:
        y = top + plot_h - plot_h * min(limit, peak) / peak
        parts.append(_hline(left, left + plot_w, y, ALERT, "6 4"))
        parts.append(_text(left + 4, y + 14, f"alert at {_number(limit)}{unit}", fill=ALERT))
    for index, (name, points) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        path = " ".join(
            f"{left + plot_w * (t - first).total_seconds() / span:.1f},"
            f"{top + plot_h - plot_h * min(v, peak) / peak:.1f}"
            for t, v in sorted(points)
        )
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts.append(_text(left + plot_w + 6, top + 14 + 16 * index, name, size=12, fill=colour))
    return _done(parts)
