"""The page's words for reading tokens, retired panels and charts, in English and Japanese.

Kept apart from i18n.TEXT (which merges them in) so the words of one piece of work stay together.
"""

from __future__ import annotations

PAGE_TEXT: dict[str, dict[str, str]] = {
    # token view categories (also the legend's words)
    "cat_forced": {"en": "forced", "ja": "強制"},
    "cat_unknown": {"en": "p unknown", "ja": "p 不明"},
    "cat_partial": {"en": "cut inside a character", "ja": "文字の途中で終了"},
    "partial_character": {"en": "(a character cut off by max_tokens)", "ja": "（max_tokens で途中まで書かれた文字）"},
    "byte_tokens": {
        "en": "{text}: {n} byte tokens, p {p}",
        "ja": "{text}: {n} 個のバイトトークン、確率 {p}",
    },
    "byte_tokens_first": {
        "en": "The candidates below are those of its first byte token, where the choice was made.",
        "ja": "下の候補は最初のバイトトークン（選択が起きた場所）のものです。",
    },
    "partial_byte": {"en": "bytes of a character", "ja": "文字の一部のバイト"},
    "partial_alternatives": {
        "en": "{n} alternatives are only part of a character and cannot start a branch.",
        "ja": "{n} 個の候補は文字の一部のバイトなので分岐には使えません。",
    },
    "forced_token": {
        "en": "This is the forced start of every reply (the branch): it was written, not drawn, so it has no "
        "candidates. Click one of the column's own tokens after it.",
        "ja": "これはすべての返答の強制された書き出し（分岐）で、引かれたのではなく書かれたものなので候補はありません。"
        "その後のこの列のトークンをクリックしてください。",
    },
    "pick_a_token": {
        "en": "Click a token to see what the sampler chain did to it.",
        "ja": "トークンをクリックすると、サンプラーが何をしたかが見られます。",
    },
    "chart_p_title": {"en": "p by token", "ja": "トークンごとの確率"},
    "chart_entropy_title": {"en": "entropy by token", "ja": "トークンごとのエントロピー"},
    "chart_token": {"en": "token", "ja": "トークン"},
    "chart_value": {"en": "p", "ja": "確率"},
    "chart_nats": {"en": "entropy (nats)", "ja": "エントロピー（nats）"},
    "chart_series": {"en": "series", "ja": "系列"},
    "no_template_hint": {
        "en": "Chat mode cannot run on this model (it has no chat template): choose raw in Mode.",
        "ja": "このモデルにはチャットテンプレートがないため、chat モードでは実行できません。モードで raw を選んでください。",
    },
    "approx_note": {
        "en": " ({n} estimated: a server column's chain replayed on its top candidates)",
        "ja": "（うち {n} は推定：サーバー列のチェーンを上位候補で再生）",
    },
    # a report's header (report.page._meta_html)
    "meta_model": {"en": "model", "ja": "モデル"},
    "meta_sha256": {"en": "sha256", "ja": "sha256（ファイルの指紋）"},
    "meta_date": {"en": "date", "ja": "日時"},
    "meta_mode": {"en": "mode", "ja": "モード"},
    "meta_system": {"en": "system", "ja": "システム"},
    "meta_seeds": {"en": "seeds", "ja": "シード"},
    "meta_versions": {"en": "versions", "ja": "バージョン"},
    "meta_overrides": {"en": "overrides", "ja": "上書きした設定"},
}
