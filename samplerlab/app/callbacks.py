"""The Compare tab's callbacks: a run streamed into the columns, a model load, and the compare API.

Each is a few lines that translate widgets to library calls (workbench, views); nothing here decides
how text is generated. Those that read the last run are ``RunViews``', the presets' ``PresetCalls``'.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import gradio as gr

from ..chats.chat_files import parse_policy
from ..chats.conversation import parse_history
from ..events import DEFAULT_POLICY, Column, ColumnDone, Queued, Request, TokenEvent
from ..presets.store import load_preset
from ..runs.results import column_record
from ..schema.load_settings import LOAD_KNOBS
from ..schema.params import KNOB_BY_NAME
from ..words import i18n
from ..words.errors_ja import localize
from ..words.i18n import t
from .preset_calls import PresetCalls
from .run_views import RunViews
from .understand_panel import branch, what_if_line
from .views import forced_spans, stats_line, token_spans
from .widgets import COLUMN_KNOBS, RUN_KNOBS, column_settings, from_widget, run_level_values, split_columns
from .workbench import USER_ERRORS, Workbench

MAX_COLUMNS = 6
RUN_LEVEL_NAMES = tuple(k.name for k in RUN_KNOBS)
STREAM_EVERY = 0.15  # seconds between UI refreshes while streaming


def _knobs_and_presets(flat: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """The columns' knob values and, at the end of the page's full inputs, each column's preset dropdown
    (its name in the why panel). A caller sending fewer columns' knobs (the API, a test) sends no names."""
    full = len(RUN_KNOBS) + MAX_COLUMNS * (len(COLUMN_KNOBS) + 1)
    if len(flat) == full:
        return list(flat[len(RUN_KNOBS) : -MAX_COLUMNS]), list(flat[-MAX_COLUMNS:])
    return list(flat[len(RUN_KNOBS) :]), [None] * MAX_COLUMNS


