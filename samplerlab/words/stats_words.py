"""The words of the statistics across seeds (``samplerlab stats``, the report's and the app's stats), in
English and Japanese: each figure's name, how a difference reads, and the verdict lines."""

from __future__ import annotations

# figure -> (English name, Japanese name, English "higher" verb phrase, Japanese one, English "lower", Japanese)
# A verb phrase reads after a column's label: "'A' writes longer replies than 'B'".
FIGURE_WORDS: dict[str, dict[str, str]] = {
    "tokens": {
        "en": "length (tokens)",
        "ja": "長さ（トークン）",
        "up_en": "writes longer replies than",
        "down_en": "writes shorter replies than",
        "up_ja": "より長く書く",
        "down_ja": "より短く書く",
        "more_en": "longer",
        "less_en": "shorter",
        "more_ja": "長い",
        "less_ja": "短い",
    },
    "length_share": {
        "en": "share cut at max_tokens",
        "ja": "最大トークン数で切れた割合",
        "up_en": "runs into max_tokens more often than",
        "down_en": "runs into max_tokens less often than",
        "up_ja": "より最大トークン数で切れやすい",
        "down_ja": "より最大トークン数で切れにくい",
    },
    "mean_logprob": {
        "en": "mean raw log-probability",
        "ja": "元のモデルでの平均対数確率",
        "up_en": "draws tokens the raw model finds likelier than",
        "down_en": "draws tokens the raw model finds less likely than",
        "up_ja": "より元のモデルにとって確率の高いトークンを引く",
        "down_ja": "より元のモデルにとって確率の低いトークンを引く",
    },
    "perplexity": {"en": "perplexity (raw model)", "ja": "パープレキシティ（元のモデル）"},
    "mean_entropy": {
        "en": "mean entropy after the chain (nats)",
        "ja": "チェーン後の平均エントロピー（nat）",
        "up_en": "leaves more entropy than",
        "down_en": "leaves less entropy than",
        "up_ja": "よりエントロピーが大きい",
        "down_ja": "よりエントロピーが小さい",
    },
    "mean_survivors": {
        "en": "mean survivors after the chain",
        "ja": "チェーン後に残る候補の平均数",
        "up_en": "keeps more candidates than",
        "down_en": "keeps fewer candidates than",
        "up_ja": "より多くの候補を残す",
        "down_ja": "より少ない候補しか残さない",
    },
    "distinct_2": {
        "en": "distinct-2",
        "ja": "distinct-2",
        "up_en": "varies its token pairs more than",
        "down_en": "varies its token pairs less than",
        "up_ja": "よりトークン対が多様",
        "down_ja": "よりトークン対が単調",
    },
    "rep_3": {
        "en": "rep-3 (repeated 3-grams)",
        "ja": "rep-3（繰り返し 3-gram）",
        "up_en": "repeats itself more than",
        "down_en": "repeats itself less than",
        "up_ja": "より同じ言い回しを繰り返す",
        "down_ja": "より繰り返しが少ない",
    },
    "diversity": {
        "en": "diversity (distinct-2 x -3 x -4)",
        "ja": "多様性（distinct-2 × -3 × -4）",
        "up_en": "is more diverse within a text than",
        "down_en": "is less diverse within a text than",
        "up_ja": "より一つの文の中が多様",
        "down_ja": "より一つの文の中が単調",
    },
    "self_bleu": {
        "en": "self-BLEU across seeds",
        "ja": "シード間の self-BLEU",
        "up_en": "writes more alike across seeds than",
        "down_en": "writes less alike across seeds than",
        "up_ja": "よりシード間で似た文を書く",
        "down_ja": "よりシード間で違う文を書く",
    },
    "seed_distance": {
        "en": "distance across seeds (2-gram Jaccard)",
        "ja": "シード間の距離（2-gram Jaccard）",
        "up_en": "varies more across seeds than",
        "down_en": "varies less across seeds than",
        "up_ja": "よりシードごとに違う",
        "down_ja": "よりシードごとの違いが小さい",
    },
    "parting_token": {
        "en": "token where seeds part",
        "ja": "シードが分かれるトークン",
        "up_en": "keeps its seeds together longer than",
        "down_en": "parts its seeds sooner than",
        "up_ja": "よりシード同士が長く同じ文を書く",
        "down_ja": "よりシード同士が早く分かれる",
    },
}

