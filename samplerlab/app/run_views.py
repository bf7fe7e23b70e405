"""What the Compare tab shows of a session's last run, and how it is retired and re-worded.

Every panel that explains a run (the why panels, the clicked token's candidates and branch
choices, the what-if lines, the charts) is made from ``Workbench.last`` and nothing else, so a
panel can never mix two runs' numbers; pressing Run, branching or loading a model retires them all
(``retired``), and a language switch redraws each from the same run in the new language.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..report.tokens import group_of
from ..runs.results import column_record
from ..words.i18n import t
from .understand_panel import alternatives
from .views import (
    ENTROPY,
    PROBABILITIES,
    categories,
    column_tail,
    forced_spans,
    group_candidates_html,
    series_colours,
    span_group,
    token_frame,
    token_spans,
    why_html,
)
from .workbench import Workbench

RETIRED = ("why_shown", "candidates", "branch_row", "what_if", "token_index", "chart", "entropy_chart", "stats")
RETIRED += ("output", "spans")  # the text too: a run waiting its turn shows nothing of the one before

# a redraw of the page: at once, no spinner, not in the API
QUIET: dict[str, Any] = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}


def retirement(columns: list[dict], why: Any, lang_state: Any) -> tuple[Any, list[Any], list[Any]]:
    """(function, inputs, outputs) that empty every panel an earlier run's explanation may sit in: the why
    panel, and per column its why panel, candidates, branch row, what-if line, clicked token and charts."""
    outputs: list[Any] = [why]
    empty: list[Any] = [""]
    for column in columns:
        for key in RETIRED:
            if column.get(key) is not None:
                outputs.append(column[key])
                empty.append(key)

    def retire(lang: str) -> list[Any]:
        return [_emptied(key, lang) for key in empty]

    return retire, [lang_state], outputs


def _emptied(key: str, lang: str) -> Any:
    if key in ("", "why_shown", "what_if", "stats", "output"):
        return ""
    if key == "spans":
        return []
    if key == "candidates":
        return gr.update(value=t("pick_a_token", lang))
    if key == "token_index":
        return -1
    if key == "branch_row":
        return gr.update(visible=False)
    return gr.update(value=None, visible=False)  # a chart


class RunViews:
    """The Compare tab's callbacks that read the last run (mixed into ``callbacks.Callbacks``)."""

    bench: Workbench
    max_columns: int

    def _records(self, request: gr.Request) -> list[dict]:
        """The session's last run as column records: what divergence.explain and the charts read."""
        return [column_record(c) for c in self.bench.last(request.session_hash).columns]

    def _prefix(self, request: gr.Request) -> str:
        last = self.bench.last(request.session_hash)
        return last.request.prefix if last.request is not None and last.request.prefix else ""

    def respans(self, lang: str, request: gr.Request) -> list[Any]:
        """The token views of the last run in ``lang``: their categories (and legend) are words."""
        results, prefix = self.bench.last(request.session_hash).columns, self._prefix(request)
        return [
            gr.update(
                value=forced_spans(prefix, token_spans(results[i].tokens, column_tail(results[i]), lang), lang),
                color_map=categories(lang),
            )
            if i < len(results)
            else gr.update(color_map=categories(lang))
            for i in range(self.max_columns)
        ]

    def select_token(self, column: int, lang: str, event: gr.SelectData, request: gr.Request) -> list[Any]:
        """The clicked span's candidates (a character's byte tokens together), and its alternatives offered
        for a branch; the forced start has none, and says why."""
        results = self.bench.last(request.session_hash).columns
        span = event.index if isinstance(event.index, int) else -1
        if self._prefix(request):
            if span == 0:
                return [t("forced_token", lang), gr.update(visible=False), gr.update(), -1]
            span -= 1
        group = span_group(results[column].tokens, span) if column < len(results) else None
        if group is None:
            return [t("pick_a_token", lang), gr.update(visible=False), gr.update(), -1]
        return [
            group_candidates_html(results[column], group, lang),
            gr.update(visible=True),
            *self._choices(column, group.start, lang, request),
            group.start,
        ]

    def _choices(self, column: int, index: int, lang: str, request: gr.Request) -> list[Any]:
        options, partial = alternatives(self.bench, request.session_hash, column, index)
        info = t("partial_alternatives", lang).format(n=partial) if partial else None
        return [
            gr.update(
                choices=options,
                value=options[0][1] if options else None,
                label=t("branch_choice", lang),
                info=info,
            )
        ]

    def recandidates(self, column: int, lang: str, index: int, request: gr.Request) -> list[Any]:
        """The clicked token's panel again in ``lang`` (nothing clicked: the hint)."""
        results = self.bench.last(request.session_hash).columns
        texts = [token.text for token in results[column].tokens] if column < len(results) else []
        group = group_of(texts, int(index)) if int(index) >= 0 else None
        if group is None:
            return [t("pick_a_token", lang), gr.update()]
        return [group_candidates_html(results[column], group, lang), *self._choices(column, group.start, lang, request)]

    def why(self, lang: str, a: str, b: str, request: gr.Request) -> str:
        """Where the two chosen columns (1-based, as the dropdowns show them) part, and why; the shared
        text starts with the forced start of a branch, which both columns continued from."""
        return why_html(self._records(request), int(a) - 1, int(b) - 1, lang, self._prefix(request))

    def rewhy(self, lang: str, a: str, b: str, shown: str, request: gr.Request) -> Any:
        """The explanation on screen again in another language; nothing shown, nothing to re-word."""
        return self.why(lang, a, b, request) if shown else gr.update()

    def _frames(self, lang: str, request: gr.Request) -> list[tuple[Any, str, str, tuple[str, ...]] | None]:
        """Per chart (p, then entropy, per column) its frame, title and axis keys and series keys, or None for
        a column the last run did not have; the parting from column 1 is marked once, on the p chart, so the
        entropy chart's legend has one series."""
        records = self._records(request)
        frames: list[tuple[Any, str, str, tuple[str, ...]] | None] = []
        for i in range(self.max_columns):
            for keys, title, axis in (
                (PROBABILITIES, "chart_p_title", "chart_value"),
                (ENTROPY, "chart_entropy_title", "chart_nats"),
            ):
                first = records[0] if keys == PROBABILITIES and i < len(records) else None
                frames.append(
                    (_worded(token_frame(records[i], first, lang, keys), lang), title, axis, keys)
                    if i < len(records)
                    else None
                )
        return frames

    def charts(self, lang: str, request: gr.Request) -> list[Any]:
        """Per column two small charts of the last run, each with its own axis: p after the chain and raw p
        (0..1), and the entropy left (nats); others hidden. The data only, and no title: ``chart_words`` follows.

        Gradio's plot takes its legend (the colour domain) from the data it holds when its words change, and a
        new value can land after the words of the same update: the legend then kept the old series' names
        (the old language's, or the last run's) under lines of new ones. Words changed in a second event, once
        the data is there, redraw the plot from that data; the blank title here makes that a change always."""
        series = t("chart_series", lang)  # the colour column by its name in ``lang``: the tooltip shows it
        return [
            gr.update(visible=False)
            if drawn is None
            else gr.update(value=drawn[0], color=series, title=None, visible=True)
            for drawn in self._frames(lang, request)
        ]

    def chart_words(self, lang: str, request: gr.Request) -> list[Any]:
        """The charts' title, axes, legend title and series colours in ``lang`` (after ``charts``)."""
        return [
            gr.update()
            if drawn is None
            else gr.update(
                title=t(drawn[1], lang),
                x_title=t("chart_token", lang),
                y_title=t(drawn[2], lang),
                color=t("chart_series", lang),
                color_title=t("chart_series", lang),
                color_map=series_colours(lang, drawn[3], set(drawn[0][t("chart_series", lang)])),
            )
            for drawn in self._frames(lang, request)
        ]


