"""The report's "where columns part" section and per-column token charts.

Both read column records only, like the rest of the report, so a result file from any backend
draws the same page. Which pairs are explained: every two columns of one prompt and seed that
differ in exactly one knob, except that along a swept knob only neighbouring values are paired
(temperature 0 · 0.8 and 0.8 · 1.6, not 0 · 1.6), since the neighbour is the step that explains.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..events import is_known
from ..understand.divergence import explain, first_parting, pairs_differing_in_one_knob
from ..words.i18n import t
from .explain_html import explanation_html
from .svg_chart import legend, line_chart

Record = Mapping[str, Any]
MAX_PAIRS = 60  # explanations per report; a big sweep would otherwise bury the rest of the page
TOKEN_CHART = (320, 150)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _sweep_order(records: Sequence[Record], knob: str) -> list[Any]:
    """The swept values of ``knob`` in the order the sweep ran them."""
    values: list[Any] = []
    for record in records:
        value = (record.get("sweep") or {}).get(knob)
        if knob in (record.get("sweep") or {}) and value not in values:
            values.append(value)
    return values


def explained_pairs(document: Mapping[str, Any]) -> list[tuple[Record, Record, str]]:
    """Pairs that differ in one knob; along a swept knob, only sweep neighbours."""
    records, swept = document["columns"], set(document.get("sweep") or ())
    orders = {knob: _sweep_order(records, knob) for knob in swept}
    kept = []
    for a, b, knob in pairs_differing_in_one_knob(records):
        sweeps = [(r.get("sweep") or {}) for r in (a, b)]
        if knob in swept and all(knob in s for s in sweeps):
            order = orders[knob]
            if abs(order.index(sweeps[0][knob]) - order.index(sweeps[1][knob])) != 1:
                continue
        kept.append((a, b, knob))
    return kept


def where(record: Record, document: Mapping[str, Any]) -> str:
    """'p2 s7' when a run has several prompts or seeds, else nothing: which group a record is in."""
    parts = []
    if len(document.get("prompts", ())) > 1:
        parts.append(f"p{record.get('prompt_index', 0) + 1}")
    if len(document.get("seeds", ())) > 1:
        parts.append(f"s{record['seed']}")
    return " ".join(parts)


def parting_html(document: Mapping[str, Any], lang: str = "en") -> str:
    """The section: one explanation per explained pair, or a sentence saying there are none."""
    pairs = explained_pairs(document)
    head = f'<section class="parting"><h2>{_e(t("report_parting", lang))}</h2>'
    if not pairs:
        return f'{head}<p class="note">{_e(t("report_no_pairs", lang))}</p></section>'
    items = []
    for a, b, knob in pairs[:MAX_PAIRS]:
        place = where(a, document)
        title = t("report_pair", lang).format(a=a["label"], b=b["label"], knob=knob)
        items.append(
            f'<article class="pair"><h3>{_e(" ".join(filter(None, [place, title])))}</h3>'
            f"{explanation_html(explain(a, b), lang)}</article>"
        )
    more = len(pairs) - MAX_PAIRS
    tail = f'<p class="note">{_e(t("report_more_pairs", lang).format(n=more))}</p>' if more > 0 else ""
    return f'{head}<p class="note">{_e(t("report_parting_note", lang))}</p>{"".join(items)}{tail}</section>'


def _series(record: Record, key: str) -> list[tuple[int, float]]:
    return [(i, float(token[key])) for i, token in enumerate(record["tokens"]) if is_known(token.get(key))]


def token_charts(record: Record, group: Sequence[Record], lang: str = "en") -> str:
    """Charts over the column's token positions: the drawn token's p after the chain and raw, and entropy and
    survivors when recorded; a dashed line where the column parts from the group's first column."""
    if not record["tokens"]:
        return ""
    marks = []
    if group and group[0] is not record:
        index = first_parting(group[0], record)
        if index is not None:
            marks.append((index, t("chart_parts", lang).format(label=repr(group[0]["label"]), index=index)))
    lines = [mark for mark in marks if mark[0] < len(record["tokens"])]  # one that ended first: a note, no line
    x_label = t("chart_token", lang)
    probabilities = {t("chart_p", lang): _series(record, "p"), t("chart_raw_p", lang): _series(record, "raw_p")}
    charts = [
        legend(list(probabilities)),
        line_chart(t("chart_probability", lang), probabilities, x_label, marks=lines, size=TOKEN_CHART),
    ]
    for key, title in (("entropy", "chart_entropy"), ("survivors", "chart_survivors")):
        points = _series(record, key)
        if points:
            charts.append(line_chart(t(title, lang), {t(title, lang): points}, x_label, marks=lines, size=TOKEN_CHART))
    note = f'<p class="mark-note">{_e(marks[0][1])}</p>' if marks else ""
    return f'<div class="tcharts">{note}{"".join(charts)}</div>'


CSS = """
.parting .pair{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:.5em .9em;margin:.6em 0}
.parting h3{font-size:.95em}.tcharts svg{width:100%;height:auto;background:#fff}
.tcharts .legend{margin:.4em 0 0;font-size:.8em}.mark-note{font-size:.78em;color:#92400e;margin:.3em 0 0}
.mark{stroke:#d97706;stroke-width:1.5;stroke-dasharray:4 3}
"""
