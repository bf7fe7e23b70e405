"""The Gradio Blocks app: sliders built from the schema, streaming side-by-side columns.

Every callback here is a few lines that translate widgets to library calls (workbench,
presets, formats, views); nothing here decides how text is generated.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no request leaves the machine uninvited

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from ..chats.chat_files import parse_policy
from ..chats.conversation import parse_history
from ..events import DEFAULT_POLICY, Column, ColumnDone, Queued, Request, TokenEvent
from ..files.safe_yaml import JsonTooDeep, load_json
from ..presets.formats import export_preset
from ..presets.store import Preset, PresetError, file_stem, list_presets, load_preset, parse_preset_text, preset_yaml
from ..report.explain_html import CSS as WHY_CSS
from ..runs.results import column_record
from ..schema.load_settings import LOAD_KNOBS, LoadSettings
from ..schema.params import KNOB_BY_NAME, Settings
from ..words import i18n
from ..words.blind import w as blind_word
from ..words.errors_ja import localize
from ..words.i18n import t
from .blind_tab import blind_panel, host_key
from .conversation_panel import conversation_panel
from .experiments_tab import experiments_panel
from .guard import LoginThrottle, RequestGuard
from .history_tab import history_panel
from .run_views import RunViews, retirement, reword_on_switch
from .share import DELETE_CACHE, UPLOAD_BUDGET, UPLOAD_FILE_BYTES
from .stats_panel import stats_panel
from .understand_panel import branch, branch_row, what_if_line
from .views import CSS as VIEW_CSS
from .views import categories, forced_spans, stats_line, token_spans
from .widgets import (
    COLUMN_KNOBS,
    RUN_KNOBS,
    column_settings,
    describe_columns,
    from_widget,
    knob_widget,
    run_level_values,
    split_columns,
    widget_values,
)
from .workbench import USER_ERRORS, Workbench

MAX_COLUMNS = 6
RUN_LEVEL_NAMES = tuple(k.name for k in RUN_KNOBS)
DEFAULT_COLUMNS = 3
STREAM_EVERY = 0.15  # seconds between UI refreshes while streaming
MAX_UPLOAD = 64 * 1024  # bytes; presets are a few hundred
RUN_START = {"max_tokens": 128}  # a UI choice, not a default: the app starts shorter than the schema's 256
# so a first run is quick; the CLI and the API (compare_api) take the schema's defaults
INITIAL_PRESETS = (
    "llama.cpp defaults",
    "greedy",
    "min-p creative",
    "mirostat 2",
    "xtc + dry creative writing",
    "factual low temperature",
)
CSS = VIEW_CSS + WHY_CSS
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "SFMono-Regular", "monospace"]
)  # no web fonts


def _knobs_and_presets(flat: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """The columns' knob values and, at the end of the page's full inputs, each column's preset dropdown
    (its name in the why panel). A caller sending fewer columns' knobs (the API, a test) sends no names."""
    full = len(RUN_KNOBS) + MAX_COLUMNS * (len(COLUMN_KNOBS) + 1)
    if len(flat) == full:
        return list(flat[len(RUN_KNOBS) : -MAX_COLUMNS]), list(flat[-MAX_COLUMNS:])
    return list(flat[len(RUN_KNOBS) :]), [None] * MAX_COLUMNS


