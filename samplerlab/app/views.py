"""What the app shows, as plain data and escaped HTML: no Gradio here, so it is testable alone."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..events import ColumnResult, TokenEvent
from ..report.buckets import ALL_BUCKETS, bucket_index
from ..report.explain_html import explanation_html
from ..runs.metrics import distinct_n, mean_probability, shown
from ..understand.divergence import explain, first_parting
from ..words.i18n import finish_reason, t

COLOR_MAP = {**{label: colour for _, label, colour in ALL_BUCKETS}, "forced": "#9ca3af"}


def bucket(prob: float | None) -> str:
    """The token view's category; "p unknown" for a token llama-server did not report."""
    return ALL_BUCKETS[bucket_index(prob)][1]


ZERO_WIDTH = "\u200b"


def token_spans(tokens: Sequence[TokenEvent], tail: str = "") -> list[tuple[str, str | None]]:
    """HighlightedText value: one entry per token, so a click's index is the token's.

    A token whose text is not certain yet (half a character, or what may start a stop string)
    has none; a zero-width space keeps its place. ``tail`` is what the column released at its end.
    """
    return [(token.text or ZERO_WIDTH, bucket(token.prob)) for token in tokens] + ([(tail, None)] if tail else [])


FORCED = "forced"  # the token view's category for the forced start of a reply (a branch)


def forced_spans(prefix: str, spans: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """The forced start first, marked, then the column's own tokens."""
    return ([(prefix, FORCED)] if prefix else []) + spans


def stats_line(column: ColumnResult, lang: str) -> str:
    tokens = [token.token_id for token in column.tokens]
    reason = finish_reason(column.finish_reason, lang)
    if column.stopped_by is not None:
        reason += f" {column.stopped_by!r}"
    return t("stats", lang).format(
        tokens=len(tokens),
        tps=column.tokens_per_second,
        mean=shown(mean_probability([tok.prob for tok in column.tokens]), "{:.2f}"),
        distinct2=distinct_n(tokens, 2),
        reason=reason,
        seed=column.seed,
    )


def _bar(label: str, prob: float, colour: str, note: str = "") -> str:
    width = max(0.5, prob * 100)
    return (
        f'<div class="sl-bar"><span class="sl-tok">{html.escape(label)}</span>'
        f'<span class="sl-track"><span class="sl-fill" style="width:{width:.1f}%;background:{colour}"></span></span>'
        f'<span class="sl-p">{prob:.3f}</span><span class="sl-note">{html.escape(note)}</span></div>'
    )


def candidates_html(token: TokenEvent, chain: str, lang: str) -> str:
    """Raw candidates next to the ones the chain kept: what top-p or min-p cut is plain to see."""
    rows_before = [_bar(repr(c.text)[1:-1], c.prob, "#9db4d6", _fate(token, c.token_id, lang)) for c in token.before]
    rows_after = [
        _bar(
            repr(c.text)[1:-1],
            c.prob,
            "#6cbf6c" if c.token_id == token.token_id else "#b9d9b9",
            t("chosen", lang) if c.token_id == token.token_id else "",
        )
        for c in token.after
    ]
    summary = (
        f"<p><b>{html.escape(repr(token.text))}</b> · p = {shown(token.prob)} "
        f"({html.escape(t('before', lang))}: {shown(token.raw_prob)}) · "
        f"{html.escape(t('survivors', lang).format(n=token.survivors))} · <code>{html.escape(chain)}</code></p>"
    )
    return (
        f'<div class="sl-cands">{summary}<div class="sl-cols">'
        f"<div><h4>{html.escape(t('before', lang))}</h4>{''.join(rows_before)}</div>"
        f"<div><h4>{html.escape(t('after', lang))}</h4>{''.join(rows_after)}</div></div></div>"
    )


def _fate(token: TokenEvent, candidate: int, lang: str) -> str:
    """What became of one raw candidate: chosen, kept, or cut by a named stage."""
    if candidate == token.token_id:
        return t("chosen", lang)
    if candidate in token.cut_by:
        return t("cut_by", lang).format(stage=token.cut_by[candidate])
    return (
        ""
        if any(c.token_id == candidate for c in token.after) or token.survivors > len(token.after)
        else t("cut", lang)
    )


def why_html(records: Sequence[Mapping[str, Any]], a: int, b: int, lang: str) -> str:
    """Where columns ``a`` and ``b`` (0-based) of the last run part and why, or what to do first."""
    if not records:
        return f"<p>{html.escape(t('why_first', lang))}</p>"
    for index in (a, b):
        if not 0 <= index < len(records):
            return f"<p>{html.escape(t('why_missing', lang).format(n=index + 1))}</p>"
    if a == b:
        return f"<p>{html.escape(t('why_same', lang))}</p>"
    return explanation_html(explain(records[a], records[b]), lang)


def token_frame(record: Mapping[str, Any], first: Mapping[str, Any] | None, lang: str):
    """A column's chart as a long DataFrame (token, value, series): p after the chain, raw p and entropy per
    token, and a vertical two-point series where the column parts from ``first`` (column 1), if it does. Short
    series names: the plot's legend sits in one row under a column's narrow chart."""
    import pandas as pd  # here, not at the top: reports import this module and need no pandas

    rows = [
        (i, float(token[key]), t(name, lang))
        for i, token in enumerate(record["tokens"])
        for key, name in (("p", "series_p"), ("raw_p", "series_raw_p"), ("entropy", "series_entropy"))
        if key in token and math.isfinite(token[key])
    ]
    index = None if first is None or first is record else first_parting(first, record)
    if index is not None and index < len(record["tokens"]):
        top = max([1.0, *(value for _, value, _ in rows)])
        rows += [(index, 0.0, t("series_parts", lang)), (index, top, t("series_parts", lang))]
    return pd.DataFrame(rows, columns=["token", "value", "series"])


CSS = """
.sl-cands .sl-cols {display:grid; grid-template-columns:repeat(auto-fit, minmax(260px, 1fr)); gap:1em}
.sl-bar {display:grid; grid-template-columns:6em minmax(60px, 1fr) 3.2em 7.5em; align-items:center; gap:.4em; font-size:.85em}
.sl-tok {font-family:ui-monospace,monospace; overflow:hidden; white-space:pre; text-overflow:ellipsis}
.sl-track {display:block; background:#eee; height:.9em; border-radius:2px}
.sl-fill {display:block; height:100%; border-radius:2px}
.sl-note {color:#b33; font-size:.85em}
.sl-differs input[type=number], .sl-differs label span {border-color:#e67e22 !important; color:#c0581a}
.sl-differs {box-shadow: inset 3px 0 0 #e67e22}
.sl-inactive {opacity:.55}
"""
