"""Pictures of the statistics across seeds, as inline SVG that fetches nothing: per figure every column's runs
as dots with the 95% interval of their mean, and the quality-diversity chart sampler papers draw."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..runs.figures import FIGURE_BY_NAME
from ..runs.stats import ColumnStats, Estimate
from ..words.stats_words import w
from .svg_chart import PALETTE, _e

ROW = 26  # pixels per column in a dot chart
LABEL_WIDTH = 120


def _span(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.06
    return low - pad, high + pad


def _label(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dot_chart(title: str, figure: str, columns: Sequence[ColumnStats], width: int = 360, lang: str = "en") -> str:
    """One row per column: each run's value as a dot (its hover in ``lang``), the mean as a tick and its
    interval as a bar."""
    fmt = FIGURE_BY_NAME[figure].fmt
    estimates = [column.figures[figure] for column in columns]
    every = [v for e in estimates for v in (*e.values, e.low, e.high) if v is not None and math.isfinite(v)]
    if not every:
        return ""
    low, high = _span(every)
    top, bottom, right = 24, 22, 24
    height = top + ROW * len(columns) + bottom

    def sx(value: float) -> float:
        return LABEL_WIDTH + (value - low) / (high - low) * (width - LABEL_WIDTH - right)

    parts = [f'<text x="{width / 2}" y="15" class="ct">{_e(title)}</text>']
    axis_y = top + ROW * len(columns)
    parts.append(f'<line x1="{LABEL_WIDTH}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" class="ax"/>')
    for value in (low, (low + high) / 2, high):
        parts.append(f'<text x="{sx(value):.1f}" y="{axis_y + 14}" class="xt">{_e(fmt.format(value))}</text>')
    for row, (column, estimate) in enumerate(zip(columns, estimates)):
        parts.append(_row(row, column.label, estimate, fmt, sx, top, PALETTE[row % len(PALETTE)], lang))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(title)}" class="sl-dots">{"".join(parts)}</svg>'
    )


def _row(row: int, label: str, estimate: Estimate, fmt: str, sx, top: int, colour: str, lang: str) -> str:
    middle = top + ROW * row + ROW / 2
    parts = [
        f'<text x="{LABEL_WIDTH - 6}" y="{middle + 4:.1f}" class="yt">{_e(_label(label))}<title>{_e(label)}</title></text>'
    ]
    for index, (run, value) in enumerate(zip(estimate.runs, estimate.values)):
        jitter = ((index * 7) % 9 - 4) * 1.3  # fixed, so the same file draws the same picture
        parts.append(
            f'<circle cx="{sx(value):.1f}" cy="{middle + jitter:.1f}" r="2.6" fill="{colour}" fill-opacity=".45">'
            f"<title>{_e(label)}, {_e(w('dot_run', lang).format(prompt=run[0], seed=run[1]))}: "
            f"{_e(fmt.format(value))}</title></circle>"
        )
    if estimate.low is not None and estimate.high is not None and estimate.center is not None:
        note = f"{label}: {fmt.format(estimate.center)} [{fmt.format(estimate.low)}, {fmt.format(estimate.high)}]"
        parts.append(
            f'<line x1="{sx(estimate.low):.1f}" y1="{middle:.1f}" x2="{sx(estimate.high):.1f}" y2="{middle:.1f}" '
            f'stroke="#111827" stroke-width="2.5"><title>{_e(note)}</title></line>'
            f'<line x1="{sx(estimate.center):.1f}" y1="{middle - 7:.1f}" x2="{sx(estimate.center):.1f}" '
            f'y2="{middle + 7:.1f}" stroke="#111827" stroke-width="2.5"><title>{_e(note)}</title></line>'
        )
    return "".join(parts)


def quality_diversity(
    title: str, x_label: str, y_label: str, columns: Sequence[ColumnStats], size: tuple[int, int] = (420, 300)
) -> str:
    """Mean raw log-probability (up: likelier text) against the distance across seeds (right: the seeds write
    differently), one point per column with both intervals as error bars."""
    points = [
        (c.label, c.figures["seed_distance"], c.figures["mean_logprob"])
        for c in columns
        if c.figures["seed_distance"].center is not None and c.figures["mean_logprob"].center is not None
    ]
    if not points:
        return ""
    width, height, left, right, top, bottom = *size, 58, 14, 26, 40
    xs = [v for _, x, _ in points for v in (x.center, x.low, x.high) if v is not None]
    ys = [v for _, _, y in points for v in (y.center, y.low, y.high) if v is not None]
    (x_low, x_high), (y_low, y_high) = _span(xs), _span(ys)

    def sx(value: float) -> float:
        return left + (value - x_low) / (x_high - x_low) * (width - left - right)

    def sy(value: float) -> float:
        return top + (1 - (value - y_low) / (y_high - y_low)) * (height - top - bottom)

    parts = [
        f'<text x="{width / 2}" y="16" class="ct">{_e(title)}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" class="ax"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" class="ax"/>',
        f'<text x="{width / 2}" y="{height - 6}" class="cl">{_e(x_label)}</text>',
        f'<text x="12" y="{height / 2}" class="cl" transform="rotate(-90 12 {height / 2})">{_e(y_label)}</text>',
    ]
    for value in (x_low, (x_low + x_high) / 2, x_high):
        parts.append(f'<text x="{sx(value):.1f}" y="{height - bottom + 14}" class="xt">{value:.3g}</text>')
    for value in (y_low, (y_low + y_high) / 2, y_high):
        parts.append(f'<text x="{left - 5}" y="{sy(value) + 4:.1f}" class="yt">{value:.3g}</text>')
    for index, (label, x, y) in enumerate(points):
        colour = PALETTE[index % len(PALETTE)]
        assert x.center is not None and y.center is not None
        cx, cy = sx(x.center), sy(y.center)
        if x.low is not None and x.high is not None:
            parts.append(
                f'<line x1="{sx(x.low):.1f}" y1="{cy:.1f}" x2="{sx(x.high):.1f}" y2="{cy:.1f}" stroke="{colour}"/>'
            )
        if y.low is not None and y.high is not None:
            parts.append(
                f'<line x1="{cx:.1f}" y1="{sy(y.low):.1f}" x2="{cx:.1f}" y2="{sy(y.high):.1f}" stroke="{colour}"/>'
            )
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4.5" fill="{colour}"><title>{_e(label)}: '
            f"{x.center:.3f}, {y.center:.3f}</title></circle>"
            f'<text x="{cx + 6:.1f}" y="{cy - 6:.1f}" class="xt" text-anchor="start">{_e(_label(label))}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(title)}" class="sl-qd">{"".join(parts)}</svg>'
    )
