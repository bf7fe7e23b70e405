"""What the app shows, as plain data and escaped HTML: no Gradio here, so it is testable alone."""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..events import ColumnResult, TokenEvent
from ..report.buckets import ALL_BUCKETS, bucket_index
from ..report.explain_html import explanation_html
from ..report.tokens import groups, is_partial, parts_line, readable_parting, token_repr
from ..runs.metrics import distinct_n, mean_probability, shown
from ..schema.chains import greedy_inert_stages
from ..understand.divergence import explain, first_parting
from ..words.i18n import finish_reason, inactive_reason, t

FORCED = "forced"  # the token view's category for the forced start of a reply (a branch)


def categories(lang: str) -> dict[str, str]:
    """The token view's categories in ``lang``: what spans are tagged with and the legend shows. The
    probability buckets are formulas (one text for every language); the words among them are translated."""
    words = {"p unknown": t("cat_unknown", lang)}
    return {
        **{words.get(label, label): colour for _, label, colour in ALL_BUCKETS},
        t("cat_forced", lang): "#9ca3af",
        t("cat_partial", lang): "#e5e7eb",
    }


COLOR_MAP = categories("en")


def bucket(prob: float | None, lang: str = "en") -> str:
    """The token view's category; "p unknown" for a token llama-server did not report."""
    label = ALL_BUCKETS[bucket_index(prob)][1]
    return t("cat_unknown", lang) if label == "p unknown" else label


PARTIAL_MARK = "…"  # where a character was cut off by max_tokens: its bytes are dropped from the text


def token_spans(tokens: Sequence[TokenEvent], tail: str = "", lang: str = "en") -> list[tuple[str, str | None]]:
    """HighlightedText value: one entry per read span (``report.tokens.groups``), so the byte tokens of one
    character are one span, coloured by the probability of its first byte token (where the choice was made).

    Tokens whose text is not certain yet (half a character, or what may start a stop string) join the token
    that completes them; a character cut off at the end shows as "…" in its own category, since the text
    drops its bytes. ``tail`` is what the column released at its end."""
    texts = [token.text for token in tokens]
    spans: list[tuple[str, str | None]] = []
    for group in groups(texts):
        text = "".join(texts[i] for i in group)
        category = bucket(tokens[group[0]].prob, lang) if text else t("cat_partial", lang)
        spans.append((text or PARTIAL_MARK, category))
    return spans + ([(tail, None)] if tail else [])


def forced_spans(prefix: str, spans: list[tuple[str, str | None]], lang: str = "en") -> list[tuple[str, str | None]]:
    """The forced start first, marked, then the column's own tokens."""
    return ([(prefix, t("cat_forced", lang))] if prefix else []) + spans


def span_group(tokens: Sequence[TokenEvent], span: int) -> range | None:
    """The tokens behind span ``span`` of ``token_spans`` (without the forced start), or None (the tail)."""
    found = groups([token.text for token in tokens])
    return found[span] if 0 <= span < len(found) else None


def column_tail(column: ColumnResult) -> str:
    """What the column released only at its end: its text beyond what its tokens carried (events.ColumnDone)."""
    carried = "".join(token.text for token in column.tokens)
    return column.text[len(carried) :] if column.text.startswith(carried) else ""


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


def _label(text: str, lang: str) -> str:
    """A candidate as it reads: quoted like repr without the quotes, partial bytes named as such."""
    return f"{token_repr(text)[1:-1]} ({t('partial_byte', lang)})" if is_partial(text) else repr(text)[1:-1]


def candidates_html(
    token: TokenEvent, chain: str, lang: str, parts: str = "", inert: frozenset[str] = frozenset()
) -> str:
    """Raw candidates next to the ones the chain kept: what top-p or min-p cut is plain to see. ``parts``
    (for a character made of byte tokens) says what the span is made of, before the first byte's candidates.
    ``inert``: the stages of a greedy column that cut without changing its draw (greedy_inert_stages); their
    cuts are marked and said once below, in the words of the greyed knob."""
    rows_before = [
        _bar(_label(c.text, lang), c.prob, "#9db4d6", _fate(token, c.token_id, lang, inert)) for c in token.before
    ]
    marked = sorted({token.cut_by[c.token_id] for c in token.before if token.cut_by.get(c.token_id) in inert})
    notes = "".join(
        f'<p class="sl-inert">* {html.escape(stage)}: {html.escape(inactive_reason("greedy", stage, lang))}</p>'
        for stage in marked
    )
    rows_after = [
        _bar(
            _label(c.text, lang),
            c.prob,
            "#6cbf6c" if c.token_id == token.token_id else "#b9d9b9",
            t("chosen", lang) if c.token_id == token.token_id else "",
        )
        for c in token.after
    ]
    head = f"<p><b>{html.escape(parts)}</b><br>{html.escape(t('byte_tokens_first', lang))}</p>" if parts else ""
    text = token.text or next((c.text for c in token.before if c.token_id == token.token_id), "")
    summary = (
        f"<p><b>{html.escape(token_repr(text))}</b> · p = {shown(token.prob)} "
        f"({html.escape(t('before', lang))}: {shown(token.raw_prob)}) · "
        f"{html.escape(t('survivors', lang).format(n=token.survivors))} · <code>{html.escape(chain)}</code></p>"
    )
    return (
        f'<div class="sl-cands">{head}{summary}<div class="sl-cols">'
        f"<div><h4>{html.escape(t('before', lang))}</h4>{''.join(rows_before)}</div>"
        f"<div><h4>{html.escape(t('after', lang))}</h4>{''.join(rows_after)}</div></div>{notes}</div>"
    )


