"""The statistics across seeds as an HTML section: the method, the quality-diversity chart, one dot chart per
figure, the figure table and the verdict lines. Shared by the HTML report and the app's stats panel; every
label from the file is escaped."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..runs.figures import FIGURES
from ..runs.stats import StatsError, StatsReport, across_seeds
from ..runs.verdicts import endings_text, estimate_text, method_line, power_note, unit_name, verdict_lines
from ..words.stats_words import figure_name, w
from .stats_svg import dot_chart, quality_diversity

CSS = """
.sl-stats .verdicts li{margin:.15em 0}.sl-stats .verdicts li.differs{font-weight:600}
.sl-stats .charts svg{background:#fff;border:1px solid #e5e7eb;border-radius:8px}
.sl-stats table td{font-variant-numeric:tabular-nums}
.sl-stats .ct{font-size:13px;font-weight:600;text-anchor:middle}.sl-stats .cl{font-size:11px;text-anchor:middle;fill:#4b5563}
.sl-stats .xt{font-size:10px;text-anchor:middle;fill:#4b5563}.sl-stats .yt{font-size:10px;text-anchor:end;fill:#374151}
.sl-stats .ax{stroke:#6b7280}.sl-stats .charts{display:flex;flex-wrap:wrap;gap:.8em}
.sl-seed-texts{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:.8em}
.sl-seed-texts .text{white-space:pre-wrap}.sl-seed-texts article{border:1px solid #e5e7eb;border-radius:8px;padding:.5em .7em}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def report_html(report: StatsReport, lang: str = "en") -> str:
    """The section for a report already computed (the app computes it once for its panel and its download)."""
    qd = quality_diversity(
        w("qd_title", lang),
        figure_name("seed_distance", lang),
        figure_name("mean_logprob", lang),
        report.columns,
    )
    dots = "".join(dot_chart(figure_name(f.name, lang), f.name, report.columns, lang=lang) for f in FIGURES)
    return (
        f'<section class="sl-stats"><h2>{_e(w("stats_title", lang))}</h2>'
        f'<p class="note">{_e(method_line(report, lang))}</p>{_verdicts(report, lang)}'
        f'<div class="charts">{qd}</div><p class="note">{_e(w("quality_diversity", lang))}. {_e(w("chart_dots", lang))}</p>'
        f'<div class="charts">{dots}</div>{_table(report, lang)}</section>'
    )


def _verdicts(report: StatsReport, lang: str) -> str:
    """The differences beyond seed noise in bold, the figures within it one click away (there are many)."""
    lines = verdict_lines(report, lang)
    differs = sum(c.differs for c in report.comparisons) + (power_note(report, lang) is not None)
    first = "".join(f"<li class=differs>{_e(line)}</li>" for line in lines[:differs])
    rest = "".join(f"<li>{_e(line)}</li>" for line in lines[differs:])
    summary = _e(w("within_noise", lang).format(n=len(lines) - differs))
    noise = f'<details><summary>{summary}</summary><ul class="verdicts">{rest}</ul></details>' if rest else ""
    return f'<h3>{_e(w("verdicts", lang))}</h3><ul class="verdicts">{first}</ul>{noise}'


def _table(report: StatsReport, lang: str) -> str:
    unit = unit_name(report, lang)
    head = "".join(f"<th>{_e(c.label)}</th>" for c in report.columns)
    rows = [
        f"<tr><th>{_e(figure_name(f.name, lang))}</th>"
        + "".join(f"<td>{_e(estimate_text(c.figures[f.name], f.fmt, lang, unit))}</td>" for c in report.columns)
        + "</tr>"
        for f in FIGURES
    ]
    rows.append(
        f"<tr><th>{_e(w('endings', lang))}</th>"
        + "".join(f"<td>{_e(endings_text(c, lang))}</td>" for c in report.columns)
    )
    return f'<div class="scroll"><table><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def stats_section(document: Mapping[str, Any], lang: str = "en") -> str:
    """The section for a result file; nothing when its columns ran on one seed each (nothing to estimate)."""
    records: Sequence[Mapping[str, Any]] = document["columns"]
    try:
        report = across_seeds(records)
    except StatsError:
        return ""
    return report_html(report, lang)


def seed_texts_html(records: Sequence[Mapping[str, Any]], lang: str = "en") -> str:
    """Per column its texts on every seed: the first open, the rest one click away (a <details> each)."""
    columns: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        columns.setdefault(record["label"], []).append(record)
    cards = []
    for label, group in columns.items():
        first, rest = group[0], group[1:]
        others = "".join(
            f"<details><summary>seed {_e(r['seed'])} · {_e(r['finish_reason'])} · {len(r['tokens'])}</summary>"
            f'<div class="text">{_e(r["text"])}</div></details>'
            for r in rest
        )
        more = f'<p class="note">{_e(w("more_seeds", lang).format(n=len(rest)))}</p>' if rest else ""
        cards.append(
            f'<article class="col"><h3>{_e(label)}</h3><p class="note">seed {_e(first["seed"])} · '
            f'{_e(first["finish_reason"])} · {len(first["tokens"])}</p><div class="text">{_e(first["text"])}</div>'
            f"{more}{others}</article>"
        )
    return f'<div class="cols sl-seed-texts">{"".join(cards)}</div>'
