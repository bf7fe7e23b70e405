"""The statistics across seeds as a person reads them: verdict lines and a figure table, in English or Japanese.

The report, the app's stats panel and ``samplerlab stats`` all print these lines, so they agree word for word.
"""

from __future__ import annotations

from ..words.i18n import FINISH_REASONS
from ..words.stats_words import figure_more, figure_name, figure_phrase, w
from .figures import FIGURES
from .stats import (
    ALPHA,
    EXACT_UP_TO,
    RANDOM_STATE,
    RESAMPLES,
    ColumnStats,
    Comparison,
    Estimate,
    StatsReport,
)


def p_text(p: float) -> str:
    """Two significant digits, as papers print them; below 0.0001 as a bound."""
    return "< 0.0001" if p < 0.0001 else f"{p:.2g}"


def unit_name(report: StatsReport, lang: str) -> str:
    return w("seeds" if report.unit_is_seed else "runs", lang)


def verdict(comparison: Comparison, report: StatsReport, lang: str = "en") -> str:
    """'A' writes longer replies than 'B': longer on 14 of 16 seeds, p = 0.004 — or: within seed noise."""
    c = comparison
    if not c.differs:
        return w("noise", lang).format(a=c.a, b=c.b, figure=figure_name(c.figure, lang), p=p_text(c.adjusted))
    up = c.difference > 0
    return w("differs", lang).format(
        a=c.a,
        b=c.b,
        phrase=figure_phrase(c.figure, up, lang),
        more=figure_more(c.figure, up, lang),
        wins=c.above if up else c.below,
        n=c.n,
        unit_name=unit_name(report, lang),
        p=p_text(c.adjusted),
    )


def smallest_p(n: int) -> float:
    """The least two-sided p the paired permutation test can give on n pairs: the observed arrangement and
    its mirror out of 2**n (or out of the resamples, plus the observed one, beyond EXACT_UP_TO)."""
    return 2 / 2**n if n <= EXACT_UP_TO else 2 / (RESAMPLES + 1)


def power_note(report: StatsReport, lang: str = "en") -> str | None:
    """Said when no test of the report could pass Holm's correction however different the columns are."""
    if not report.comparisons:
        return None
    n, tests = max(c.n for c in report.comparisons), len(report.comparisons)
    if smallest_p(n) * tests < ALPHA:
        return None
    return w("too_few", lang).format(
        n=n,
        unit_name=unit_name(report, lang),
        smallest=p_text(smallest_p(n)),
        tests=tests,
        needed=p_text(ALPHA / tests),
    )


def verdict_lines(report: StatsReport, lang: str = "en") -> list[str]:
    """Differences beyond seed noise first (surest first), then the figures within it, then unpaired pairs;
    first of all, when no test could pass the correction, why."""
    ordered = sorted(report.comparisons, key=lambda c: (not c.differs, c.adjusted if c.differs else 0.0))
    note = power_note(report, lang)
    lines = ([note] if note else []) + [verdict(c, report, lang) for c in ordered]
    return lines + [w("unpaired", lang).format(a=a, b=b, unit_name=unit_name(report, lang)) for a, b in report.unpaired]


def estimate_text(estimate: Estimate, fmt: str, lang: str = "en", unit: str = "seed") -> str:
    if estimate.center is None:
        return "-"
    center = fmt.format(estimate.center)
    if estimate.low is None or estimate.high is None:
        return f"{center} ({w('no_interval', lang).format(unit=unit)})"
    return f"{center} [{fmt.format(estimate.low)}, {fmt.format(estimate.high)}]"


def endings_text(column: ColumnStats, lang: str = "en") -> str:
    """English keeps the result file's own names (end, stop, length); Japanese says what each means."""
    named = (
        (lambda reason: reason) if lang == "en" else (lambda reason: FINISH_REASONS.get(reason, {}).get(lang, reason))
    )
    return ", ".join(f"{named(reason)} {count}" for reason, count in column.endings.items())


def method_line(report: StatsReport, lang: str = "en") -> str:
    return w("method", lang).format(
        unit_name=unit_name(report, lang),
        resamples=f"{RESAMPLES:,}",
        state=RANDOM_STATE,
        exact=EXACT_UP_TO,
        tests=len(report.comparisons),
    )


def stats_lines(report: StatsReport, lang: str = "en", width_of=len) -> list[str]:
    """The whole report as terminal lines: head, method, each figure's columns, endings, verdicts."""
    labels = [column.label for column in report.columns]
    pad = max(width_of(label) for label in labels) + 2
    most = max(len(column.runs) for column in report.columns)
    lines = [
        w("head", lang).format(
            columns=len(labels), units=most, unit_name=unit_name(report, lang), generations=report.generations
        ),
        method_line(report, lang),
        "",
    ]
    unit = w("seeds" if report.unit_is_seed else "runs", lang)
    for figure in FIGURES:
        lines.append(figure_name(figure.name, lang))
        for column in report.columns:
            estimate = column.figures[figure.name]
            label = f"'{column.label}'"
            spaces = " " * max(1, pad - width_of(column.label))
            lines.append(f"  {label}{spaces}{estimate_text(estimate, figure.fmt, lang, unit)}  n={estimate.n}")
    lines += ["", w("endings", lang)]
    for column in report.columns:
        lines.append(f"  '{column.label}'{' ' * max(1, pad - width_of(column.label))}{endings_text(column, lang)}")
    lines += ["", f"{w('verdicts', lang)} (alpha {ALPHA})"]
    lines += [f"  {line}" for line in verdict_lines(report, lang)]
    return lines
