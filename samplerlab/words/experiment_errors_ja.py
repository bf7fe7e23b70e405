"""Japanese for an experiment file's one-line errors (runs/experiments.py), a setting's shapes that only
files and flags reach (lists, biases, orders), and a model file's header (files/gguf_header.py); appended
to ``errors_ja.PATTERNS``. Keys, values and file names are kept as the English message has them."""

from __future__ import annotations

EXPERIMENT_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"the file is empty; an experiment needs at least a prompt and columns",
        r"ファイルが空です。実験には少なくとも prompt と columns が必要です",
    ),
    (
        r"expected a mapping of experiment keys \((?P<k>[^)]*)\), got (?P<v>.+)",
        r"実験のキー（\g<k>）を持つマッピングにしてください（受け取った値: \g<v>）",
    ),
    (r"unknown key; expected (?P<e>.+)", r"不明なキー（使えるキー: \g<e>）"),
    (r"unknown key \(did you mean (?P<m>'[^']*')\?\)", r"不明なキー（\g<m> のことですか？）"),
    (r"expected chat or raw, got (?P<v>.+)", r"chat か raw を指定してください（受け取った値: \g<v>）"),
    (
        r"only applies in chat mode; remove it, or use mode: chat",
        r"chat モードでだけ使えます。消すか、mode: chat にしてください",
    ),
    (r"give (?P<a>\w+) or (?P<b>\w+), not both", r"\g<a> か \g<b> のどちらか一方だけを書いてください"),
    (
        r"picks one chat of a chat: file; give chat as well",
        r"chat: のファイルから会話を1つ選ぶキーです。chat も書いてください",
    ),
    (r"holds no messages; expected at least one", r"メッセージがありません。少なくとも1つ書いてください"),
    (
        r"no prompt: give prompt \(a string\) or prompts \(a list of strings\)",
        r"prompt がありません。prompt（文字列）か prompts（文字列のリスト）を書いてください",
    ),
    (
        r"applies to a conversation; give messages or chat as well",
        r"会話に対して使うキーです。messages か chat も書いてください",
    ),
    (
        r"no columns: give columns \(a list\) or sweep \(one or two knobs with value lists\)",
        r"列がありません。columns（リスト）か sweep（値のリストを持つ1つか2つの設定）を書いてください",
    ),
    (
        r"base only applies to a sweep; put the settings in columns instead",
        r"base は sweep でだけ使えます。設定は columns に書いてください",
    ),
    (
        r"expected 1 to (?P<n>\d+) columns, got (?P<m>\d+)",
        r"列は 1〜\g<n> 個にしてください（受け取った数: \g<m>）",
    ),
    (r"expected 1 to (?P<n>\d+) values, got (?P<m>\d+)", r"値は 1〜\g<n> 個にしてください（受け取った数: \g<m>）"),
    (r"expected a list of values, got (?P<v>.+)", r"値のリストを指定してください（受け取った値: \g<v>）"),
    (r"expected a list of strings, got (?P<v>.+)", r"文字列のリストを指定してください（受け取った値: \g<v>）"),
    (
        r"unknown sampler letter (?P<l>'[^']*'); known: (?P<k>.+)",
        r"不明なサンプラー文字 \g<l>（使える文字: \g<k>）",
    ),
    (
        r"bias for (?P<t>'[^']*') must be a number from (?P<a>-?\d+) to (?P<b>-?\d+) or false \(ban\), got (?P<v>.+)",
        r"\g<t> のバイアスは \g<a> 〜 \g<b> の数か false（禁止）にしてください（受け取った値: \g<v>）",
    ),
    (
        r"expected 'embedded', a \.gguf path, \{hf_repo: \.\.\., hf_file: \.\.\.\}, \{server: URL\} or "
        r"\{servers: \[URL, \.\.\.\]\} \(at most (?P<n>\d+)\), got (?P<v>.+)",
        r"'embedded'、.gguf のパス、{hf_repo: ..., hf_file: ...}、{server: URL} か {servers: [URL, ...]}"
        r"（最大 \g<n> 個）を指定してください（受け取った値: \g<v>）",
    ),
    # a model file's header
    (
        r"not a GGUF model file \(expected the GGUF magic bytes at the start\)",
        r"GGUF モデルファイルではありません（先頭に GGUF のマジックバイトがありません）",
    ),
    (
        r"the header is truncated or corrupt \((?P<w>.+) runs past the end of the file\)",
        r"ヘッダーが途中で切れているか壊れています（\g<w> がファイルの終わりを越えています）",
    ),
    (
        r"GGUF version (?P<v>\S+) is not supported \(expected 2 or 3\)",
        r"GGUF バージョン \g<v> には対応していません（2 か 3 のもの）",
    ),
)
