"""The blind test's words in English and Japanese: the terminal, the app tab and the report share them."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "tab": {"en": "Blind test", "ja": "ブラインドテスト"},
    "intro": {
        "en": "Two replies to the same prompt and seed from two contenders, on random sides, settings hidden. "
        "Pick the better one (keys 1-4). Reveal shows which you prefer, with intervals.",
        "ja": "同じプロンプト・同じシードへの2つの返答（設定は隠し、左右はランダム）。良いほうを選ぶ（キー1〜4）。"
        "「結果を見る」で、どれを好むかを区間付きで示す。",
    },
    "contenders": {"en": "Contenders (2-6 presets)", "ja": "候補（プリセット2〜6個）"},
    "use_columns": {"en": "Use the page's columns instead", "ja": "代わりにページの列を使う"},
    "prompts": {"en": "Prompts (one per line)", "ja": "プロンプト（1行に1つ）"},
    "use_conversation": {"en": "Reply to the loaded conversation", "ja": "読み込んだ会話に返答する"},
    "seeds": {"en": "Seeds", "ja": "シード数"},
    "start": {"en": "Start", "ja": "開始"},
    "left": {"en": "A (left)", "ja": "A（左）"},
    "right": {"en": "B (right)", "ja": "B（右）"},
    "vote_A": {"en": "1: A is better", "ja": "1: A が良い"},
    "vote_B": {"en": "2: B is better", "ja": "2: B が良い"},
    "vote_tie": {"en": "3: tie", "ja": "3: 同じくらい"},
    "vote_bad": {"en": "4: both bad", "ja": "4: どちらも悪い"},
    "reveal": {"en": "Reveal", "ja": "結果を見る"},
    "votes_file": {"en": "Votes file", "ja": "投票ファイル"},
    "load_votes": {"en": "Load a votes file to continue", "ja": "投票ファイルを読み込んで続ける"},
    "pair_of": {"en": "pair {n} · prompt {p} · seed {s}", "ja": "{n} 組目 · プロンプト {p} · シード {s}"},
    "voted": {"en": "{n} votes so far", "ja": "これまでの投票 {n}"},
    "not_started": {"en": "Start a blind test first", "ja": "先にブラインドテストを開始してください"},
    "hidden": {
        "en": "The host has not revealed the settings yet",
        "ja": "ホストがまだ設定を公開していません",
    },
    "host_only": {
        "en": "Only the host can start or reveal the group test",
        "ja": "グループテストの開始と公開はホストだけができます",
    },
    "ranking_head": {
        "en": "Bradley-Terry strength (log scale, mean 0) with 95% bootstrap interval:",
        "ja": "Bradley-Terry の強さ（対数、平均0）と95%ブートストラップ区間:",
    },
    "matrix_head": {"en": "Wins (row beat column; a tie is half):", "ja": "勝ち数（行が列に勝った数。引き分けは0.5）:"},
    "pairs_head": {"en": "Votes per pair:", "ja": "組ごとの投票数:"},
    "left_share": {
        "en": "left side chosen in {share}% of {n} decisive votes (95% interval {low}-{high}%; 50% = no position bias)",
        "ja": "決着のついた {n} 票のうち左が {share}%（95%区間 {low}〜{high}%。50%なら位置の偏りなし）",
    },
    "left_none": {
        "en": "no decisive vote yet: no left-side share",
        "ja": "決着のついた票がまだないため、左の割合はなし",
    },
    "prefer": {
        "en": "you prefer '{a}' to '{b}', {w}–{l}, interval excludes zero",
        "ja": "'{b}' より '{a}' を好んでいます（{w}–{l}、区間は0を含まない）",
    },
    "cannot_tell": {
        "en": "can't tell '{a}' and '{b}' apart yet ({w}–{l}); votes still needed: about {n}",
        "ja": "'{a}' と '{b}' はまだ区別できません（{w}–{l}）: あと約 {n} 票で区別できそうです",
    },
    "cannot_tell_yet": {
        "en": "can't tell '{a}' and '{b}' apart yet ({w}–{l}): no difference to build on, vote on",
        "ja": "'{a}' と '{b}' はまだ区別できません（{w}–{l}）: 差がまだ見えないので投票を続けてください",
    },
    "how_n": {
        "en": "(votes still needed: if the gap stays and the side of its interval facing zero narrows as 1/sqrt(votes))",
        "ja": "（追加票数の見積もり: 差がそのままで、区間のゼロ側が 1/√票数 で狭まるとした場合）",
    },
    "ties_rule": {
        "en": "A tie counts as half a win each way; 'both bad' is left out of the strengths (votes 'both bad': {n}).",
        "ja": "引き分けは双方に0.5勝。「どちらも悪い」は強さの計算から外す（{n} 票）。",
    },
    "voters": {"en": "Per voter", "ja": "投票者ごと"},
    "pooled": {"en": "All voters pooled", "ja": "全投票者の合計"},
    "judge_kappa": {
        "en": "judge vs person: Cohen's kappa {k} on {n} pairs both voted on (1 = always agree, 0 = chance)",
        "ja": "審査役と人の一致: Cohen の κ = {k}（両方が投票した {n} 組。1 = 常に一致、0 = 偶然程度）",
    },
    "judge_none": {
        "en": "no pair voted on by both the judge and a person",
        "ja": "審査役と人の両方が投票した組はまだない",
    },
    "terminal_keys": {
        "en": "1: A better  2: B better  3: tie  4: both bad  r: reveal  q: quit",
        "ja": "1: A が良い  2: B が良い  3: 同じくらい  4: どちらも悪い  r: 結果  q: 終了",
    },
    "generating": {"en": "(generating the next pair ...)", "ja": "（次の組を生成中…）"},
    "all_done": {"en": "every scheduled pair has a vote", "ja": "予定した組すべてに投票しました"},
    "report_head": {"en": "Blind test", "ja": "ブラインドテスト"},
    "judge_url": {"en": "Judge: llama-server URL", "ja": "審査役: llama-server の URL"},
    "judge": {"en": "Let a judge vote", "ja": "審査役に投票させる"},
    "judge_info": {
        "en": "Its model votes on the pairs people voted on, twice in both orders (disagreement = tie, "
        "no clear letter = abstention); its votes are marked as the judge's and kept out of the ranking.",
        "ja": "そのモデルが、人が投票した組に左右を入れ替えて2回ずつ投票する（食い違えば引き分け、A/Bが読めなければ棄権）。"
        "その票は審査役のものとして記録し、順位には含めない。",
    },
    "judge_host_only": {
        "en": "Only the host can call a judge in the group test",
        "ja": "グループテストで審査役を呼べるのはホストだけです",
    },
    "judge_no_url": {
        "en": "give the judge's llama-server URL (http://host:port)",
        "ja": "審査役の llama-server の URL を入力してください（http://ホスト:ポート）",
    },
    "judge_done": {
        "en": "judge {name}: {n} votes ({t} ties: its two orders disagreed), {a} abstentions",
        "ja": "審査役 {name}: {n} 票（うち引き分け {t}: 2つの順序で答えが食い違った）、棄権 {a}",
    },
    "visitor_done": {
        "en": "You have voted on all {n} of your pairs. Thank you!",
        "ja": "あなたの {n} 組すべてに投票しました。ありがとうございました！",
    },
    "voters_full": {
        "en": "This group test already has {n} voters, the most it takes",
        "ja": "このグループテストの投票者はすでに上限の {n} 人です",
    },
}


def w(key: str, lang: str = "en") -> str:
    """The word for ``key`` in ``lang`` (English when the language is unknown)."""
    words = WORDS[key]
    return words.get(lang, words["en"])
