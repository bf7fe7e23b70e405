"""Small line charts as inline SVG, for pages that must fetch nothing (reports): sweeps and token positions."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f")
MAX_X_TICKS = 8  # beyond this a numeric axis labels a few round positions, not every point
MAX_DOTS = 40  # hoverable dots per line; a 256-token line would be a smear of them


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _ticks(xs: Sequence[Any], numeric: bool) -> list[Any]:
    """Every x when few or not numeric; else about MAX_X_TICKS evenly spaced whole positions."""
    if not numeric or len(xs) <= MAX_X_TICKS:
        return list(xs)
    low, high = min(xs), max(xs)
    step = max(1, math.ceil((high - low) / MAX_X_TICKS))
    return list(range(math.ceil(low), math.floor(high) + 1, step))


def line_chart(
    title: str,
    series: Mapping[str, list[tuple[Any, float]]],
    x_label: str,
    fmt: Callable[[Any], str] = str,
    marks: Sequence[tuple[Any, str]] = (),
    size: tuple[int, int] = (340, 210),
) -> str:
    """A line chart: numeric x on a linear scale, anything else evenly spaced; ``marks`` are (x, note)
    drawn as dashed vertical lines (where two columns part). Non-finite y values are left out."""
    series = {name: [(x, y) for x, y in line if math.isfinite(y)] for name, line in series.items()}
    width, height, left, right, top, bottom = *size, 46, 12, 26, 38
    xs = list(dict.fromkeys(x for line in series.values() for x, _ in line)) or [0]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
    ys = [y for line in series.values() for _, y in line] or [0.0]
    low, high = min(0.0, min(ys)), max(ys) or 1.0
    x_low, x_high = (min(xs), max(xs)) if numeric else (0, len(xs) - 1)

    def sx(x: Any) -> float:
        position = x if numeric else xs.index(x)
        span = (x_high - x_low) or 1
        return left + (position - x_low) / span * (width - left - right)

    def sy(y: float) -> float:
        return top + (1 - (y - low) / ((high - low) or 1)) * (height - top - bottom)

    parts = [
        f'<text x="{width / 2}" y="16" class="ct">{_e(title)}</text>',
        f'<line x1="{left}" y1="{sy(low)}" x2="{width - right}" y2="{sy(low)}" class="ax"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{sy(low)}" class="ax"/>',
        f'<text x="{width / 2}" y="{height - 4}" class="cl">{_e(x_label)}</text>',
    ]
    for y in (low, (low + high) / 2, high):
        parts.append(
            f'<text x="{left - 5}" y="{sy(y) + 4:.1f}" class="yt">{y:.3g}</text>'
            f'<line x1="{left}" y1="{sy(y):.1f}" x2="{width - right}" y2="{sy(y):.1f}" class="grid"/>'
        )
    for x in _ticks(xs, numeric):
        parts.append(f'<text x="{sx(x):.1f}" y="{sy(low) + 15:.1f}" class="xt">{_e(fmt(x))}</text>')
    for x, note in marks:
        parts.append(
            f'<line x1="{sx(x):.1f}" y1="{top}" x2="{sx(x):.1f}" y2="{sy(low):.1f}" class="mark">'
            f"<title>{_e(note)}</title></line>"
        )
    for index, (name, line) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(line, key=lambda p: xs.index(p[0])))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if len(line) <= MAX_DOTS:
            parts += [
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{colour}">'
                f"<title>{_e(name)}, {_e(x_label)}={_e(fmt(x))}: {y:.4g}</title></circle>"
                for x, y in line
            ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(title)}">{"".join(parts)}</svg>'
    )


def legend(names: Sequence[str]) -> str:
    """Colour swatches in the order line_chart gives its series colours."""
    return (
        '<p class="legend">'
        + " ".join(
            f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{_e(name)}</span>'
            for i, name in enumerate(names)
        )
        + "</p>"
    )
