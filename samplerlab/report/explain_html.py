"""An explanation of where two columns part, as escaped HTML in English or Japanese: for reports and the app.

The words are explain_text's (its WORDS table and verdict), so the terminal, the report and the
app say the same thing; only the layout differs. Model text is untrusted: every piece is escaped.
"""

from __future__ import annotations

import html
from typing import Any

from ..runs.metrics import shown
from ..understand.divergence import Divergence, Fate
from ..words.explain import how, inert_notes, w
from .explain_text import clip, inert_stages, value_text, verdict
from .tokens import token_repr

SHARED_CHARS = 240  # of the shared text, its end: what the parting token continues


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(fate: Fate, drawn: bool, lang: str) -> str:
    """One column's fate for one raw candidate: its probability after the chain, or the stage that cut it."""
    if fate.cut_by:
        text, cls = w("cut_inert" if fate.inert else "cut", lang, stage=fate.cut_by), "cut"
    else:
        text, cls = (w("unknown", lang), "unknown") if fate.prob is None else (f"{fate.prob:.3f}", "kept")
    if drawn:
        return f'<td class="{cls} drawn">{_e(text)} <b>{_e(w("drawn_mark", lang))}</b></td>'
    return f'<td class="{cls}">{_e(text)}</td>'


def _table(div: Divergence, lang: str) -> str:
    drawn = [step["id"] if step else None for step in div.drawn]
    head = "".join(f"<th>{_e(cell)}</th>" for cell in (w("candidate", lang), w("raw", lang), *div.labels))
    rows = "".join(
        f"<tr><th><code>{_e(token_repr(row.text))}</code></th><td>{shown(row.raw_prob)}</td>"
        + "".join(_cell(fate, row.token_id == drawn[i], lang) for i, fate in enumerate(row.fates))
        + "</tr>"
        for row in div.rows
    )
    notes = "".join(
        f'<p class="sl-why-inert">{_e(note)}</p>' for note in inert_notes(div.labels, inert_stages(div), lang)
    )
    return f'<table class="sl-why-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{notes}'


def _knobs(div: Divergence, lang: str) -> str:
    if not div.knobs:
        return ""
    items = "".join(
        f'<li class="{"acted" if a.acted else "idle"}"><code>{_e(a.name)}</code>: {_e(value_text(a.values[0]))} / '
        f"{_e(value_text(a.values[1]))} — {_e(w('acted' if a.acted else 'idle', lang))} ({_e(how(a, lang))})</li>"
        for a in div.knobs
    )
    return f'<p class="sl-why-knobs-head">{_e(w("knobs", lang))}:</p><ul class="sl-why-knobs">{items}</ul>'


def explanation_html(div: Divergence, lang: str = "en") -> str:
    """The parting token's index, the shared text before it, each raw candidate's fate in both columns
    (the drawn ones marked), the verdict and the differing knobs; or that the two never part."""
    a, b = (repr(label) for label in div.labels)
    if div.index is None:
        return f'<div class="sl-why"><p class="sl-why-never">{_e(w("never", lang, a=a, b=b, n=div.length))}</p></div>'
    shared = f"<code>{_e(repr(clip(div.shared_text, SHARED_CHARS)))}</code>"
    return (
        f'<div class="sl-why"><p class="sl-why-part">{_e(w("part", lang, a=a, b=b, index=div.index))}</p>'
        f'<p class="sl-why-shared">{_e(w("shared", lang))}: {shared}</p>{_table(div, lang)}'
        f'<p class="sl-why-verdict">{_e(verdict(div, lang))}</p>{_knobs(div, lang)}</div>'
    )


CSS = """
.sl-why{margin:.4em 0 1em;overflow-x:auto}.sl-why p{margin:.35em 0}.sl-why-part{font-weight:600}
.sl-why-shared code{white-space:pre-wrap;overflow-wrap:anywhere;background:#f1f5f9;padding:0 .2em}
.sl-why-table{border-collapse:collapse;font-size:.85em}
.sl-why-table th,.sl-why-table td{border:1px solid #e5e7eb;padding:.2em .5em;text-align:right;white-space:nowrap}
.sl-why-table tbody th{text-align:left;font-weight:400}
.sl-why-table td.cut{color:#b91c1c}.sl-why-table td.drawn{background:#dcfce7}
.sl-why-inert{font-size:.85em;color:#4b5563}
.sl-why-verdict{background:#fef9c3;padding:.3em .6em;border-radius:4px}
.sl-why-knobs{margin:.2em 0;padding-left:1.2em;font-size:.9em}.sl-why-knobs .idle{color:#6b7280}
"""