def _worded(frame: Any, lang: str) -> Any:
    """The chart's frame with its colour column named in ``lang``. Gradio's plot titles the x and y values
    of its hover tooltip with x_title and y_title, but the colour's with the column's own name, and has no
    colour title for it: the column's name is the only way the tooltip says 'series' in Japanese."""
    return frame.rename(columns={"series": t("chart_series", lang)})


def draw_charts(event: Any, calls: Any, lang: Any, charts: list[Any]) -> Any:
    """``event`` then the last run's charts in two steps, data then words (``RunViews.charts``)."""
    return event.then(calls.charts, lang, charts, **QUIET).then(calls.chart_words, lang, charts, **QUIET)


def reword_on_switch(language: Any, calls: Any, columns: list[dict], why: list[Any]) -> None:
    """Wire the language switch to redraw every panel of the last run in the new language: the why panels,
    each column's token view (its categories are words), clicked token, branch choices, what-if line and
    charts. ``calls`` is ``callbacks.Callbacks`` (RunViews plus what_if)."""
    charts = [chart for c in columns for chart in (c["chart"], c["entropy_chart"])]
    language.change(calls.charts, language, charts, **QUIET).then(calls.chart_words, language, charts, **QUIET)
    language.change(calls.rewhy, [language, *why], why[-1], **QUIET)
    language.change(calls.respans, language, [c["spans"] for c in columns], **QUIET)
    for index, column in enumerate(columns):
        language.change(
            _recandidates(calls, index),
            [language, column["token_index"]],
            [column["candidates"], column["branch_choice"]],
            **QUIET,
        )
        language.change(_what_if(calls, index), [language, *column["knobs"]], column["what_if"], **QUIET)
        if column.get("why_shown") is not None:
            language.change(_rewhy_here(calls, index), [language, column["why_shown"]], column["why_shown"], **QUIET)


def _recandidates(calls: Any, index: int):
    def handler(lang: str, token: int, request: gr.Request) -> list[Any]:
        return calls.recandidates(index, lang, token, request)

    return handler


def _what_if(calls: Any, index: int):
    def handler(request: gr.Request, lang: str, *raw: Any) -> str:
        return calls.what_if(index, lang, *raw, request=request)

    return handler


def _rewhy_here(calls: Any, index: int):
    def handler(lang: str, shown: str, request: gr.Request) -> Any:
        return calls.why(lang, "1", str(index + 1), request) if shown else gr.update()

    return handler