class Callbacks(RunViews):
    """Gradio callbacks bound to one workbench; those that read the last run are RunViews'."""

    max_columns = MAX_COLUMNS

    def __init__(self, bench: Workbench) -> None:
        self.bench = bench

    def error(self, error: BaseException, lang: str = "en") -> gr.Error:
        """One line for the browser in its language, the server's folders by their short names when shared."""
        return gr.Error(localize(self.bench.message(error), lang), print_exception=False)

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
        stats = [f"{line}  \n{'; '.join(notes)}" if line and notes else line for line in stats]
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

    # -- presets ----------------------------------------------------------------
    def preset_names(self) -> list[str]:
        return [p.name for p in list_presets(self.bench.presets_dir)[0]]

    def initial_preset(self, index: int):
        """The first columns start as the LED-poem guide's comparison: defaults, greedy, creative."""
        names = self.preset_names()
        wanted = INITIAL_PRESETS[index] if index < len(INITIAL_PRESETS) else INITIAL_PRESETS[0]
        return load_preset(wanted, self.bench.presets_dir) if wanted in names else None

    def preset_values(self, name: str) -> list[Any]:
        try:
            return widget_values(load_preset(name, self.bench.presets_dir).settings)
        except USER_ERRORS as error:
            raise self.error(error) from None

    def refresh(self, lang: str) -> list[Any]:
        """What a page shows of the shared state, current when the page (re)loads."""
        return [self.model_markdown(lang), *self._refreshed("", None)[1:]]

    def _refreshed(self, message: str, selected: str | None) -> list[Any]:
        names = self.preset_names()
        return [
            message,
            gr.update(choices=names, value=selected),
            *(gr.update(choices=names) for _ in range(MAX_COLUMNS)),
        ]

    def save_column_preset(
        self, lang: str, source: str, name: str, description: str, overwrite: bool, *flat: Any
    ) -> list[Any]:
        try:
            settings = column_settings(split_columns(list(flat))[int(source) - 1], {}, int(source) - 1)
            preset = Preset(
                name=name.strip(), description=description.strip(), settings=settings, builtin=False, path=None
            )
            self.bench.save_preset(preset, overwrite=bool(overwrite))
        except (*USER_ERRORS, ValueError) as error:
            return self._refreshed(f"✗ {localize(self.bench.message(error), lang)}", None)
        return self._refreshed(t("saved_preset", lang).format(name=preset.name), preset.name)

    def upload_preset(self, path: str | None, overwrite: bool, lang: str = "en") -> list[Any]:
        """A browser upload is hostile: size-checked, parsed safely, and saved under its own name only."""
        try:
            if not path or os.path.getsize(path) > MAX_UPLOAD:
                raise PresetError(f"upload: expected a preset file of at most {MAX_UPLOAD // 1024} KiB")
            with open(path, "rb") as handle:
                text = handle.read(MAX_UPLOAD + 1).decode("utf-8")
            preset = parse_preset_text(text, source="uploaded file")
            self.bench.save_preset(preset, overwrite=bool(overwrite))
        except (*USER_ERRORS, UnicodeDecodeError, OSError) as error:
            return self._refreshed(f"✗ {localize(self.bench.message(error), lang)}", None)
        return self._refreshed(t("uploaded_preset", lang).format(name=preset.name), preset.name)

    def show_preset(self, name: str | None, target: str) -> list[Any]:
        if not name:
            return ["", None, ""]
        try:
            preset = load_preset(name, self.bench.presets_dir)
            text = preset_yaml(preset)
            download = self.bench.download(file_stem(preset.name) + ".yaml", text)
            return [text, download, export_preset(preset, target)]
        except USER_ERRORS as error:
            return [f"# {self.bench.message(error)}", None, ""]

    def preset_api(self, name: str) -> str:
        """A preset as YAML, for scripts."""
        try:
            return preset_yaml(load_preset(name, self.bench.presets_dir))
        except USER_ERRORS as error:
            raise self.error(error) from None

    def save_preset_api(self, name: str, description: str, settings: str, overwrite: bool = False) -> str:
        """Save settings (a JSON object of knobs) as a user preset, for scripts."""
        try:
            values = load_json(settings or "{}")  # bounded depth: "[" * 100000 is one line, not a RecursionError
            if not isinstance(values, dict):
                raise PresetError("settings: expected a JSON object of knob values")
            preset = Preset(name=name, description=description, settings=Settings(values, source="settings"))
            saved = self.bench.save_preset(preset, overwrite=bool(overwrite))
        except json.JSONDecodeError as error:
            raise gr.Error(f"settings: not valid JSON ({error.msg})", print_exception=False) from None
        except JsonTooDeep as error:
            raise self.error(PresetError(f"settings: {error}")) from None
        except USER_ERRORS as error:
            raise self.error(error) from None
        return f"saved preset {saved.name!r}"

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


# -- layout ----------------------------------------------------------------------
class Labels:
    """Every translatable widget, so the language can change without a reload."""

    def __init__(self) -> None:
        self.widgets: list[tuple[Any, Any, Any]] = []

    def add(self, widget: Any, label: Any = None, info: Any = None) -> Any:
        """label/info: an i18n key, a callable lang -> text, or None to leave as is."""
        self.widgets.append((widget, label, info))
        return widget

    def updates(self, lang: str) -> list[Any]:
        resolve = lambda part: part(lang) if callable(part) else t(part, lang)  # noqa: E731
        out = []
        for widget, label, info in self.widgets:
            fields = {}
            if label is not None:
                fields["value" if isinstance(widget, (gr.Markdown, gr.Button, gr.HTML)) else "label"] = resolve(label)
            if info is not None:
                fields["info"] = resolve(info)
            out.append(gr.update(**fields))
        return out


