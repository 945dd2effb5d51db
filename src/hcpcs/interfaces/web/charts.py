"""Inline SVG charts rendered on the server (no JavaScript, no inline styles: classes are styled by
app.css, so the page's Content-Security-Policy needs no 'unsafe-inline'). Each chart has a <title> and a
<desc> summarising it in words for screen readers; the pages also give the numbers as a table."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from statistics import median


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _nice_floor(value: float, top: float) -> float:
    """A baseline a little under the smallest value so differences show, rounded to a readable step."""
    span = max(top - value, abs(top) * 0.05, 1.0)
    low = max(0.0, value - span * 0.25)
    step = 10 ** max(0, len(str(int(span))) - 1)
    return (low // step) * step


@dataclass(frozen=True)
class LocalityAmount:
    id: str
    name: str
    state: str | None
    amount: float


def locality_bars(items: list[LocalityAmount], *, chosen: str | None = None, national: float | None = None,
                  chart_id: str = "loc-chart", width: int = 720, height: int = 190, css_class: str = "") -> str:
    """The amount in every locality as thin bars sorted from lowest to highest, with the median and the
    national amount as lines and the chosen locality highlighted; each bar has a tooltip."""
    priced = sorted((i for i in items if i.amount is not None), key=lambda i: (i.amount, i.id))
    if not priced:
        return ""
    left, right, top, bottom = 8, (150 if width >= 600 else 118), 14, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    lo_value, hi_value = priced[0].amount, priced[-1].amount
    mid = median(i.amount for i in priced)
    base = _nice_floor(lo_value, hi_value)
    ceiling = hi_value if hi_value > base else base + 1

    def y(value: float) -> float:
        return top + plot_h - (value - base) / (ceiling - base) * plot_h

    step = plot_w / len(priced)
    bar_w = max(1.0, step * 0.72)
    summary = (f"{len(priced)} localities: lowest {_money(lo_value)} ({priced[0].name}), median {_money(mid)}, "
               f"highest {_money(hi_value)} ({priced[-1].name})")
    if national is not None:
        summary += f"; national {_money(national)}"
    chosen_item = next((i for i in priced if i.id == chosen), None)
    if chosen_item:
        rank = priced.index(chosen_item) + 1
        summary += f"; {chosen_item.name} {_money(chosen_item.amount)}, {rank} of {len(priced)} from the lowest"
    parts = [
        f'<svg class="chart {css_class}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">Payment by locality, sorted from lowest to highest</title>',
        f'<desc id="{chart_id}-d">{escape(summary)}</desc>',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
    ]
    for index, item in enumerate(priced):
        x = left + index * step + (step - bar_w) / 2
        y_top = y(item.amount)
        cls = "bar chosen" if item.id == chosen else "bar"
        label = f"{item.name}{' (' + item.state + ')' if item.state else ''} {item.id}: {_money(item.amount)}"
        parts.append(f'<rect class="{cls}" x="{x:.1f}" y="{y_top:.1f}" width="{bar_w:.1f}" '
                     f'height="{top + plot_h - y_top:.1f}"><title>{escape(label)}</title></rect>')

    labels = [(hi_value, "max", f"max {_money(hi_value)}"), (mid, "median", f"median {_money(mid)}"),
              (lo_value, "min", f"min {_money(lo_value)}")]
    if national is not None:
        labels.append((national, "national", f"national {_money(national)}"))
    # Keep the right-hand labels at least 12 px apart.
    placed: list[float] = []
    for value, cls, text in sorted(labels, key=lambda t: -t[0]):
        yy = y(value)
        while any(abs(yy - p) < 12 for p in placed):
            yy += 12
        placed.append(yy)
        if cls in ("median", "national"):
            parts.append(f'<line class="{cls}" x1="{left}" y1="{y(value):.1f}" x2="{left + plot_w}" y2="{y(value):.1f}"/>')
        parts.append(f'<text class="label {cls}-label" x="{left + plot_w + 6}" y="{yy + 4:.1f}">{escape(text)}</text>')
    parts.append(f'<text class="label small" x="{left}" y="{height - 8}">lowest</text>')
    parts.append(f'<text class="label small" x="{left + plot_w}" y="{height - 8}" text-anchor="end">highest</text>')
    if chosen_item:
        index = priced.index(chosen_item)
        x = left + index * step + step / 2
        anchor = "start" if index < len(priced) / 2 else "end"
        parts.append(f'<text class="label chosen-label" x="{x:.1f}" y="{max(top - 2, y(chosen_item.amount) - 5):.1f}" '
                     f'text-anchor="{anchor}">{escape(chosen_item.name.split(" (", 1)[0])} {_money(chosen_item.amount)}</text>')
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class ReleasePoint:
    label: str
    effective: str
    amount: float | None
    note: str | None = None


def release_line(points: list[ReleasePoint], *, chart_id: str = "rel-chart", width: int = 720,
                 height: int = 200, css_class: str = "") -> str:
    """The amount in each fee-schedule release, oldest first, as a line with labelled points; a release
    where the code is not priced breaks the line and is marked on the axis."""
    if not any(p.amount is not None for p in points):
        return ""
    left, right, top, bottom = 16, 16, 26, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [p.amount for p in points if p.amount is not None]
    lo_value, hi_value = min(values), max(values)
    base = _nice_floor(lo_value, hi_value)
    ceiling = hi_value if hi_value > base else base + 1
    step = plot_w / max(1, len(points) - 1) if len(points) > 1 else 0

    def x(index: int) -> float:
        return left + (index * step if len(points) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - (value - base) / (ceiling - base) * plot_h

    first = next(p for p in points if p.amount is not None)
    last = next(p for p in reversed(points) if p.amount is not None)
    change = (last.amount - first.amount) / first.amount * 100 if first.amount else 0.0
    summary = (f"{first.label} {_money(first.amount)} to {last.label} {_money(last.amount)} "
               f"({change:+.1f}%); lowest {_money(lo_value)}, highest {_money(hi_value)}")
    parts = [
        f'<svg class="chart {css_class}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">Amount in each loaded fee-schedule release</title>',
        f'<desc id="{chart_id}-d">{escape(summary)}</desc>',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
    ]
    segment: list[str] = []
    segments: list[list[str]] = []
    for index, point in enumerate(points):
        if point.amount is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(index):.1f},{y(point.amount):.1f}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline class="line" points="{" ".join(seg)}"/>')
    label_every = max(1, round(len(points) / max(2, width // 90)))
    for index, point in enumerate(points):
        xx = x(index)
        anchor = "start" if index == 0 and len(points) > 1 else "end" if index == len(points) - 1 and len(points) > 1 else "middle"
        if index % label_every == 0 or index == len(points) - 1:
            parts.append(f'<text class="label small" x="{xx:.1f}" y="{height - 22}" text-anchor="{anchor}">'
                         f'{escape(point.label)}</text>')
            parts.append(f'<text class="label small muted" x="{xx:.1f}" y="{height - 8}" text-anchor="{anchor}">'
                         f'{escape(point.effective[:7])}</text>')
        if point.amount is None:
            parts.append(f'<text class="label small muted" x="{xx:.1f}" y="{top + plot_h - 4:.1f}" '
                         f'text-anchor="middle">n/a<title>{escape(point.note or "not priced")}</title></text>')
            continue
        yy = y(point.amount)
        tip = f"{point.label} (from {point.effective}): {_money(point.amount)}"
        parts.append(f'<circle class="point" cx="{xx:.1f}" cy="{yy:.1f}" r="4"><title>{escape(tip)}</title></circle>')
        if index % label_every == 0 or index == len(points) - 1:
            parts.append(f'<text class="label value" x="{xx:.1f}" y="{yy - 8:.1f}" text-anchor="{anchor}">'
                         f'{_money(point.amount)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def responsive(draw: object, **kwargs: object) -> str:
    """A chart twice: wide for screens and print, narrow (larger text for its size) for phones; the
    stylesheet shows one."""
    chart_id = str(kwargs.pop("chart_id", "chart"))
    wide = draw(chart_id=chart_id, width=720, css_class="wide", **kwargs)  # type: ignore[operator]
    narrow = draw(chart_id=f"{chart_id}-n", width=380, css_class="narrow", **kwargs)  # type: ignore[operator]
    return wide + narrow if wide else ""
