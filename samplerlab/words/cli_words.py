"""The terminal's own words in English and Japanese: what `samplerlab ... --lang ja` prints around the
library's tables. Names a person types (options, settings, stages, files) and numbers stay as they are."""

from __future__ import annotations

from typing import Any

CLI_WORDS: dict[str, dict[str, str]] = {
    # every command
    "error": {"en": "Error: {message}", "ja": "エラー: {message}"},
    "usage": {"en": "Usage: {usage}", "ja": "使い方: {usage}"},
    "try_help": {"en": "Try '{command} --help' for help.", "ja": "'{command} --help' で使い方を表示します。"},
    "note": {"en": "note: {note}", "ja": "注: {note}"},
    "wrote": {"en": "wrote {path}", "ja": "{path} に書き込みました"},
    # compare
    "forced_prefix": {
        "en": "every reply starts with the forced {prefix}; the columns show what follows",
        "ja": "どの返答も強制した {prefix} で始まります。列にはその続きを表示します",
    },
    "queued": {
        "en": "{n} column(s) wait for a free slot ({slots} at once)",
        "ja": "{n} 列が空きスロットを待っています（同時に {slots} 列まで）",
    },
    "dropped": {
        "en": "context policy {policy} left out the {n} oldest message(s)",
        "ja": "コンテキストの方針 {policy} により、古いメッセージ {n} 件を省きました",
    },
    "footer_tokens": {"en": "[{reason}] {n} tokens", "ja": "[{reason}] {n} トークン"},
    "footer_speed": {"en": "{tps:.1f} tok/s, mean p {mean}", "ja": "{tps:.1f} tok/s、平均確率 {mean}"},
    "footer_drawn": {"en": "seed {seed} (drawn)", "ja": "シード {seed}（抽選）"},
    "live_tokens": {"en": "{n} tokens …", "ja": "{n} トークン …"},
    "generating": {"en": "generating", "ja": "生成中"},
    "seed_of": {"en": "seed {seed} of {n} ({seeds}):", "ja": "シード {seed}（{n} シード中: {seeds}）:"},
    # run, run --check
    "reproduced": {"en": "reproduced {n} columns", "ja": "{n} 列を再現しました"},
    "reproduced_texts": {"en": "reproduced {n} texts", "ja": "{n} 件の文章を再現しました"},
    "not_reproduced": {"en": "NOT reproduced: {why}", "ja": "再現できませんでした: {why}"},
    "not_reproduced_here": {
        "en": "NOT reproduced here: {machine}; re-record on this machine ({why})",
        "ja": "このマシンでは再現できませんでした: {machine}。このマシンで記録し直してください（{why}）",
    },
    "stopped_resume": {
        "en": "stopped; go on with: samplerlab run --resume {run_id}",
        "ja": "止めました。続けるには: samplerlab run --resume {run_id}",
    },
    "not_recorded": {
        "en": "{error}; this run is not recorded (it cannot be resumed)",
        "ja": "{error}。この実行は記録されません（再開できません）",
    },
    "app_not_recorded": {"en": "{error}; runs are not recorded", "ja": "{error}。実行は記録されません"},
    # presets
    "builtin": {"en": "built-in", "ja": "組み込み"},
    "user": {"en": "user", "ja": "ユーザー"},
    "saved_to": {"en": "saved {name} to {path}", "ja": "{name} を {path} に保存しました"},
    "unmapped": {"en": "unmapped: {key}", "ja": "対応なし: {key}"},
    "renamed": {"en": "renamed {old} to {new} ({path})", "ja": "{old} を {new} に名前変更しました（{path}）"},
    "deleted": {"en": "deleted {name} ({path})", "ja": "{name} を削除しました（{path}）"},
    "presets_ok": {"en": "{n} preset(s) OK", "ja": "プリセット {n} 件に問題なし"},
    # history
    "no_runs": {"en": "no runs recorded yet", "ja": "記録された実行はまだありません"},
    "history_id": {"en": "id", "ja": "ID"},
    # votes, blind
    "judge": {
        "en": "judge: {votes} votes ({ties} ties: its two orders disagreed), {abstentions} abstentions",
        "ja": "判定モデル: 投票 {votes}（引き分け {ties}: 2つの順序で判断が割れた）、棄権 {abstentions}",
    },
    "empty_reply": {"en": "(empty)", "ja": "（空）"},
    "blind_wrote": {
        "en": "wrote {path} ({n} votes, voter {voter})",
        "ja": "{path} に書き込みました（投票 {n}、投票者 {voter}）",
    },
}


def say(key: str, lang: str, /, **values: Any) -> str:
    """``key``'s words in ``lang`` (English for a language without them), with ``values`` filled in."""
    words = CLI_WORDS[key]
    return words.get(lang, words["en"]).format(**values)
