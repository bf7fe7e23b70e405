"""The app's own words in English and Japanese; knob explanations come from the schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..schema.params import GROUPS, Knob
from .i18n_page import PAGE_TEXT

if TYPE_CHECKING:
    from ..backends import BackendInfo as ModelInfo

LANGUAGES = ("en", "ja")

TEXT: dict[str, dict[str, str]] = {
    "title": {
        "en": "samplerlab: compare sampling settings side by side",
        "ja": "samplerlab: サンプリング設定を並べて比べる",
    },
    "subtitle": {
        "en": "Same prompt, same seed: the only difference between the columns is the settings.",
        "ja": "同じプロンプト・同じシード。列の違いは設定だけです。",
    },
    "language": {"en": "Language / 言語", "ja": "Language / 言語"},
    "model": {"en": "Model", "ja": "モデル"},
    "model_path": {"en": "Local .gguf path", "ja": "ローカルの .gguf パス"},
    "hf_repo": {"en": "Hugging Face repository", "ja": "Hugging Face リポジトリ"},
    "hf_file": {"en": "File in the repository (.gguf)", "ja": "リポジトリ内のファイル（.gguf）"},
    "load": {"en": "Load", "ja": "読み込む"},
    "prefix": {"en": "Start every reply with (a branch)", "ja": "すべての返答をこの文で始める（分岐）"},
    "prefix_info": {
        "en": "Forced text every column continues from; click a token in the token view to branch there.",
        "ja": "どの列もこの文の続きを書く。トークン表示でトークンをクリックするとそこから分岐できる。",
    },
    "branch_choice": {"en": "Continue from this token with", "ja": "このトークンの代わりに"},
    "branch": {"en": "Branch all columns here", "ja": "全列をここから分岐"},
    "what_if": {
        "en": "What if (replayed on the last text, {n} tokens): {impossible} made impossible, "
        "mean p {then} -> {now}, {survivors} candidates survive on average{approx}",
        "ja": "もしこの設定だったら（直前の文 {n} トークンで再生）: 書けなくなるもの {impossible}、"
        "平均確率 {then} -> {now}、残る候補の平均 {survivors}{approx}",
    },
    "queued": {
        "en": "waiting for a free server slot (the server runs {slots} at once)",
        "ja": "サーバーの空きスロット待ち（同時に{slots}列まで）",
    },
    "load_embedded": {"en": "Embedded default", "ja": "内蔵の既定モデル"},
    "load_settings": {"en": "Load-time settings", "ja": "読み込み時の設定"},
    "prompt": {"en": "Prompt", "ja": "プロンプト"},
    "mode": {"en": "Mode", "ja": "モード"},
    "mode_info": {
        "en": "chat uses the model's chat template; raw sends the prompt exactly as written.",
        "ja": "chat はモデルのチャットテンプレートを使い、raw はプロンプトをそのまま送る。",
    },
    "system": {"en": "System prompt (chat mode)", "ja": "システムプロンプト（chatモード）"},
    "user": {"en": "Prompt", "ja": "プロンプト"},
    "seed": {"en": "Seed", "ja": "シード"},
    "conversation": {"en": "Conversation (turns before the prompt)", "ja": "会話（プロンプトの前のやりとり）"},
    "conversation_info": {
        "en": 'A JSON list of {"role", "content"} messages; empty: no conversation. '
        "With an empty prompt the last user turn gets the reply.",
        "ja": '{"role", "content"} のJSONリスト。空なら会話なし。プロンプトが空なら最後のユーザー発言に返答する。',
    },
    "chat_file": {
        "en": "Load a chat: SillyTavern .jsonl, Open WebUI .json or OpenAI-style .json",
        "ja": "チャットを読み込む: SillyTavern .jsonl、Open WebUI .json、OpenAI形式 .json",
    },
    "context_policy": {
        "en": "When the conversation is longer than the context",
        "ja": "会話がコンテキストより長いとき",
    },
    "keep_column": {"en": "Column", "ja": "列"},
    "keep_reply": {"en": "Keep this column's reply", "ja": "この列の返答を会話に残す"},
    "keep_nothing": {
        "en": "Run a comparison first: there is no reply to keep",
        "ja": "先に比較を実行してください。残す返答がありません",
    },
    "dice": {"en": "New random seed", "ja": "新しいシードを引く"},
    "max_tokens": {"en": "Max tokens", "ja": "最大トークン数"},
    "columns": {"en": "Columns", "ja": "列の数"},
    "run": {"en": "Run", "ja": "実行"},
    "stop_run": {"en": "Stop", "ja": "停止"},
    "column": {"en": "Column", "ja": "列"},
    "preset": {"en": "Preset", "ja": "プリセット"},
    "token_view": {"en": "Token view", "ja": "トークン表示"},
    "token_view_info": {
        "en": "Colour each token by the probability it was drawn with; click one to see its candidates.",
        "ja": "各トークンを、選ばれたときの確率で色分けする。クリックで候補を表示。",
    },
    "output": {"en": "Output", "ja": "出力"},
    "pick_token": {
        "en": "Switch on the token view and click a token to see what the sampler chain did to it.",
        "ja": "トークン表示をオンにしてトークンをクリックすると、サンプラーが何をしたかが見られます。",
    },
    "before": {"en": "model (raw)", "ja": "モデル（そのまま）"},
    "after": {"en": "after the chain", "ja": "サンプラー適用後"},
    "cut": {"en": "cut", "ja": "除外"},
    "cut_by": {"en": "cut by {stage}", "ja": "{stage} で除外"},
    "survivors": {"en": "candidates left after the chain: {n}", "ja": "サンプラー適用後に残った候補: {n}"},
    "chosen": {"en": "chosen", "ja": "選択"},
    "differs": {"en": "Differs from column 1", "ja": "列1との違い"},
    "presets": {"en": "Presets", "ja": "プリセット"},
    "save_from": {"en": "Save the settings of column", "ja": "保存する列"},
    "preset_name": {"en": "Preset name", "ja": "プリセット名"},
    "preset_description": {"en": "Description", "ja": "説明"},
    "overwrite": {"en": "Overwrite an existing preset", "ja": "既存のプリセットを上書きする"},
    "save": {"en": "Save preset", "ja": "プリセットを保存"},
    "show_preset": {"en": "Preset to view, download or export", "ja": "表示・ダウンロード・書き出しするプリセット"},
    "export_to": {"en": "Export to", "ja": "書き出し先"},
    "preset_file": {"en": "The preset file (YAML)", "ja": "プリセットファイル（YAML）"},
    "exported": {"en": "In the chosen tool's format", "ja": "書き出し先の形式"},
    "experiment_source": {"en": "The experiment file (YAML)", "ja": "実験ファイル（YAML）"},
    "upload": {"en": "Upload a preset (.yaml)", "ja": "プリセットをアップロード（.yaml）"},
    "download": {"en": "Download", "ja": "ダウンロード"},
    "experiments": {"en": "Experiments", "ja": "実験"},
    "experiment_file": {"en": "Experiment file (experiments/)", "ja": "実験ファイル（experiments/）"},
    "max_tokens_override": {
        "en": "Max tokens for every column (empty: the file's)",
        "ja": "全列の最大トークン数（空欄ならファイルの値）",
    },
    "save_experiment": {"en": "Save as experiment", "ja": "実験として保存"},
    "run_experiment": {"en": "Run experiment", "ja": "実験を実行"},
    "result_file": {"en": "Result file", "ja": "結果ファイル"},
    "save_comparison": {
        "en": "Save the Compare tab's last run, outputs included, as an experiment named",
        "ja": "「比較」タブの直前の実行を出力ごと実験として保存（名前）",
    },
    "share_warning": {
        "en": "Shared without --auth: anyone with the link can use this app.",
        "ja": "--auth なしで共有中：リンクを知っている人は誰でも使えます。",
    },
    "paths_off": {
        "en": "Loading models from arbitrary paths is off while sharing; use --models-dir.",
        "ja": "共有中は任意のパスからモデルを読み込めません。--models-dir を使ってください。",
    },
    "stats": {
        "en": "{tokens} tokens · {tps:.1f} tok/s · mean p {mean} · distinct-2 {distinct2:.2f} · {reason} · seed {seed}",
        "ja": "{tokens} トークン · {tps:.1f} tok/s · 平均確率 {mean} · distinct-2 {distinct2:.2f} · {reason}"
        " · シード {seed}",
    },
    "model_summary": {
        "en": "{name} ({architecture}, {millions:.0f}M params, {quantization}, {mib:.0f} MiB, "
        "trained context {context}, {template})",
        "ja": "{name}（{architecture}、パラメータ {millions:.0f}M、{quantization}、{mib:.0f} MiB、"
        "学習時のコンテキスト長 {context}、{template}）",
    },
    "architecture_unreported": {
        "en": "architecture not reported by the server",
        "ja": "アーキテクチャはサーバーが報告しない",
    },
    "chat_template": {"en": "chat template", "ja": "チャットテンプレートあり"},
    "no_chat_template": {"en": "no chat template", "ja": "チャットテンプレートなし"},
    "saved_preset": {"en": "✓ saved preset {name!r}", "ja": "✓ プリセット「{name}」を保存しました"},
    "uploaded_preset": {"en": "✓ uploaded preset {name!r}", "ja": "✓ プリセット「{name}」をアップロードしました"},
    "saved_experiment": {
        "en": "✓ saved {experiment} and {result}",
        "ja": "✓ {experiment} と {result} を保存しました",
    },
    "run_first": {
        "en": "✗ run a comparison in the Compare tab first, and give it a name",
        "ja": "✗ 先に「比較」タブで実行し、名前を付けてください",
    },
    "no_save_shared": {
        "en": "✗ saving experiments is off while the app is shared",
        "ja": "✗ 共有中は実験を保存できません",
    },
    "why_a": {"en": "Column A", "ja": "列 A"},
    "why_b": {"en": "Column B", "ja": "列 B"},
    "why_button": {"en": "Why do they part here?", "ja": "なぜここで分かれる？"},
    "why_here": {"en": "Why here? (against column 1)", "ja": "なぜここ？（列1と比べて）"},
    "why_first": {
        "en": "Run a comparison first: the explanation reads its last run.",
        "ja": "先に比較を実行してください。説明は直前の実行を読みます。",
    },
    "why_missing": {"en": "The last run had no column {n}.", "ja": "直前の実行に列 {n} はありません。"},
    "why_same": {"en": "Pick two different columns.", "ja": "違う二つの列を選んでください。"},
    "series_p": {"en": "p", "ja": "p"},
    "series_raw_p": {"en": "raw p", "ja": "元の p"},
    "series_entropy": {"en": "entropy", "ja": "エントロピー"},
    "series_parts": {"en": "parts from col. 1", "ja": "列1と分岐"},
    "chart_label": {
        "en": "By token: p after the chain, raw p and entropy",
        "ja": "トークンごと：チェーン後の p、元の p、エントロピー",
    },
    # -- reports (report.py, report_parting.py) --
    "report_prompt": {"en": "Prompt {n} · seed {seed}", "ja": "プロンプト {n} · シード {seed}"},
    "report_statistics": {"en": "Statistics", "ja": "統計"},
    "report_across_seeds": {"en": "Across seeds", "ja": "シードをまたいで"},
    "report_spread_note": {
        "en": "Mean ± standard deviation over the seeds. Seed divergence is the mean pairwise "
        "Jaccard distance of the seeds' token pairs: high means the setting itself varies; a "
        "wide spread with low divergence means one seed was lucky.",
        "ja": "シード間の平均 ± 標準偏差。シード発散度は各シードのトークン対の Jaccard 距離の平均で、"
        "高ければ設定そのものがばらつき、広がりが大きく発散度が低ければ一つのシードが偶然よかっただけです。",
    },
    "report_sweep": {"en": "Sweep of {knobs}", "ja": "{knobs} のスイープ"},
    "report_column": {"en": "column", "ja": "列"},
    "report_finish": {"en": "finish", "ja": "終了理由"},
    "report_seeds": {"en": "seeds", "ja": "シード数"},
    "report_divergence": {"en": "divergence", "ja": "発散度"},
    "report_tokens": {"en": "tokens", "ja": "トークン"},
    "report_no_text": {"en": "(no text)", "ja": "（文章なし）"},
    "report_untitled": {"en": "samplerlab result", "ja": "samplerlab の結果"},
    # a running experiment (the app's Experiments tab): the status line and the finished columns' cards
    "progress_done": {"en": "{done} of {total} columns done", "ja": "{total} 列中 {done} 列が完了"},
    "progress_card": {"en": "{tokens} tokens · seed {seed}", "ja": "{tokens} トークン · シード {seed}"},
    # a report token's hover: "p 0.950 (raw 0.475)", then the candidates after the chain and before it
    "title_raw": {"en": "raw", "ja": "元の確率"},
    "title_after": {"en": "after the chain", "ja": "サンプラー適用後"},
    "title_before": {"en": "before", "ja": "適用前"},
    "report_mean_p": {"en": "mean p", "ja": "平均確率"},
    "report_colour": {"en": "token colour", "ja": "トークンの色"},
    "report_hover": {"en": "(hover a token for its alternatives)", "ja": "（トークンにマウスを乗せると候補を表示）"},
    "report_parting": {"en": "Where columns part", "ja": "列が分かれるところ"},
    "report_parting_note": {
        "en": "Columns of one prompt and seed that differ in exactly one setting (in a sweep, "
        "each step against its neighbour): the first token where their texts differ, the "
        "model's raw candidates there, and what each column's chain made of them.",
        "ja": "同じプロンプト・シードで設定が一つだけ違う列の組（スイープでは隣り合う値どうし）："
        "文が最初に違うトークン、そこでのモデルの元の候補、各列のチェーンがそれをどう扱ったか。",
    },
    "report_no_pairs": {
        "en": "No two columns of one prompt and seed differ in exactly one setting.",
        "ja": "同じプロンプト・シードで設定が一つだけ違う列の組はありません。",
    },
    "report_more_pairs": {"en": "… and {n} more pairs, not shown.", "ja": "…ほか {n} 組（省略）。"},
    "report_pair": {"en": "{a} · {b}: only {knob} differs", "ja": "{a} · {b}：違うのは {knob} だけ"},
    "chart_probability": {"en": "drawn token's probability", "ja": "選ばれたトークンの確率"},
    "chart_entropy": {"en": "entropy after the chain (nats)", "ja": "チェーン後のエントロピー（nats）"},
    "chart_survivors": {"en": "candidates left after the chain", "ja": "チェーン後に残った候補の数"},
    "chart_token": {"en": "token", "ja": "トークン"},
    "chart_p": {"en": "p after the chain", "ja": "チェーン後の p"},
    "chart_raw_p": {"en": "raw p", "ja": "元の p"},
    "chart_entropy_series": {"en": "entropy (nats)", "ja": "エントロピー（nats）"},
    "chart_parts": {"en": "parts from {label} at token {index}", "ja": "トークン {index} で {label} と分かれる"},
    "independent": {
        "en": "Columns are independent here: a probe column alone and beside 3 others gave identical probabilities.",
        "ja": "この環境では列は独立しています：プローブ列を単独で生成した場合と他の3列と並べた場合で確率が完全に一致しました。",
    },
    "not_independent": {
        "en": "Columns are NOT independent here: probabilities differ by up to {difference:.3g} "
        "between a column alone and beside others. Load with repack off, or batched off, "
        "for exact reproducibility.",
        "ja": "この環境では列が独立していません：単独と並列で確率が最大 {difference:.3g} 異なります。"
        "完全な再現性が必要なら repack または batched をオフにして読み込んでください。",
    },
}
TEXT.update(PAGE_TEXT)  # the page's words for tokens, retired panels and charts (i18n_page)

from .history_words import HISTORY_TEXT  # noqa: E402 - the run store's words, kept apart

TEXT.update(HISTORY_TEXT)

FINISH_REASONS = {
    "end": {"en": "the model ended", "ja": "モデルが終了"},
    "stop": {"en": "stop string", "ja": "停止文字列"},
    "length": {"en": "max tokens", "ja": "最大トークン数"},
    "context": {"en": "context full", "ja": "コンテキスト上限"},
    "cancelled": {"en": "stopped", "ja": "停止"},
}


def t(key: str, lang: str) -> str:
    return TEXT[key].get(lang, TEXT[key]["en"])


def knob_info(knob: Knob, lang: str) -> str:
    return knob.help_ja if lang == "ja" else knob.help_en


def group_label(group: str, lang: str) -> str:
    english, japanese = GROUPS[group]
    return japanese if lang == "ja" else english


def finish_reason(reason: str | None, lang: str) -> str:
    return FINISH_REASONS.get(reason or "", {}).get(lang, reason or "")


INACTIVE_REASONS = {
    "order": {
        "en": "no effect: {detail} is not in the sampler order",
        "ja": "効果なし：{detail} がサンプラー順序に含まれていない",
    },
    "mirostat": {
        "en": "no effect: with Mirostat this order's chain skips {detail}",
        "ja": "効果なし：Mirostat使用時、この順序のチェーンは {detail} を使わない",
    },
    "greedy": {  # the one wording of it: the app's greyed knobs and the why table's cuts both say this
        "en": "cannot change the text: {detail} still cuts candidates, but temperature 0 draws the top token, "
        "which {detail} always keeps",
        "ja": "文章は変わらない：{detail} は候補を除外するが、温度0では最上位のトークンが選ばれ、{detail} はそれを必ず残す",
    },
    "requires": {"en": "no effect while {detail} is off", "ja": "{detail} がオフの間は効果なし"},
    "stopped": {
        "en": "no effect: {detail} switches this stage off",
        "ja": "効果なし：{detail} でこのステージはオフになる",
    },
}


def inactive_reason(kind: str, detail: str, lang: str) -> str:
    return INACTIVE_REASONS[kind].get(lang, INACTIVE_REASONS[kind]["en"]).format(detail=detail)


def independence(independent: bool, difference: float, lang: str) -> str:
    """The load-time check's verdict, for the model bar."""
    return t("independent", lang) if independent else t("not_independent", lang).format(difference=difference)


def model_summary(info: ModelInfo, lang: str) -> str:
    """The model bar's one line: what was loaded, in the reader's language. A llama-server's model gets the
    line the same file gets loaded here; on another machine its architecture is not reported (server_model)."""
    return t("model_summary", lang).format(
        name=info.name,
        architecture=info.architecture or t("architecture_unreported", lang),
        millions=info.parameters / 1e6,
        quantization=info.quantization,
        mib=info.file_size / 2**20,
        context=info.context_length,
        template=t("chat_template" if info.chat_template else "no_chat_template", lang),
    )
