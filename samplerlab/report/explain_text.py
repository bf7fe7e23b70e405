"""An explanation of where two columns part, as terminal text in English or Japanese."""

from __future__ import annotations

from typing import Any

from ..events import is_known
from ..runs.metrics import mean_probability, shown
from ..understand.divergence import Divergence, Fate
from ..words.explain import how, inert_notes, w
from .render import display_width, pad, visible
from .tokens import token_repr


def explanation(div: Divergence, lang: str = "en", width: int = 100) -> str:
    a, b = (repr(label) for label in div.labels)
    if div.index is None:
        return w("never", lang, a=a, b=b, n=div.length)
    lines = [
        w("part", lang, a=a, b=b, index=div.index),
        f"{w('shared', lang)}: {clip(div.shared_text, width - 14)!r}",
        "",
    ]
    lines += _table(div, lang)
    lines += inert_notes([visible(label) for label in div.labels], inert_stages(div), lang)
    lines += ["", verdict(div, lang)]
    if div.knobs:
        lines += ["", f"{w('knobs', lang)}:"]
        for action in div.knobs:
            state = w("acted" if action.acted else "idle", lang)
            lines.append(
                f"  {action.name}: {value_text(action.values[0])} / {value_text(action.values[1])}  "
                f"({state}: {how(action, lang)})"
            )
    return visible("\n".join(lines))


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def inert_stages(div: Divergence) -> list[list[str]]:
    """Per column, the stages whose cuts in the table could not change its draw (greedy; Fate.inert)."""
    return [sorted({str(row.fates[i].cut_by) for row in div.rows if row.fates[i].inert}) for i in (0, 1)]


def _cell(fate: Fate, drawn: bool, lang: str) -> str:
    text = (
        w("cut_inert" if fate.inert else "cut", lang, stage=fate.cut_by)
        if fate.cut_by
        else (w("unknown", lang) if fate.prob is None else f"{fate.prob:.3f}")
    )
    return f"{text} {w('drawn_mark', lang)}" if drawn else text


def _table(div: Divergence, lang: str) -> list[str]:
    header = [w("candidate", lang), w("raw", lang), *(visible(label) for label in div.labels)]
    drawn = [step["id"] if step else None for step in div.drawn]
    rows = [
        [
            token_repr(row.text),
            shown(row.raw_prob),
            *(_cell(fate, row.token_id == drawn[i], lang) for i, fate in enumerate(row.fates)),
        ]
        for row in div.rows
    ]
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]


def verdict(div: Divergence, lang: str) -> str:
    """The verdict line in ``lang``: who drew what, and whose chain cut the other's token (or the dice)."""
    labels = [repr(label) for label in div.labels]
    steps = div.drawn
    for me, other in ((0, 1), (1, 0)):
        if steps[me] is None:
            return w("ended", lang, label=labels[me], reason="end", other=labels[other])
    drawn = [step for step in steps if step is not None]
    parts = [
        w("drew", lang, label=labels[i], text=token_repr(drawn[i]["text"]), p=shown(drawn[i]["p"])) for i in (0, 1)
    ]
    reasons = []
    by_id = {row.token_id: row for row in div.rows}
    for me, other in ((0, 1), (1, 0)):
        fate = by_id[drawn[other]["id"]].fates[me]
        if fate.inert:
            reasons.append(w("greedy_draw", lang, label=labels[me], text=token_repr(drawn[other]["text"])))
        elif fate.cut_by:
            reasons.append(
                w("cut_other", lang, label=labels[me], stage=fate.cut_by, text=token_repr(drawn[other]["text"]))
            )
        elif fate.prob is None:
            reasons.append(w("not_recorded", lang, label=labels[me], text=token_repr(drawn[other]["text"])))
    dice = "dice_seed" if div.seeds_differ else "dice"
    return "; ".join(parts + (reasons or [w(dice, lang)]))


def replay_text(what, lang: str = "en") -> str:
    """A what-if replay as a table of tokens and a summary line; estimated figures end in '~'."""
    changes = ",".join(f"{k}={value_text(v)}" for k, v in what.changes.items())
    header = w("replay_cols", lang).split("|")
    rows = [
        [
            str(t.index),
            repr(t.text),
            _p(t.recorded_prob),
            _p(t.prob) + ("~" if t.approximate else ""),
            str(t.survivors),
            visible(t.cut_by or ""),
        ]
        for t in what.tokens
    ]
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [w("replay_head", lang, label=repr(what.label), changes=changes), ""]
    lines += ["  ".join(pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    lines += [
        "",
        w(
            "summary",
            lang,
            n=len(what.tokens),
            impossible=what.impossible,
            then=shown(mean_probability([t.recorded_prob for t in what.tokens])),
            now=shown(what.mean_prob),
            survivors=shown(what.mean_survivors, "{:.1f}"),
            approx=what.approximate,
        ),
    ]
    return visible("\n".join(lines))


def _p(value: float | None) -> str:
    return "-" if not is_known(value) else f"{value:.3f}"
