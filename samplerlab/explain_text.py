"""An explanation of where two columns part, as terminal text in English or Japanese."""

from __future__ import annotations

from typing import Any

from .divergence import Divergence, Fate, KnobAction
from .render import display_width, pad

WORDS: dict[str, dict[str, str]] = {
    "never": {"en": "{a} and {b} never part: both wrote the same {n} tokens.",
              "ja": "{a} と {b} は最後まで分かれません（同じ {n} トークンを書きました）。"},
    "part": {"en": "{a} and {b} part at token {index}.", "ja": "{a} と {b} はトークン {index} で分かれます。"},
    "shared": {"en": "shared text", "ja": "共通の文"},
    "candidate": {"en": "candidate", "ja": "候補"},
    "raw": {"en": "raw p", "ja": "元の確率"},
    "cut": {"en": "cut by {stage}", "ja": "{stage} が除外"},
    "unknown": {"en": "?", "ja": "？"},
    "drew": {"en": "{label} drew {text} (p {p:.3f} after its chain)",
             "ja": "{label} は {text} を引いた（チェーン後の確率 {p:.3f}）"},
    "ended": {"en": "{label} had already ended ({reason}) where {other} went on",
              "ja": "{label} は既に終了していた（{reason}）が、{other} は続けた"},
    "cut_other": {"en": "{stage} in {label} cut {text}", "ja": "{label} の {stage} が {text} を除外していた"},
    "not_recorded": {"en": "{text} is not among the recorded candidates of {label}",
                     "ja": "{text} は {label} の記録された候補に入っていない"},
    "dice": {"en": "both chains kept both tokens: the same dice fell on different tokens because the chains "
                   "gave them different probabilities",
             "ja": "どちらのチェーンも両方のトークンを残していた。同じ乱数（サイコロ）でも、チェーンが与えた確率が"
                   "違うため別のトークンに当たった"},
    "dice_seed": {"en": "both chains kept both tokens: different seeds rolled different dice",
                  "ja": "どちらのチェーンも両方のトークンを残していた。シードが違うので乱数（サイコロ）が違った"},
    "knobs": {"en": "settings that differ", "ja": "違う設定"},
    "acted": {"en": "acted here", "ja": "ここで効いた"},
    "idle": {"en": "did nothing here", "ja": "ここでは効いていない"},
    "drawn_mark": {"en": "← drawn", "ja": "← 選択"},
    "replay_head": {"en": "{label} replayed with {changes}", "ja": "{label} を {changes} で再生"},
    "replay_cols": {"en": "token|text|p then|p now|survivors|cut by", "ja": "番号|トークン|元の確率|新しい確率|残る候補|除外した段"},
    "summary": {"en": "{n} tokens: {impossible} made impossible, mean p {then:.3f} -> {now:.3f}, "
                      "mean survivors {survivors:.1f}; {approx} estimated (~)",
                "ja": "{n} トークン: 書けなくなるもの {impossible}、平均確率 {then:.3f} -> {now:.3f}、"
                      "残る候補の平均 {survivors:.1f}。推定値 {approx}（~）"},
    "how_seed": {"en": "the seed decides the dice", "ja": "シードが乱数を決める"},
    "how_cut": {"en": "its stage ({stage}) cut candidates here", "ja": "このステージ（{stage}）がここで候補を除外した"},
    "how_reshape": {"en": "{stage} reshapes every probability", "ja": "{stage} はすべての確率を変える"},
    "how_kept": {"en": "its stage ({stage}) left the chains different sets of candidates, so the same ones got other "
                       "probabilities",
                 "ja": "このステージ（{stage}）が残す候補の集合を変えたため、同じ候補でもチェーン後の確率が違う"},
    "how_idle_stage": {"en": "its stage ({stage}) cut nothing here", "ja": "このステージ（{stage}）はここでは何も除外していない"},
    "how_none": {"en": "no effect at this step", "ja": "このステップでは効果なし"},
}