def group_candidates_html(column: ColumnResult, group: range, lang: str) -> str:
    """The candidates of one read span: a single token's, or a character's with what its byte tokens were."""
    texts = [token.text for token in column.tokens]
    parts = parts_line(texts, [column.tokens[i].prob for i in group], group, lang) if len(group) > 1 else ""
    inert = greedy_inert_stages(column.settings)
    return candidates_html(column.tokens[group[0]], column.chain, lang, parts, inert)


def _fate(token: TokenEvent, candidate: int, lang: str, inert: frozenset[str] = frozenset()) -> str:
    """What became of one raw candidate: chosen, kept, or cut by a named stage (marked * when the cut could
    not change a greedy column's draw)."""
    if candidate == token.token_id:
        return t("chosen", lang)
    if candidate in token.cut_by:
        stage = token.cut_by[candidate]
        return t("cut_by", lang).format(stage=stage) + (" *" if stage in inert else "")
    return (
        ""
        if any(c.token_id == candidate for c in token.after) or token.survivors > len(token.after)
        else t("cut", lang)
    )


def why_html(records: Sequence[Mapping[str, Any]], a: int, b: int, lang: str, prefix: str = "") -> str:
    """Where columns ``a`` and ``b`` (0-based) of the last run part and why, or what to do first. ``prefix``
    (the forced start of a branch, which both continued from) begins the shared text; a parting byte token
    is named by the character it starts (``report.tokens.readable_parting``)."""
    if not records:
        return f"<p>{html.escape(t('why_first', lang))}</p>"
    for index in (a, b):
        if not 0 <= index < len(records):
            return f"<p>{html.escape(t('why_missing', lang).format(n=index + 1))}</p>"
    if a == b:
        return f"<p>{html.escape(t('why_same', lang))}</p>"
    div = explain(*readable_parting(records[a], records[b]))
    return explanation_html(dataclasses.replace(div, shared_text=prefix + div.shared_text) if prefix else div, lang)


SERIES = (("p", "series_p"), ("raw_p", "series_raw_p"), ("entropy", "series_entropy"))
PROBABILITIES, ENTROPY = ("p", "raw_p"), ("entropy",)  # the two charts: 0..1 and nats are not one axis


def token_frame(
    record: Mapping[str, Any],
    first: Mapping[str, Any] | None,
    lang: str,
    keys: Sequence[str] = ("p", "raw_p", "entropy"),
):
    """A column's chart as a long DataFrame (token, value, series): ``keys`` of p after the chain, raw p and
    entropy per token, and a vertical two-point series where the column parts from ``first`` (column 1), if it
    does. Short series names: the plot's legend sits in one row under a column's narrow chart."""
    import pandas as pd  # here, not at the top: reports import this module and need no pandas

    rows = [
        (i, float(token[key]), t(name, lang))
        for i, token in enumerate(record["tokens"])
        for key, name in SERIES
        if key in keys and key in token and math.isfinite(token[key])
    ]
    index = None if first is None or first is record else first_parting(first, record)
    if index is not None and index < len(record["tokens"]):
        top = max([1.0, *(value for _, value, _ in rows)])
        rows += [(index, 0.0, t("series_parts", lang)), (index, top, t("series_parts", lang))]
    return pd.DataFrame(rows, columns=["token", "value", "series"])


SERIES_COLOURS = {
    "series_p": "#2563eb",
    "series_raw_p": "#93c5fd",
    "series_entropy": "#d97706",
    "series_parts": "#6b7280",
}


def series_colours(lang: str, keys: Sequence[str], present: set[str] | None = None) -> dict[str, str]:
    """The chart's series in ``lang`` with fixed colours: naming every series on each redraw keeps all its
    lines after a language switch (a plot that keeps the old names' domain draws only the shared 'p').
    ``present``: only the series the frame has, so the legend names no line that is not drawn."""
    names = [name for key, name in SERIES if key in keys] + ["series_parts"]
    colours = {t(name, lang): SERIES_COLOURS[name] for name in names}
    return {name: colour for name, colour in colours.items() if present is None or name in present}


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
