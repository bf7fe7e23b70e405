"""The app's History tab: recent runs from the run store, and reopening one in the Compare tab.

Reopening makes the stored run the session's last run (``Workbench.reopen``: the same state a fresh
run leaves), then fills the page as that run left it: the prompt, the columns' settings, their texts,
token views and charts. Token views, "why do they part", what-if, branching and Save work on it as on
a fresh run, because they read that state. Shared, a visitor sees only the runs of their own session.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from ..chats.conversation import history_text
from ..events import ColumnResult
from ..runs.listing import history_rows
from ..words.history_words import status_words
from ..words.i18n import t
from .run_views import draw_charts
from .views import forced_spans, stats_line, token_spans
from .widgets import COLUMN_KNOBS, RUN_KNOBS, to_text, widget_values
from .workbench import USER_ERRORS


def _tail(result: ColumnResult) -> str:
    """What the column's token events did not carry (held back for a stop string), as a run shows it."""
    carried = "".join(token.text for token in result.tokens)
    return result.text[len(carried) :] if result.text.startswith(carried) else ""


class HistoryCallbacks:
    def __init__(self, calls: Any, columns: int, shared: bool) -> None:
        self.calls = calls
        self.bench = calls.bench
        self.columns = columns
        self.shared = shared

    def listing(self, lang: str, request: gr.Request) -> list[Any]:
        """The table of recent runs and the ids to pick from."""
        if self.bench.store is None:
            text = t("history_off", lang).format(error=self.bench.store_error or "")
            return [f"<p>{html.escape(text)}</p>", gr.update(choices=[], value=None)]
        try:
            rows = self.bench.history(request.session_hash)
        except USER_ERRORS as error:
            return [f"<p>{html.escape(self.bench.message(error, lang))}</p>", gr.update(choices=[])]
        if not rows:
            return [f"<p>{html.escape(t('history_none', lang))}</p>", gr.update(choices=[], value=None)]
        return [
            _table(history_rows(rows), lang),
            gr.update(choices=[str(row.id) for row in rows], value=str(rows[0].id)),
        ]

    def table(self, lang: str, request: gr.Request) -> str:
        """The table alone, in ``lang`` (a language switch keeps the picked run)."""
        return self.listing(lang, request)[0]

    def reopen(self, lang: str, run_id: str | None, request: gr.Request) -> list[Any]:
        """The page as the run left it: form, texts, token views and stats; the charts follow (``then``)."""
        try:
            opened = self.bench.reopen(request.session_hash, int(run_id or 0))
        except (*USER_ERRORS, ValueError) as error:
            raise gr.Error(self.bench.message(error, lang), print_exception=False) from None
        results = opened.columns[: self.columns]
        asked = opened.request
        first = results[0].settings if results else None
        count = max(2, len(results))
        form = [
            asked.mode,
            asked.system or "",
            asked.prompt,
            history_text(asked.history),
            asked.context_policy,
            asked.prefix,
            count,
            *(_run_level(first, knob) for knob in RUN_KNOBS),
        ]
        knobs: list[Any] = []
        for index in range(self.columns):
            knobs += (
                widget_values(results[index].settings) if index < len(results) else [gr.update()] * len(COLUMN_KNOBS)
            )
        texts = [r.text for r in results] + [""] * (self.columns - len(results))
        spans = [forced_spans(asked.prefix, token_spans(r.tokens, _tail(r), lang), lang) for r in results]
        spans += [[] for _ in range(self.columns - len(results))]
        stats = [stats_line(r, lang) for r in results] + [""] * (self.columns - len(results))
        note = t("history_reopened", lang).format(id=opened.row.id, columns=len(results))
        presets = [gr.update()] * self.columns  # a column keeps its preset's name only while it holds its settings
        return [*form, *knobs, *presets, *texts, *spans, *stats, note]


def _run_level(settings: Any, knob: Any) -> Any:
    if settings is None:
        return gr.update()
    value = settings[knob.name]
    return value if knob.kind not in ("strings", "bias") else to_text(knob, value)


def _table(rows: list[list[str]], lang: str) -> str:
    heads = [
        "id",
        "history_time",
        "history_status",
        "history_done",
        "history_columns",
        "history_seeds",
        "history_model",
        "history_prompt",
    ]
    header = "".join(f"<th>{html.escape(t(h, lang) if h != 'id' else 'id')}</th>" for h in heads)
    rows = [[*row[:2], status_words(row[2], lang), *row[3:]] for row in rows]
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="sl-history"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def history_panel(
    calls: Any,
    labels: Any,
    lang: str,
    lang_state: gr.State,
    form: list[Any],
    run_outputs: list[Any],
    charts: list[Any],
    columns: int,
    shared: bool,
) -> Any:
    """The tab's widgets; ``form`` are the Compare tab's inputs (prompt, counts, knobs) that a reopen fills."""
    history = HistoryCallbacks(calls, columns, shared)
    labels.add(
        gr.Markdown(t("history_info", lang) + (" " + t("history_shared", lang) if shared else "")),
        lambda lang_: t("history_info", lang_) + (" " + t("history_shared", lang_) if shared else ""),
    )
    with gr.Row():
        choice = labels.add(
            gr.Dropdown([], label=t("history_run", lang), elem_id="history-run", scale=2), "history_run"
        )
        refresh = labels.add(
            gr.Button(t("history_refresh", lang), elem_id="history-refresh", scale=1), "history_refresh"
        )
        reopen = labels.add(
            gr.Button(t("history_reopen", lang), variant="primary", elem_id="history-reopen", scale=1), "history_reopen"
        )
    status = labels.note(gr.Markdown(elem_id="history-status"))
    table = gr.HTML(elem_id="history-table")
    refresh.click(history.listing, lang_state, [table, choice], queue=False, api_visibility="private")
    reopened = reopen.click(
        history.reopen, [lang_state, choice], [*form, *run_outputs, status], queue=False, api_visibility="private"
    )
    draw_charts(reopened, calls, lang_state, charts)
    return history, table, choice
