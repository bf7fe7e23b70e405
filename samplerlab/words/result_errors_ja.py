"""Japanese for the one-line errors of reading a result file (runs/results.py load_result, runs/token_lines.py,
runs/result_shape.py, files/safe_yaml.py): `samplerlab --lang ja stats broken.yaml` names the file, the place
and the value as the English does. Appended to ``errors_ja.PATTERNS``, except ``RESULT_FIRST``, which must
come before the general "expected a number" there."""

from __future__ import annotations

# result_shape._name's words for a kind, and how a message joins two ("a string or null")
KINDS_JA = {
    "a string": "文字列",
    "a whole number": "整数",
    "a number": "数値",
    "a mapping": "マッピング",
    "a list": "リスト",
    "null": "null",
}
# json's reasons for a line it cannot read (token_lines._objects keeps the part before the position)
JSON_REASONS_JA = {
    "Expecting value": "値がありません",
    "Extra data": "余分なデータがあります",
    "Expecting ',' delimiter": "',' がありません",
    "Expecting ':' delimiter": "':' がありません",
    "Expecting property name enclosed in double quotes": "二重引用符で囲んだキーがありません",
    "Unterminated string starting at": "文字列が閉じていません",
    "Invalid control character at": "不正な制御文字があります",
    "Invalid \\escape": "不正なエスケープがあります",
    "Invalid \\uXXXX escape": "不正な \\uXXXX エスケープがあります",
}

YAML_PROBLEMS_JA = {
    "mapping values are not allowed in this context": "ここにはマッピングの値を書けません",
    "mapping values are not allowed here": "ここにはマッピングの値を書けません",
    "found character that cannot start any token": "トークンを始められない文字があります",
    "found unexpected end of stream": "途中でファイルが終わっています",
    "could not find expected ':'": "':' がありません",
    "found undefined tag handle": "定義されていないタグがあります",
}


def _escape(text: str) -> str:
    """``text`` as itself in a pattern (re.escape escapes spaces, which the tests' readers trip on)."""
    return "".join("\\" + c if c in "\\.^$*+?{}[]|()" else c for c in text)


RESULT_FIRST: tuple[tuple[str, str], ...] = (
    (
        r"expected a number, got an integer of (?P<n>\d+) digits",
        r"数値を指定してください（受け取った値: \g<n> 桁の整数）",
    ),
)