def build_app(bench: Workbench, lang: str = "en", shared: bool = False) -> gr.Blocks:
    calls, labels, shared = Callbacks(bench), Labels(), shared or bench.shared
    with gr.Blocks(title="samplerlab", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        lang_state = gr.State(lang)
        with gr.Row():
            labels.add(gr.Markdown(_title(lang)), _title)
            language = gr.Radio(list(i18n.LANGUAGES), value=lang, label=t("language", lang), scale=0, min_width=160)
        model_info, model_loads = _model_panel(calls, labels, lang, shared, lang_state)
        with gr.Tab("Compare") as compare_tab:
            run_inputs, run_outputs, columns, count, why = _compare_panel(calls, labels, lang, lang_state)
            stats_panel(bench, labels, lang, run_inputs)  # seeds per column (issue 18)
        labels.add(compare_tab, lambda lang_: "Compare" if lang_ == "en" else "比較")
        with gr.Tab(t("presets", lang)) as presets_tab:
            writable = not shared or bench.writes == "presets"
            shown, source = _presets_panel(calls, labels, lang, columns, lang_state, writable)
        labels.add(presets_tab, "presets")
        with gr.Tab(t("experiments", lang)) as experiments_tab:
            experiments_panel(bench, lang, shared, labels, lang_state)
        labels.add(experiments_tab, "experiments")
        with gr.Tab(t("history", lang)) as history_tab:
            listing, table, picked = history_panel(
                calls,
                labels,
                lang,
                lang_state,
                run_inputs[1:],
                run_outputs,
                [chart for c in columns for chart in (c["chart"], c["entropy_chart"])],
                MAX_COLUMNS,
                shared,
            )
        labels.add(history_tab, "history")
        history_tab.select(listing, lang_state, [table, picked], queue=False, api_visibility="private")
        with gr.Tab(blind_word("tab", lang)) as blind_tab:  # mode, system prompt, conversation, policy
            blind = blind_panel(bench, lang, labels, lang_state, [run_inputs[i] for i in (1, 2, 4, 5)])
        labels.add(blind_tab, lambda lang_: blind_word("tab", lang_))
        demo.load(blind.on_load, None, blind.host_state, queue=False, api_visibility="private")
        language.change(
            lambda lang_: [lang_, *labels.updates(lang_)],
            language,
            [lang_state, *(w for w, _, _ in labels.widgets)],
            queue=False,
            api_visibility="private",
        )
        # What is already on screen follows the language too: notes, marks and the last run's stats.
        marked = [w for c in columns for w in c["knobs"]]  # describe_columns: notes and marks per column
        marks_in, marks_out = [count, *marked], [*(c["note"] for c in columns), *marked]
        language.change(
            describe_columns,
            [language, *marks_in],
            marks_out,
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
        language.change(
            calls.restats,
            language,
            run_outputs[-MAX_COLUMNS:],
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
        reword_on_switch(language, calls, columns, why)  # the last run's panels, charts and token views
        retire, retire_in, retire_out = columns[0]["retire"]
        for loaded in model_loads:  # another model: the last run's explanations are of the one before
            loaded.success(retire, retire_in, retire_out, queue=False, show_progress="hidden", api_visibility="private")
        # Only visible columns can be saved as presets.
        count.change(
            lambda n: gr.update(choices=[str(i + 1) for i in range(int(n))], value="1"),
            count,
            source,
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
        demo.load(
            describe_columns,
            [lang_state, *marks_in],
            marks_out,
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )  # marks from the start
        # Another session may have loaded a model or saved a preset since the page was built.
        demo.load(
            calls.refresh,
            lang_state,
            [model_info, shown, *(c["preset"] for c in columns)],
            queue=False,
            api_visibility="private",
        )
        # Started at once (the model's lock orders the runs), so a client's second call while its first
        # waits or runs is refused at once instead of queueing ahead of other visitors.
        gr.api(calls.compare_api, api_name="compare", concurrency_limit=None)
        gr.api(calls.preset_api, api_name="preset")
        gr.api(calls.save_preset_api, api_name="save_preset")
    return demo


def _title(lang: str) -> str:
    return f"## {t('title', lang)}\n{t('subtitle', lang)}"


def _model_panel(calls: Callbacks, labels: Labels, lang: str, shared: bool, lang_state: gr.State) -> tuple[Any, Any]:
    info = labels.add(gr.Markdown(calls.model_markdown(lang), elem_id="model-info"), calls.model_markdown)
    with labels.add(gr.Accordion(t("model", lang), open=False), "model"):
        with gr.Row():
            path = labels.add(
                gr.Textbox(
                    label=t("model_path", lang), interactive=True, info=t("paths_off", lang) if shared else None
                ),
                "model_path",
            )
            hf_repo = labels.add(gr.Textbox(label=t("hf_repo", lang), interactive=not shared), "hf_repo")
            hf_file = labels.add(gr.Textbox(label=t("hf_file", lang), interactive=not shared), "hf_file")
        with labels.add(gr.Accordion(t("load_settings", lang), open=False), "load_settings"):
            loaded = calls.bench.model.load if calls.bench.model is not None else LoadSettings()
            load_widgets = [
                labels.add(knob_widget(k, lang, loaded[k.name]), None, lambda lang_, k=k: i18n.knob_info(k, lang_))
                for k in LOAD_KNOBS
            ]
            for widget in load_widgets if shared or calls.bench.model is None else ():
                widget.interactive = False  # shared: the model loads as the command line said
        with gr.Row():
            load = labels.add(gr.Button(t("load", lang), variant="secondary"), "load")
            embedded = labels.add(gr.Button(t("load_embedded", lang)), "load_embedded")
    # Started at once, like every event that uses the model: its first step refuses a session that
    # already has one (Workbench.session_run), so none can wait in the queue ahead of other visitors.
    loaded_local = load.click(
        calls.load_model,
        [lang_state, path, hf_repo, hf_file, *load_widgets],
        info,
        concurrency_limit=None,
        api_visibility="private",
    )

    def load_embedded(request: gr.Request, lang_: str, *values: Any) -> str:
        return calls.load_model(request, lang_, "", "", "", *values)

    loaded_embedded = embedded.click(
        load_embedded, [lang_state, *load_widgets], info, concurrency_limit=None, api_visibility="private"
    )
    return info, (loaded_local, loaded_embedded)


def _compare_panel(calls: Callbacks, labels: Labels, lang: str, lang_state: gr.State):
    with gr.Row():
        with gr.Column(scale=3):
            mode = labels.add(
                gr.Radio(["chat", "raw"], value="chat", label=t("mode", lang), info=t("mode_info", lang)),
                "mode",
                "mode_info",
            )
            system = labels.add(gr.Textbox(label=t("system", lang), lines=1), "system")
            prompt = labels.add(
                gr.Textbox(
                    label=t("user", lang),
                    lines=3,
                    elem_id="prompt",
                    value="Write a short poem praising light-emitting diodes.",
                ),
                "user",
            )
        with gr.Column(scale=1):
            with gr.Row():  # first beside the prompt, not under the panels below it: in view at 1440×900
                run = labels.add(gr.Button(t("run", lang), variant="primary", elem_id="run", min_width=80), "run")
                stop_button = labels.add(
                    gr.Button(t("stop_run", lang), variant="stop", elem_id="stop", min_width=80), "stop_run"
                )
            run_widgets = [
                labels.add(
                    knob_widget(k, lang, RUN_START.get(k.name), f"run-{k.name.replace('_', '-')}"),
                    None,
                    lambda lang_, k=k: i18n.knob_info(k, lang_),
                )
                for k in RUN_KNOBS
            ]
            seed = run_widgets[RUN_KNOBS.index(KNOB_BY_NAME["seed"])]
            dice = labels.add(gr.Button(t("dice", lang), size="sm", elem_id="dice"), "dice")
            count = labels.add(
                gr.Slider(
                    2, MAX_COLUMNS, value=DEFAULT_COLUMNS, step=1, label=t("columns", lang), elem_id="column-count"
                ),
                "columns",
            )
    chat, policy = conversation_panel(calls.bench, labels, lang, lang_state, prompt, MAX_COLUMNS)
    prefix = labels.add(
        gr.Textbox(label=t("prefix", lang), info=t("prefix_info", lang), lines=1, elem_id="prefix"),
        "prefix",
        "prefix_info",
    )
    why = _why_panel(calls, labels, lang, lang_state)  # above the columns: they are long with their knobs
    columns = []
    with gr.Row(equal_height=False):
        for index in range(MAX_COLUMNS):
            with gr.Column(visible=index < DEFAULT_COLUMNS, min_width=280, elem_id=f"column-{index}") as box:
                columns.append({"box": box, **_column_layout(index, lang, calls, labels, lang_state)})
    knob_inputs = [w for c in columns for w in c["knobs"]]
    count.change(
        lambda n: [gr.update(visible=i < int(n)) for i in range(MAX_COLUMNS)],
        count,
        [c["box"] for c in columns],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    dice.click(lambda: random.randrange(2**31), None, seed, queue=False, api_visibility="private")
    presets = [c["preset"] for c in columns]  # last: Callbacks._run names the columns after them
    run_inputs = [lang_state, mode, system, prompt, chat, policy, prefix, count, *run_widgets, *knob_inputs, *presets]
    run_outputs = [*(c["output"] for c in columns), *(c["spans"] for c in columns), *(c["stats"] for c in columns)]
    charts = [chart for c in columns for chart in (c["chart"], c["entropy_chart"])]
    retire, retire_in, retire_out = retirement(columns, why[-1], lang_state)  # every panel of the last run
    quiet: dict[str, Any] = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
    # Runs start at once (concurrency_limit None) and take the session's one place first; the model's
    # lock orders them, so a second run of one session is refused instead of queueing (Workbench.session_run).
    run.click(retire, retire_in, retire_out, **quiet).then(
        calls.run, run_inputs, run_outputs, concurrency_limit=None, api_visibility="private"
    ).then(calls.charts, lang_state, charts, **quiet)
    for index, column in enumerate(columns):
        column["branch_button"].click(
            _branch_handler(calls, index),
            [column["token_index"], column["branch_choice"]],
            prefix,
            queue=False,
            api_visibility="private",
        ).then(retire, retire_in, retire_out, **quiet).then(
            calls.run, run_inputs, run_outputs, concurrency_limit=None, api_visibility="private"
        ).then(calls.charts, lang_state, charts, **quiet)
        gr.on(
            [k.change for k in column["knobs"]],
            _what_if_handler(calls, index),
            [lang_state, *column["knobs"]],
            column["what_if"],
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
    stop_button.click(calls.stop, None, None, queue=False, api_visibility="private")
    notes = [c["note"] for c in columns]
    gr.on(
        [k.change for k in knob_inputs] + [count.change],
        describe_columns,
        [lang_state, count, *knob_inputs],
        [*notes, *knob_inputs],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    columns[0]["retire"] = (retire, retire_in, retire_out)  # for build_app: a model load retires them too
    return run_inputs, run_outputs, columns, count, why


def _why_panel(calls: Callbacks, labels: Labels, lang: str, lang_state: gr.State) -> list[Any]:
    """Two columns of the last run and a button: where and why they part."""
    choices = [str(i + 1) for i in range(MAX_COLUMNS)]
    with gr.Row(equal_height=True):
        a = labels.add(gr.Dropdown(choices, value="1", label=t("why_a", lang), elem_id="why-a", min_width=100), "why_a")
        b = labels.add(gr.Dropdown(choices, value="2", label=t("why_b", lang), elem_id="why-b", min_width=100), "why_b")
        button = labels.add(gr.Button(t("why_button", lang), elem_id="why-button", scale=2), "why_button")
    shown = gr.HTML(elem_id="why")
    button.click(calls.why, [lang_state, a, b], shown, queue=False, api_visibility="private")
    return [a, b, shown]


def _branch_handler(calls: Callbacks, index: int):
    def handler(request: gr.Request, token_index: int, choice: str) -> str:
        return calls.branch(index, token_index, choice, request)

    return handler


def _what_if_handler(calls: Callbacks, index: int):
    def handler(request: gr.Request, lang_: str, *raw: Any) -> str:
        return calls.what_if(index, lang_, *raw, request=request)

    return handler


def _column_layout(index: int, lang: str, calls: Callbacks, labels: Labels, lang_state: gr.State) -> dict:
    labels.add(
        gr.Markdown(f"### {t('column', lang)} {index + 1}"), lambda lang_: f"### {t('column', lang_)} {index + 1}"
    )
    initial = calls.initial_preset(index)
    preset = labels.add(
        gr.Dropdown(
            calls.preset_names(),
            value=initial.name if initial else None,
            label=t("preset", lang),
            elem_id=f"preset-{index}",
        ),
        "preset",
    )
    view = labels.add(
        gr.Checkbox(False, label=t("token_view", lang), info=t("token_view_info", lang), elem_id=f"token-view-{index}"),
        "token_view",
        "token_view_info",
    )
    output = labels.add(
        gr.Textbox(label=t("output", lang), lines=10, max_lines=30, interactive=False, elem_id=f"output-{index}"),
        "output",
    )
    spans = labels.add(
        gr.HighlightedText(
            label=t("output", lang),
            color_map=categories(lang),
            show_legend=True,
            combine_adjacent=False,
            show_inline_category=False,
            visible=False,
            elem_id=f"tokens-{index}",
        ),
        "output",
    )
    stats = gr.Markdown(elem_id=f"stats-{index}")
    chart, entropy_chart = (
        gr.LinePlot(
            x="token",
            y="value",
            color="series",
            title=t(title, lang),
            show_label=False,
            height=height,
            visible=False,
            elem_id=elem_id,
        )  # a label would hide the legend
        for title, height, elem_id in (
            ("chart_p_title", 240, f"chart-{index}"),
            ("chart_entropy_title", 200, f"entropy-chart-{index}"),
        )
    )
    if index:
        why_here = labels.add(gr.Button(t("why_here", lang), size="sm", elem_id=f"why-here-{index}"), "why_here")
        why_shown = gr.HTML(elem_id=f"why-{index}")

        def why_against_first(lang_: str, request: gr.Request) -> str:
            return calls.why(lang_, "1", str(index + 1), request)

        why_here.click(why_against_first, lang_state, why_shown, queue=False, api_visibility="private")
    else:
        why_shown = None
    candidates = gr.HTML(t("pick_a_token", lang), visible=False, elem_id=f"candidates-{index}")  # run_views words it
    understanding = branch_row(lang, index)  # beside the token view it acts on
    labels.add(understanding["branch_choice"], "branch_choice")
    labels.add(understanding["branch_button"], "branch")
    note = gr.Markdown()
    knobs = []
    for group in dict.fromkeys(k.group for k in COLUMN_KNOBS):
        with labels.add(
            gr.Accordion(i18n.group_label(group, lang), open=group in ("truncation", "temperature")),
            lambda lang_, g=group: i18n.group_label(g, lang_),
        ):
            for knob in (k for k in COLUMN_KNOBS if k.group == group):
                value = initial.settings[knob.name] if initial else None
                knobs.append(
                    labels.add(
                        knob_widget(knob, lang, value, f"{knob.name}-{index}"),
                        None,
                        lambda lang_, k=knob: i18n.knob_info(k, lang_),
                    )
                )
    view.change(
        lambda on: [gr.update(visible=not on), gr.update(visible=on), gr.update(visible=on)],
        view,
        [output, spans, candidates],
        queue=False,
        api_visibility="private",
    )

    def show_candidates(lang_: str, event: gr.SelectData, request: gr.Request) -> list[Any]:
        return calls.select_token(index, lang_, event, request)

    spans.select(
        show_candidates,
        lang_state,
        [candidates, understanding["branch_row"], understanding["branch_choice"], understanding["token_index"]],
        queue=False,
        api_visibility="private",
    )
    preset.input(calls.preset_values, preset, knobs, queue=False, api_visibility="private")
    return {
        "output": output,
        "spans": spans,
        "stats": stats,
        "note": note,
        "knobs": knobs,
        "preset": preset,
        "chart": chart,
        "entropy_chart": entropy_chart,
        "why_shown": why_shown,
        "candidates": candidates,
        **understanding,
    }


def _presets_panel(
    calls: Callbacks, labels: Labels, lang: str, columns: list[dict], lang_state: gr.State, writable: bool = True
) -> tuple[gr.Dropdown, gr.Dropdown]:
    """``writable`` False (shared, --share-writes off): no preset upload is offered, since none would be kept."""
    from ..presets.formats import EXPORT_FORMATS

    status = gr.Markdown(elem_id="preset-status")
    with gr.Row():
        with gr.Column():
            source = labels.add(
                gr.Dropdown([str(i + 1) for i in range(DEFAULT_COLUMNS)], value="1", label=t("save_from", lang)),
                "save_from",
            )
            name = labels.add(gr.Textbox(label=t("preset_name", lang), elem_id="preset-name"), "preset_name")
            description = labels.add(gr.Textbox(label=t("preset_description", lang)), "preset_description")
            overwrite = labels.add(gr.Checkbox(False, label=t("overwrite", lang)), "overwrite")
            save = labels.add(gr.Button(t("save", lang), elem_id="save-preset"), "save")
            upload = labels.add(
                gr.File(
                    label=t("upload", lang),
                    file_types=[".yaml", ".yml"],
                    type="filepath",
                    elem_id="upload-preset",
                    visible=writable,
                ),
                "upload",
            )
        with gr.Column():
            chosen = labels.add(gr.Dropdown(calls.preset_names(), label=t("show_preset", lang)), "show_preset")
            yaml_view = gr.Code(language="yaml", interactive=False)
            download = labels.add(gr.File(label=t("download", lang), interactive=False), "download")
            target = labels.add(
                gr.Dropdown(list(EXPORT_FORMATS), value=list(EXPORT_FORMATS)[0], label=t("export_to", lang)),
                "export_to",
            )
            exported = gr.Code(interactive=False)
    all_knobs = [w for c in columns for w in c["knobs"]]
    dropdowns = [c["preset"] for c in columns]
    save.click(
        calls.save_column_preset,
        [lang_state, source, name, description, overwrite, *all_knobs],
        [status, chosen, *dropdowns],
        api_visibility="private",
    )
    upload.upload(
        calls.upload_preset, [upload, overwrite, lang_state], [status, chosen, *dropdowns], api_name="upload_preset"
    )
    gr.on(
        [chosen.change, target.change],
        calls.show_preset,
        [chosen, target],
        [yaml_view, download, exported],
        api_visibility="private",
    )
    return chosen, source


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """'user:password', or a file with one 'user:password' per line."""
    if not value:
        return None
    lines = Path(value).read_text(encoding="utf-8").splitlines() if Path(value).is_file() else [value]
    pairs = [tuple(line.strip().split(":", 1)) for line in lines if line.strip() and not line.startswith("#")]
    if not pairs or any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
        raise ValueError("--auth: expected user:password, or a file with one user:password per line")
    return pairs  # type: ignore[return-value]


def serve(
    bench: Workbench,
    lang: str = "en",
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    auth: list[tuple[str, str]] | None = None,
    block: bool = True,
    say=print,
    upload_budget: int = UPLOAD_BUDGET,
) -> tuple[gr.Blocks, str, str | None]:
    """Launch the app; a share link that cannot be made is reported and the app keeps serving locally."""
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: any local client, the tunnel included,
    # could then pose as any address to the login backoff; trust a proxy only where the host says so
    os.environ.setdefault("FORWARDED_ALLOW_IPS", "")
    demo = build_app(bench, lang, shared=share)
    demo.queue(default_concurrency_limit=1, max_size=64)
    throttle = LoginThrottle()  # one for both launches below: failures before a retry still count

    def launch(with_share: bool) -> tuple[Any, str, str | None]:
        uploads = lambda: demo.upload_file_set  # noqa: E731
        guard = Middleware(RequestGuard, throttle=throttle, uploads=uploads, budget=upload_budget)
        return demo.launch(
            server_name=host,
            server_port=port,
            share=with_share,
            auth=auth,
            theme=THEME,
            css=CSS,
            quiet=True,
            max_file_size=UPLOAD_FILE_BYTES,
            prevent_thread_lock=True,
            show_error=False,
            app_kwargs={"middleware": [guard]},  # a new dict per launch: Gradio adds its own keys to it
            footer_links=["api"],
        )

    if share and not auth:
        say("!" * 72 + f"\n!! {t('share_warning', 'en')}\n!! Add --auth user:password to restrict it.\n" + "!" * 72)
    try:
        _, local_url, share_url = launch(share)
    except Exception as error:  # gradio raises various errors when the tunnel is unreachable
        if not share:
            raise
        say(f"Could not create a share link ({str(error).splitlines()[0]}); serving locally only.")
        _, local_url, share_url = launch(False)
    if share and not share_url:
        say("Could not create a share link (no internet connection?); serving locally only.")
    say(f"samplerlab is running at {local_url}" + (f" and {share_url}" if share_url else ""))
    if bench.shared:  # the one page that may start, reveal and download the group's blind test
        say(f"blind test host page (keep it to yourself): {local_url}?blind_host={host_key(bench)}")
    if block:
        demo.block_thread()
    return demo, local_url, share_url
