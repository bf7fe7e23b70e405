"""The words of an explanation of where two columns part, in English and Japanese.

Below understand/ and report/: divergence words a knob's action in English, explain_text and
explain_html in the reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .i18n import inactive_reason

if TYPE_CHECKING:
    from ..understand.divergence import KnobAction


WORDS: dict[str, dict[str, str]] = {
    "never": {
        "en": "{a} and {b} never part: both wrote the same {n} tokens.",
        "ja": "{a} と {b} は最後まで分かれません（同じ {n} トークンを書きました）。",
    },
    "part": {"en": "{a} and {b} part at token {index}.", "ja": "{a} と {b} はトークン {index} で分かれます。"},
    "shared": {"en": "shared text", "ja": "共通の文"},
    "candidate": {"en": "candidate", "ja": "候補"},
    "raw": {"en": "raw p", "ja": "元の確率"},
    "cut": {"en": "cut by {stage}", "ja": "{stage} が除外"},
    # a cut in a greedy column by a stage that keeps the top token: marked, and said once below the table
    "cut_inert": {"en": "cut by {stage} *", "ja": "{stage} が除外 *"},
    "inert_note": {"en": "* '{label}', {stage}: {reason}", "ja": "* '{label}' の {stage}: {reason}"},
    "greedy_draw": {
        "en": "{label} draws its top token at temperature 0, and {text} is not it",
        "ja": "{label} は温度0で最上位のトークンを選び、{text} はそれではない",
    },
    "unknown": {"en": "?", "ja": "？"},
    "drew": {
        "en": "{label} drew {text} (p {p} after its chain)",
        "ja": "{label} は {text} を引いた（チェーン後の確率 {p}）",
    },
    "ended": {
        "en": "{label} had already ended ({reason}) where {other} went on",
        "ja": "{label} は既に終了していた（{reason}）が、{other} は続けた",
    },
    "cut_other": {"en": "{stage} in {label} cut {text}", "ja": "{label} の {stage} が {text} を除外していた"},
    "not_recorded": {
        "en": "{text} is not among the recorded candidates of {label}",
        "ja": "{text} は {label} の記録された候補に入っていない",
    },
    "dice": {
        "en": "both chains kept both tokens: the same dice fell on different tokens because the chains "
        "gave them different probabilities",
        "ja": "どちらのチェーンも両方のトークンを残していた。同じ乱数（サイコロ）でも、チェーンが与えた確率が"
        "違うため別のトークンに当たった",
    },
    "dice_seed": {
        "en": "both chains kept both tokens: different seeds rolled different dice",
        "ja": "どちらのチェーンも両方のトークンを残していた。シードが違うので乱数（サイコロ）が違った",
    },
    "knobs": {"en": "settings that differ", "ja": "違う設定"},
    "acted": {"en": "acted here", "ja": "ここで効いた"},
    "idle": {"en": "did nothing here", "ja": "ここでは効いていない"},
    "drawn_mark": {"en": "← drawn", "ja": "← 選択"},
    "replay_head": {"en": "{label} replayed with {changes}", "ja": "{label} を {changes} で再生"},
    "replay_cols": {
        "en": "token|text|p then|p now|survivors|cut by",
        "ja": "番号|トークン|元の確率|新しい確率|残る候補|除外した段",
    },
    "summary": {
        "en": "{n} tokens: {impossible} made impossible, mean p {then} -> {now}, "
        "mean survivors {survivors}; {approx} estimated (~)",
        "ja": "{n} トークン: 書けなくなるもの {impossible}、平均確率 {then} -> {now}、"
        "残る候補の平均 {survivors}。推定値 {approx}（~）",
    },
    "how_seed": {"en": "the seed decides the dice", "ja": "シードが乱数を決める"},
    "how_cut": {"en": "its stage ({stage}) cut candidates here", "ja": "このステージ（{stage}）がここで候補を除外した"},
    "how_reshape": {"en": "{stage} reshapes every probability", "ja": "{stage} はすべての確率を変える"},
    "how_kept": {
        "en": "its stage ({stage}) left the chains different sets of candidates, so the same ones got other "
        "probabilities",
        "ja": "このステージ（{stage}）が残す候補の集合を変えたため、同じ候補でもチェーン後の確率が違う",
    },
    "how_idle_stage": {
        "en": "its stage ({stage}) cut nothing here",
        "ja": "このステージ（{stage}）はここでは何も除外していない",
    },
    "how_none": {"en": "no effect at this step", "ja": "このステップでは効果なし"},
}


def w(key: str, lang: str, **values: Any) -> str:
    return WORDS[key]["ja" if lang == "ja" else "en"].format(**values)


def how(action: KnobAction, lang: str) -> str:
    """Why a differing knob acted at the parting step or did not, in ``lang``; a greedy column's stage that
    cut without changing the draw is worded as the app words its greyed knob (i18n.inactive_reason)."""
    if action.reason == "greedy":
        return inactive_reason("greedy", str(action.stage), lang)
    return w(f"how_{action.reason}", lang, stage=action.stage)


def inert_notes(labels: Sequence[str], stages: Sequence[Sequence[str]], lang: str) -> list[str]:
    """The one line each greedy column's marked cuts get: the sentence the app's greyed knob says."""
    return [
        w("inert_note", lang, label=label, stage=stage, reason=inactive_reason("greedy", stage, lang))
        for label, found in zip(labels, stages)
        for stage in found
    ]