WORDS: dict[str, dict[str, str]] = {
    "head": {
        "en": "{columns} columns, {units} {unit_name} each at most, {generations} generations",
        "ja": "{columns} 列、各最大 {units} {unit_name}、生成 {generations} 件",
    },
    "seeds": {"en": "seeds", "ja": "シード"},
    "runs": {"en": "prompt-seed runs", "ja": "プロンプト×シード"},
    "method": {
        "en": "central value: the mean over {unit_name}; 95% interval: percentile bootstrap ({resamples} resamples, "
        "random_state {state}); tests: paired permutation over shared {unit_name} (exact up to {exact}, else "
        "{resamples} resamples), p Holm-adjusted over {tests} tests",
        "ja": "中心値: {unit_name}の平均、95% 区間: パーセンタイル・ブートストラップ（{resamples} 回、"
        "random_state {state}）、検定: 共通の{unit_name}での対応のある並べ替え検定（{exact} 件までは厳密、それ以上は"
        " {resamples} 回）、p は {tests} 検定で Holm 補正",
    },
    "endings": {"en": "how they ended", "ja": "終わり方"},
    "verdicts": {"en": "verdicts", "ja": "判定"},
    "differs": {
        "en": "'{a}' {phrase} '{b}': {more} on {wins} of {n} {unit_name}, p = {p}",
        "ja": "'{a}' は '{b}' {phrase}: {n} {unit_name}中 {wins} で{more}、p = {p}",
    },
    "noise": {
        "en": "'{a}' vs '{b}', {figure}: within seed noise (p = {p})",
        "ja": "'{a}' 対 '{b}'、{figure}: シードのばらつきの範囲内（p = {p}）",
    },
    "unpaired": {
        "en": "'{a}' vs '{b}': fewer than 2 shared {unit_name}, no paired test",
        "ja": "'{a}' 対 '{b}': 共通の{unit_name}が 2 未満のため対応のある検定なし",
    },
    "no_interval": {"en": "one {unit}: no interval", "ja": "1 {unit}のみ: 区間なし"},
    "higher": {"en": "higher", "ja": "高い"},
    "lower": {"en": "lower", "ja": "低い"},
    "dot_run": {"en": "prompt {prompt} seed {seed}", "ja": "プロンプト {prompt} シード {seed}"},  # a dot's hover
    "chart_dots": {
        "en": "each dot one seed (prompt-seed run); the bar the 95% interval around the mean",
        "ja": "点は 1 シード（プロンプト×シード）、棒は平均の 95% 区間",
    },
    "quality_diversity": {
        "en": "quality and diversity: mean raw log-probability against distance across seeds",
        "ja": "品質と多様性: 元のモデルでの平均対数確率とシード間の距離",
    },
    "within_noise": {
        "en": "{n} more lines: within seed noise or untested",
        "ja": "ほか {n} 行: シードのばらつきの範囲内、または検定なし",
    },
    "qd_title": {"en": "quality vs diversity", "ja": "品質と多様性"},
    "too_few": {
        "en": "with {n} shared {unit_name} the smallest p a test can give is {smallest}, and Holm over {tests} tests "
        "needs less than {needed}: run more seeds, or --baseline to test fewer pairs",
        "ja": "共通の{unit_name}が {n} では検定の p は最小でも {smallest} で、{tests} 検定の Holm 補正には {needed} "
        "未満が必要: シードを増やすか、--baseline で比べる組を減らしてください",
    },
    "stats_title": {"en": "Statistics across seeds", "ja": "シードをまたいだ統計"},
    "seeds_per_column": {"en": "Seeds per column", "ja": "列ごとのシード数"},
    "seeds_per_column_info": {
        "en": "Run every column on this many seeds (from the seed above) and show each figure as a distribution "
        "with its 95% interval; 1 runs nothing here.",
        "ja": "各列をこの数のシード（上のシードから）で生成し、各数値を分布と 95% 区間で示す。1 ならここでは何もしない。",
    },
    "run_seeds": {"en": "Run on these seeds", "ja": "このシード数で生成"},
    "one_seed_page": {
        "en": "Seeds per column is 1: the columns above are the comparison. Choose 2 or more to see distributions.",
        "ja": "列ごとのシード数が 1 なので、上の列が比較結果です。分布を見るには 2 以上を選んでください。",
    },
    "more_seeds": {"en": "{n} more seeds", "ja": "ほか {n} シード"},
}


def w(key: str, lang: str) -> str:
    return WORDS[key].get(lang, WORDS[key]["en"])


def figure_name(name: str, lang: str) -> str:
    words = FIGURE_WORDS[name]
    return words.get(lang, words["en"])


def figure_phrase(name: str, up: bool, lang: str) -> str:
    words = FIGURE_WORDS[name]
    key = f"{'up' if up else 'down'}_{'ja' if lang == 'ja' else 'en'}"
    return words.get(key, words[f"{'up' if up else 'down'}_en"])


def figure_more(name: str, up: bool, lang: str) -> str:
    """'longer' / 'shorter' where a figure has its own word, else 'higher' / 'lower'."""
    words = FIGURE_WORDS[name]
    key = f"{'more' if up else 'less'}_{'ja' if lang == 'ja' else 'en'}"
    return words.get(key, w("higher" if up else "lower", lang))
