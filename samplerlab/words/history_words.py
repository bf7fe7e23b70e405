"""The words of the run store, History and progress, in English and Japanese (merged into ``i18n.TEXT``)."""

from __future__ import annotations

HISTORY_TEXT: dict[str, dict[str, str]] = {
    # a run's status in a listing (the CLI's history and the History tab)
    "status_running": {"en": "running", "ja": "実行中"},
    "status_killed": {"en": "killed", "ja": "中断（強制終了）"},
    "status_done": {"en": "done", "ja": "完了"},
    "status_stopped": {"en": "stopped", "ja": "停止"},
    "status_failed": {"en": "failed", "ja": "失敗"},
    "progress_line": {
        "en": "{done}/{total} generations · {tps:.1f} tokens/s · {left} left",
        "ja": "{done}/{total} 生成 · {tps:.1f} トークン/秒 · 残り {left}",
    },
    "duration_s": {"en": "{s} s", "ja": "{s} 秒"},
    "duration_min": {"en": "{m} min {s:02d} s", "ja": "{m} 分 {s:02d} 秒"},
    "duration_h": {"en": "{h} h {m:02d} min", "ja": "{h} 時間 {m:02d} 分"},
    "history": {"en": "History", "ja": "履歴"},
    "history_info": {
        "en": "Recent runs, newest first. Reopen one to see its columns again as they ended.",
        "ja": "最近の実行（新しい順）。開き直すと、その列が終わったときのまま表示されます。",
    },
    "history_shared": {
        "en": "Only the runs of this browser session are listed.",
        "ja": "このブラウザのセッションの実行だけが表示されます。",
    },
    "history_refresh": {"en": "Refresh", "ja": "更新"},
    "history_run": {"en": "Run to reopen", "ja": "開き直す実行"},
    "history_reopen": {"en": "Reopen in Compare", "ja": "比較タブで開き直す"},
    "history_reopened": {
        "en": "Reopened run {id}: {columns} column(s) of its first prompt and seed.",
        "ja": "実行 {id} を開き直しました（最初のプロンプトとシードの {columns} 列）。",
    },
    "history_none": {"en": "No runs recorded yet.", "ja": "記録された実行はまだありません。"},
    "history_off": {
        "en": "The run store cannot be used: {error}",
        "ja": "実行の記録を使えません: {error}",
    },
    "history_other_model": {
        "en": "This run was made on another model (or other load settings); load it to save the run as an experiment.",
        "ja": "この実行は別のモデル（または別の読み込み設定）で行われました。実験として保存するにはそのモデルを読み込んでください。",
    },
    "history_unknown": {
        "en": "No such run in this session's history.",
        "ja": "このセッションの履歴にその実行はありません。",
    },
    "history_time": {"en": "time (UTC)", "ja": "時刻（UTC）"},
    "history_model": {"en": "model", "ja": "モデル"},
    "history_prompt": {"en": "prompt", "ja": "プロンプト"},
    "history_columns": {"en": "columns", "ja": "列"},
    "history_seeds": {"en": "seeds", "ja": "シード"},
    "history_status": {"en": "status", "ja": "状態"},
    "history_done": {"en": "done", "ja": "完了数"},
}


def status_words(status: str, lang: str) -> str:
    """A run's status as a listing shows it in ``lang`` (an unknown one as it is stored)."""
    words = HISTORY_TEXT.get(f"status_{status}")
    return words[lang] if words is not None else status