RESULT_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"not a samplerlab result file \(format (?P<a>\d+) or (?P<b>\d+)\)",
        r"samplerlab の結果ファイルではありません（形式 \g<a> か \g<b> のもの）",
    ),
    (
        r"larger than (?P<m>\d+) MiB; not a samplerlab result",
        r"\g<m> MiB を超えています。samplerlab の結果ではありません",
    ),
    # the token lines of a format-2 file (token_lines.py)
    *(
        (rf"not a JSON line \({_escape(english)}\)", rf"JSON の行ではありません（{_escape(japanese)}）")
        for english, japanese in JSON_REASONS_JA.items()
    ),
    (
        r"not a JSON line \(Exceeds the limit \((?P<n>\d+) digits\) for integer string conversion\)",
        r"JSON の行ではありません（整数が上限の \g<n> 桁を超えています）",
    ),
    (r"not a JSON line \((?P<r>.+)\)$", r"JSON の行ではありません（\g<r>）"),
    (r"nested too deeply", r"入れ子が深すぎます"),
    (r"expected a JSON object, got (?P<t>\w+)", r"JSON のオブジェクトにしてください（受け取った型: \g<t>）"),
    (r"unknown key (?P<k>'[^']*'); expected (?P<e>.+)", r"不明なキー \g<k>（使えるキー: \g<e>）"),
    (
        r"expected (?P<a>\[[^\]]*\]) or (?P<b>\[[^\]]*\])$",
        r"\g<a> か \g<b> の形にしてください",
    ),
    (
        r"expected \[token id, logprob\], got (?P<v>.+)",
        r"[トークン ID, logprob] の形にしてください（受け取った値: \g<v>）",
    ),
    (r"expected (?P<a>\[[^\]]*\]), got (?P<v>.+)", r"\g<a> の形にしてください（受け取った値: \g<v>）"),
    (r"expected (?P<a>\[[^\]]*\])$", r"\g<a> の形にしてください"),
    (
        r"(?P<n>\d+) lines for (?P<t>\d+) tokens; expected one per token",
        r"トークン \g<t> 個に対して行が \g<n> 行あります。トークンごとに 1 行にしてください",
    ),
    (
        r"(?P<n>\d+) blocks for (?P<c>\d+) columns; expected one per column",
        r"列 \g<c> 個に対してブロックが \g<n> 個あります。列ごとに 1 個にしてください",
    ),
    (r"expected a block of JSON lines or null", r"JSON の行のブロックか null にしてください"),
    (
        r"the second YAML document: expected a mapping with an 'alternatives' list",
        r"2 つ目の YAML 文書: 'alternatives' のリストを持つマッピングにしてください",
    ),
    (
        r"a second YAML document after the result; a format-1 result has one",
        r"結果の後に 2 つ目の YAML 文書があります。形式 1 の結果の文書は 1 つだけです",
    ),
    (r"(?P<w>\S+) has no token lines for them", r"\g<w> には対応するトークンの行がありません"),
    (r"more values than a result may hold", r"結果に入れられる数より多くの値があります"),
    # the shape of its values (result_shape.py)
    (
        r"expected a token id \(-1 to (?P<m>\d+)\), got (?P<v>.+)",
        r"トークン ID（-1 〜 \g<m>）を指定してください（受け取った値: \g<v>）",
    ),
    (
        r"expected a value or a list of values, got (?P<v>.+)",
        r"値か値のリストを指定してください（受け取った値: \g<v>）",
    ),
    (
        r"missing (?P<k>'[^']*'), which the result sweeps",
        r"\g<k> がありません（結果はこれをスイープしています）",
    ),
    *(
        (
            rf"expected {a} or {b}, got (?P<v>.+)",
            rf"{KINDS_JA[a]}か{KINDS_JA[b]}を指定してください（受け取った値: \g<v>）",
        )
        for a in KINDS_JA
        for b in KINDS_JA
        if a != b
    ),
    *(
        (rf"expected {kind}, got (?P<v>.+)", rf"{japanese}を指定してください（受け取った値: \g<v>）")
        for kind, japanese in KINDS_JA.items()
        if kind not in ("a number", "a whole number")  # errors_ja has these, with its own words
    ),
    # PyYAML's words for what it cannot parse (after errors_ja's "not valid YAML: ")
    *(
        (rf"YAML として読めません: {_escape(english)}", rf"YAML として読めません: {japanese}")
        for english, japanese in YAML_PROBLEMS_JA.items()
    ),
    (
        r"YAML として読めません: did not find expected (?P<a>'[^']*') or (?P<b>'[^']*')",
        r"YAML として読めません: \g<a> か \g<b> がありません",
    ),
    (r"YAML として読めません: did not find expected key", r"YAML として読めません: キーがありません"),
    (r"YAML として読めません: did not find expected node content", r"YAML として読めません: 値がありません"),
    (
        r"YAML として読めません: did not find expected (?P<c>.+)",
        r"YAML として読めません: \g<c> がありません",
    ),
    (
        r"YAML として読めません: expected (?P<a><[^>]*>), but found (?P<b>.+)",
        r"YAML として読めません: \g<a> のはずが \g<b> がありました",
    ),
    # files/safe_yaml.py's limits
    (
        r"anchors and aliases \(&name, \*name\) are not allowed here",
        r"アンカーとエイリアス（&name、*name）はここでは使えません",
    ),
    (r"more than (?P<n>\d+) YAML values in the result", r"結果の YAML の値が \g<n> 個を超えています"),
    (r"more than (?P<n>\d+) YAML values", r"YAML の値が \g<n> 個を超えています"),
    (r"nested more than (?P<n>\d+) levels deep", r"入れ子が \g<n> 段を超えています"),
)