def w(key: str, lang: str, **values: Any) -> str:
    return WORDS[key]["ja" if lang == "ja" else "en"].format(**values)


def explanation(div: Divergence, lang: str = "en", width: int = 100) -> str:
    a, b = (repr(label) for label in div.labels)
    if div.index is None:
        return w("never", lang, a=a, b=b, n=div.length)
    lines = [w("part", lang, a=a, b=b, index=div.index),
             f"{w('shared', lang)}: {clip(div.shared_text, width - 14)!r}", ""]
    lines += _table(div, lang)
    lines += ["", verdict(div, lang)]
    if div.knobs:
        lines += ["", f"{w('knobs', lang)}:"]
        for action in div.knobs:
            state = w("acted" if action.acted else "idle", lang)
            lines.append(f"  {action.name}: {value_text(action.values[0])} / {value_text(action.values[1])}  "
                         f"({state}: {how(action, lang)})")
    return "\n".join(lines)


def how(action: KnobAction, lang: str) -> str:
    """Why a differing knob acted at the parting step or did not, in ``lang``."""
    return w(f"how_{action.reason}", lang, stage=action.stage)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cell(fate: Fate, drawn: bool, lang: str) -> str:
    text = w("cut", lang, stage=fate.cut_by) if fate.cut_by else \
        (w("unknown", lang) if fate.prob is None else f"{fate.prob:.3f}")
    return f"{text} {w('drawn_mark', lang)}" if drawn else text


def _table(div: Divergence, lang: str) -> list[str]:
    header = [w("candidate", lang), w("raw", lang), *div.labels]
    drawn = [step["id"] if step else None for step in div.drawn]
    rows = [[repr(row.text), f"{row.raw_prob:.3f}",
             *(_cell(fate, row.token_id == drawn[i], lang) for i, fate in enumerate(row.fates))]
            for row in div.rows]
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]


def verdict(div: Divergence, lang: str) -> str:
    """The verdict line in ``lang``: who drew what, and whose chain cut the other's token (or the dice)."""
    labels = [repr(label) for label in div.labels]
    steps = div.drawn
    for me, other in ((0, 1), (1, 0)):
        if steps[me] is None:
            return w("ended", lang, label=labels[me], reason="end", other=labels[other])
    parts = [w("drew", lang, label=labels[i], text=repr(steps[i]["text"]), p=steps[i]["p"]) for i in (0, 1)]
    reasons = []
    by_id = {row.token_id: row for row in div.rows}
    for me, other in ((0, 1), (1, 0)):
        fate = by_id[steps[other]["id"]].fates[me]
        if fate.cut_by:
            reasons.append(w("cut_other", lang, label=labels[me], stage=fate.cut_by, text=repr(steps[other]["text"])))
        elif fate.prob is None:
            reasons.append(w("not_recorded", lang, label=labels[me], text=repr(steps[other]["text"])))
    dice = "dice_seed" if div.seeds_differ else "dice"
    return "; ".join(parts + (reasons or [w(dice, lang)]))


def replay_text(what, lang: str = "en") -> str:
    """A what-if replay as a table of tokens and a summary line; estimated figures end in '~'."""
    changes = ",".join(f"{k}={value_text(v)}" for k, v in what.changes.items())
    header = w("replay_cols", lang).split("|")
    rows = [[str(t.index), repr(t.text), _p(t.recorded_prob), _p(t.prob) + ("~" if t.approximate else ""),
             str(t.survivors), t.cut_by or ""] for t in what.tokens]
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [w("replay_head", lang, label=repr(what.label), changes=changes), ""]
    lines += ["  ".join(pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    then = [t.recorded_prob for t in what.tokens if t.recorded_prob == t.recorded_prob]
    lines += ["", w("summary", lang, n=len(what.tokens), impossible=what.impossible,
                    then=sum(then) / len(then) if then else float("nan"), now=what.mean_prob,
                    survivors=what.mean_survivors, approx=what.approximate)]
    return "\n".join(lines)


def _p(value: float) -> str:
    return "-" if value != value else f"{value:.3f}"