class Callbacks(RunViews, PresetCalls):
    """Gradio callbacks bound to one workbench; those that read the last run are RunViews', the presets'
    PresetCalls'."""

    max_columns = MAX_COLUMNS

    def __init__(self, bench: Workbench) -> None:
        self.bench = bench

    def error(self, error: BaseException, lang: str = "en") -> gr.Error:
        """One line for the browser in its language, the server's folders by their short names when shared."""
        return gr.Error(self.bench.message(error, lang), print_exception=False)

    def run(self, request: gr.Request, lang, mode, system, prompt, chat, policy, prefix, count, *flat):
        """Stream every visible column together; yields all outputs at most every STREAM_EVERY seconds.

        Its own first step is the session's one place (``Workbench.session_run``): posting this event
        directly, past the page's button, is refused the same way while the session has a run. Then it
        waits for its turn (``Workbench.turns``), as it once waited in Gradio's queue; Stop ends the wait."""
        try:
            with self.bench.session_run(request.session_hash) as cancel, self.bench.turns.take(cancel):
                # Stopped while waiting, the run still goes through: its columns end "stopped" at once,
                # so the page says so instead of showing nothing
                yield from self._run(request, lang, mode, system, prompt, chat, policy, prefix, count, *flat)
        except USER_ERRORS as error:
            raise self.error(error, lang) from None

    def _run(self, request: gr.Request, lang, mode, system, prompt, chat, policy, prefix, count, *flat):
        count = int(count)
        try:
            asked = Request(prompt, mode, system or None, parse_history(chat), str(parse_policy(policy)), prefix or "")
            run_level = run_level_values(*flat[: len(RUN_KNOBS)])
            knobs, presets = _knobs_and_presets(flat)
            columns = [
                Column(self.column_label(i, presets[i], settings), settings)
                for i, raw in enumerate(split_columns(knobs)[:count])
                for settings in [column_settings(raw, run_level, i)]
            ]
        except USER_ERRORS as error:
            raise self.error(error, lang) from None
        texts, tokens, stats = [""] * MAX_COLUMNS, [[] for _ in range(MAX_COLUMNS)], [""] * MAX_COLUMNS
        tails, notes = [""] * MAX_COLUMNS, []
        last = 0.0
        try:
            for event in self.bench.stream(request.session_hash, asked, columns, notes):
                if isinstance(event, TokenEvent):
                    if event.index == 0:  # a column retried on another server starts again
                        texts[event.column], tokens[event.column] = "", []
                    texts[event.column] += event.text
                    tokens[event.column].append(event)
                elif isinstance(event, Queued):
                    for column in event.columns:
                        stats[column] = t("queued", lang).format(slots=event.slots)
                elif isinstance(event, ColumnDone):
                    texts[event.column], tails[event.column] = event.result.text, event.tail
                    stats[event.column] = stats_line(event.result, lang)
                if time.monotonic() - last > STREAM_EVERY:
                    last = time.monotonic()
                    yield self._outputs(texts, tokens, stats, tails, asked.prefix, lang)
        except USER_ERRORS as error:
            raise self.error(error, lang) from None
        noted = "; ".join(localize(note, lang) for note in notes)  # a shared app's limits, the run store's
        stats = [f"{line}  \n{noted}" if line and notes else line for line in stats]
        yield self._outputs(texts, tokens, stats, tails, asked.prefix, lang)

    def column_label(self, index: int, preset: str | None, settings: Any) -> str:
        """'2 · greedy' while the column holds its preset's settings, else '2': the same in every language,
        so an explanation redrawn in another language names its columns as it did."""
        try:
            changed = load_preset(preset, self.bench.presets_dir).settings.changed(settings) if preset else None
            same = changed is not None and set(changed) <= set(RUN_LEVEL_NAMES)
        except USER_ERRORS:
            same = False
        return f"{index + 1} · {preset}" if same else str(index + 1)

    @staticmethod
    def _outputs(texts, tokens, stats, tails, prefix: str = "", lang: str = "en") -> list[Any]:
        spans = (forced_spans(prefix, token_spans(ts, tail, lang), lang) for ts, tail in zip(tokens, tails))
        return [*texts, *spans, *stats]

    def restats(self, lang: str, request: gr.Request) -> list[Any]:
        """The last run's stats lines in another language; columns it did not have stay as they are."""
        results = self.bench.last(request.session_hash).columns
        return [stats_line(results[i], lang) if i < len(results) else gr.update() for i in range(MAX_COLUMNS)]

    def stop(self, request: gr.Request) -> None:
        self.bench.cancel(request.session_hash)

    def branch(self, column: int, index: int, choice: str, request: gr.Request) -> str:
        return branch(self.bench, request.session_hash, column, int(index), choice or "")

    def what_if(self, column: int, lang: str, *raw: Any, request: gr.Request) -> str:
        try:
            settings = column_settings(list(raw), {}, column)
        except USER_ERRORS:
            return ""
        return what_if_line(self.bench, request.session_hash, column, settings, lang)

    # -- model ------------------------------------------------------------------
    def model_markdown(self, lang: str = "en") -> str:
        info = self.bench.backend.info
        where = (
            f" — llama-server {info.location} ({info.parallel} slots, build {info.llama_cpp_build})"
            if info.kind != "local"
            else ""
        )
        lines = [f"**{info.file_name}**{where}: {i18n.model_summary(info, lang)}"]
        if not info.chat_template:  # said at load, not first when a chat-mode run fails
            lines.append(t("no_template_hint", lang))
        if self.bench.independence is not None:
            check = self.bench.independence
            lines.append(i18n.independence(check.independent, check.max_difference, lang))
        return "\n\n".join(lines)

    def load_model(
        self,
        request: gr.Request,
        lang: str,
        path: str,
        hf_repo: str,
        hf_file: str,
        *load_values: Any,
        progress: gr.Progress = gr.Progress(track_tqdm=True),
    ) -> str:
        """Load another model (a Hugging Face download shows its progress); the old one stays on failure.
        A load uses the model as a run does (it runs a check and waits for the old model's runs), so it
        takes the session's one place too."""
        values = {k.name: from_widget(k, v) for k, v in zip(LOAD_KNOBS, load_values)}
        try:
            with self.bench.session_run(request.session_hash) as cancel, self.bench.turns.take(cancel) as ours:
                if ours:
                    self.bench.load_model(path.strip(), hf_repo.strip(), hf_file.strip(), values)
        except USER_ERRORS as error:
            raise self.error(error, lang) from None
        return self.model_markdown(lang)

    def compare_api(
        self,
        prompt: str,
        seed: int = KNOB_BY_NAME["seed"].default,
        max_tokens: int = KNOB_BY_NAME["max_tokens"].default,
        columns: str = '[{"label": "default"}]',
        messages: str = "",
        context_policy: str = DEFAULT_POLICY,
        request: gr.Request = None,
    ) -> Iterator[dict]:  # type: ignore[assignment]
        """Run a comparison for scripts: columns as JSON, shaped like an experiment file's; ``messages``
        (a JSON list of {role, content}) are the conversation before ``prompt``. Defaults are the schema's.

        A generator, the finished columns so far every STREAM_EVERY seconds and all of them at the end,
        because Gradio closes a generator whose client cancels or goes away, and closing it stops the
        run and frees the model; a plain function would run on to its end while others wait.
        """
        done: dict[int, Any] = {}
        notes: list[str] = []
        last = time.monotonic()
        try:
            # shared: one waiting or running run per client, and a place in the one line every run waits
            # in (Workbench.turns), so that clients posing as many sessions still cannot queue past its bound
            with self.bench.session_run(request.session_hash) as cancel, self.bench.turns.take(cancel) as ours:
                if not ours:
                    return
                parsed = self.bench.columns_from_json(columns, {"seed": int(seed), "max_tokens": int(max_tokens)})
                asked = Request(
                    prompt, "chat", None, parse_history(messages, "messages"), str(parse_policy(context_policy))
                )
                for event in self.bench.stream(request.session_hash, asked, parsed, notes):
                    if isinstance(event, ColumnDone):
                        done[event.column] = event.result
                    if time.monotonic() - last > STREAM_EVERY:
                        last = time.monotonic()
                        yield _api_answer(done, notes)
        except USER_ERRORS as error:
            raise self.error(error) from None
        yield _api_answer(done, notes)


def _api_answer(done: dict[int, Any], notes: list[str]) -> dict:
    """The API's answer: the finished columns in order, as result files record them, and any notes."""
    answer: dict[str, Any] = {"columns": [_json_keys(column_record(done[i])) for i in sorted(done)]}
    return {**answer, "notes": list(notes)} if notes else answer


def _json_keys(value: Any) -> Any:
    """Mapping keys as text, as JSON has them: a logit bias keyed by token id would otherwise fail to
    serialise and drop the client's connection."""
    if isinstance(value, dict):
        return {str(key): _json_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_keys(item) for item in value]
    return value
