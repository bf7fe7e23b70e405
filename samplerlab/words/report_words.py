"""The per-column statistics' headings and explanations in Japanese (the English ones are runs.metrics.STATS,
where each statistic is declared): the report's tables and charts and the terminal's table use them."""

from __future__ import annotations

STAT_JA: dict[str, tuple[str, str]] = {
    "tokens": ("トークン", "生成したトークン数。"),
    "tokens_per_second": ("tok/s", "列の生成速度（実時間、バッチ処理込み）。"),
    "mean_prob": ("平均確率", "各トークンを引いたときの、チェーン適用後の確率の平均。"),
    "min_prob": ("最小確率", "引いた中で最も確率の低いトークン: 列が一度どこまで外れたか。"),
    "mean_entropy": ("エントロピー", "各トークンを引いた分布のエントロピー（nat）の平均。"),
    "mean_survivors": ("残る候補", "切り詰めの後に残った候補の数の平均。"),
    "distinct_1": ("distinct-1", "異なるトークン数 / トークン数。"),
    "distinct_2": ("distinct-2", "異なるトークン対の数 / トークン対の数。"),
    "repeated_3grams": ("rep-3", "それより前にすでに出たトークン3つ組の割合。"),
}


def stat_label(name: str, english: str, lang: str) -> str:
    return STAT_JA[name][0] if lang == "ja" and name in STAT_JA else english


def stat_help(name: str, english: str, lang: str) -> str:
    return STAT_JA[name][1] if lang == "ja" and name in STAT_JA else english
