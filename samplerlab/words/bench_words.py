"""The benchmarks' words in English and Japanese (`samplerlab bench`, `bench-servers`). The machine-read
lines (ratio=, overhead=, rerun_ratio=, peak_ratio=, speedup=) are the same in every language."""

from __future__ import annotations

import unicodedata
from typing import Any

BENCH_WORDS: dict[str, dict[str, str]] = {
    "model": {"en": "model: {model}", "ja": "モデル: {model}"},
    "shape": {
        "en": "columns: {columns}  tokens: {tokens}  {parallel}: {threads}",
        "ja": "列: {columns}  トークン: {tokens}  {parallel}: {threads}",
    },
    "grid": {"en": " ({settings} settings x {seeds} seeds)", "ja": "（{settings} 設定 × {seeds} シード）"},
    "threads": {"en": "threads", "ja": "スレッド"},
    "server slots": {"en": "server slots", "ja": "サーバーのスロット"},
    "model_on": {"en": "{model} on {location}", "ja": "{location} の {model}"},
    "loaded_with": {
        "en": "every contender loaded with samplerlab's load settings: {load}",
        "ja": "どの計測対象も samplerlab の読み込み設定で読み込み: {load}",
    },
    "seconds": {"en": "{seconds:7.3f} s  {tps:8.1f} tok/s", "ja": "{seconds:7.3f} 秒  {tps:8.1f} tok/s"},
    # contenders (the English names are the report's keys)
    "sequential create_completion": {"en": "sequential create_completion", "ja": "create_completion を1列ずつ"},
    "bare batched loop": {"en": "bare batched loop", "ja": "素のバッチ処理ループ"},
    "samplerlab": {"en": "samplerlab", "ja": "samplerlab"},
    "one column after another": {"en": "one column after another", "ja": "1列ずつ順に"},
    "samplerlab (all at once)": {"en": "samplerlab (all at once)", "ja": "samplerlab（全列を一度に）"},
    # --rerun
    "rerun_head": {
        "en": "conversation of {n} prompt tokens, time to first token:",
        "ja": "プロンプト {n} トークンの会話、最初のトークンまでの時間:",
    },
    "first_run": {"en": "first run {seconds:8.3f} s", "ja": "初回     {seconds:8.3f} 秒"},
    "re_run": {
        "en": "re-run    {seconds:8.3f} s  (prompt reused: {reused})",
        "ja": "再実行   {seconds:8.3f} 秒  （プロンプトの再利用: {reused}）",
    },
    # --memory
    "memory_head": {
        "en": "{columns} columns x {tokens} tokens, n_ctx {n_ctx}: peak memory of a child process",
        "ja": "{columns} 列 × {tokens} トークン、n_ctx {n_ctx}: 子プロセスのメモリ使用量の最大値",
    },
    "memory_row": {
        "en": "{cells:6d} cells/column  KV {kv:9.1f} MiB  peak RSS {rss:9.1f} MiB",
        "ja": "{cells:6d} セル/列  KV {kv:9.1f} MiB  最大 RSS {rss:9.1f} MiB",
    },
    "before: n_ctx per column": {"en": "before: n_ctx per column", "ja": "以前: 列ごとに n_ctx"},
    "after: each column's own needs": {"en": "after: each column's own needs", "ja": "現在: 列ごとに必要な分だけ"},
    # bench-servers
    "sweep": {
        "en": "sweep: {settings} settings x {seeds} seeds = {generations} generations, "
        "{tokens} tokens each (end of generation banned)",
        "ja": "スイープ: 設定 {settings} × シード {seeds} = 生成 {generations} 件、各 {tokens} トークン"
        "（生成終了トークンは禁止）",
    },
    "servers": {"en": "{n} server{s} ({slots} slots)", "ja": "サーバー {n} 台（スロット {slots}）"},
    "speedup_of": {"en": "({n} servers against 1)", "ja": "（サーバー {n} 台と 1 台の比）"},
    "same_texts": {"en": "same texts: {same} of {total}", "ja": "同じ文章: {total} 件中 {same} 件"},
}


def bw(key: str, lang: str, /, **values: Any) -> str:
    words = BENCH_WORDS[key]
    return words.get(lang, words["en"]).format(**values)


def left(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal cells (a Japanese character takes two), as ``{:<width}`` pads English."""
    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - cells)
