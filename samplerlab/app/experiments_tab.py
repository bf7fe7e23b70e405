"""The app's Experiments tab: open an experiment file, run it, read its report; save a comparison as one.

It calls exactly what ``samplerlab run`` calls (``comparisons.run_file``, through ``stream_file``),
so a result file from the app and one from the CLI agree, timings aside. The app's model is reused
when the file names it; Stop ends the session's run between steps.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ..presets.store import PresetError, read_small_text
from ..report.page import progress_html, render_report
from ..runs.comparisons import ExperimentStopped, Finished, save_comparison, stream_file
from ..runs.experiments import EMBEDDED, Experiment, ExperimentError, load_experiment
from ..runs.progress import SHOW_FROM, Progress
from ..runs.recording import Recorder
from ..runs.results import ResultError
from ..words.errors_ja import localize
from ..words.i18n import t
from .workbench import USER_ERRORS, Workbench

ERRORS = (*USER_ERRORS, ExperimentError, ResultError, OSError)


class ExperimentCallbacks:
    def __init__(self, bench: Workbench, shared: bool) -> None:
        self.bench = bench
        self.shared = shared or bench.shared

    def names(self) -> list[str]:
        return sorted(path.stem for path in self.bench.experiments_dir.glob("*.yaml"))

    def _path(self, name: str) -> Path:
        """Only files in the experiments folder, by stem: a browser never names a path."""
        if name not in self.names():
            raise ExperimentError(f"unknown experiment {name!r}")
        return self.bench.experiments_dir / f"{name}.yaml"

    def show(self, name: str | None) -> str:
        try:
            return read_small_text(self._path(name)) if name else ""
        except (*ERRORS, PresetError) as error:
            return f"# {self.bench.message(error)}"

    def experiment(self, name: str) -> Experiment:
        experiment = load_experiment(self._path(name))
        if self.bench.model is None:  # the app runs on llama-servers: so do its experiments
            return experiment
        if self.shared and experiment.model != EMBEDDED:
            raise ExperimentError("while shared, experiments run on the embedded model only")
        return experiment

    def stop(self, request: gr.Request) -> None:
        self.bench.cancel(request.session_hash)

    def run(
        self, name: str, max_tokens: str | int | None, request: gr.Request, lang: str = "en"
    ) -> Iterator[list[Any]]:
        """Run the chosen file as the CLI would, showing each column as it finishes, then the report;
        a run of SHOW_FROM generations or more shows its progress (done/total, tokens/s, time left).
        Recorded in the run store as `samplerlab run` records it."""
        done: list[Any] = []
        notes: list[str] = []
        runs = 0
        try:
            # The session's one place, as every model event takes it; entered first, so a refusal frees it
            # too. Then its turn among the page's runs (Workbench.turns): the time limit counts from there.
            with self.bench.session_run(request.session_hash) as cancel:
                experiment, options = self.bench.experiment_run(
                    self.experiment(name), tokens_override(max_tokens), notes
                )
                runs = experiment.runs
                progress = Progress(runs)
                options["recorder"] = Recorder(self.bench.store, notes.append, request.session_hash)
                with self.bench.turns.take(cancel) as ours, self.bench.deadline(cancel, notes):
                    if not ours:
                        raise ExperimentStopped(f"{experiment.source}: stopped before it started")
                    for item in stream_file(experiment, cancel, **options):
                        if not isinstance(item, Finished):
                            done.append(item)
                            progress.add(item)
                        line = progress.line(lang) if runs >= SHOW_FROM else None
                        yield _outputs(item, done, runs, self.bench, notes, line, lang)
        except ExperimentStopped as error:
            stopped = self.bench.message(error, lang)
            yield [_with_notes(stopped, notes, lang), progress_html(done, runs, lang), None]
        except ERRORS as error:
            raise gr.Error(self.bench.message(error, lang), print_exception=False) from None

    def save(self, name: str, lang: str, request: gr.Request) -> str:
        """The session's last comparison, outputs included, as an experiment file and its result."""
        if self.shared:
            return t("no_save_shared", lang)
        last = self.bench.last(request.session_hash)
        if last.request is None or not name.strip():
            return t("run_first", lang)
        if last.backend is None:  # a reopened run made on a model not loaded now
            return t("history_other_model", lang)
        try:
            experiment, result = save_comparison(
                name.strip(), last.request, last.columns, last.backend, self.bench.experiments_dir, last.rendered
            )
        except ERRORS as error:
            return f"✗ {self.bench.message(error, lang)}"
        return t("saved_experiment", lang).format(experiment=experiment.name, result=result.name)


def tokens_override(raw: str | int | None) -> int | None:
    """The tab's max-tokens field: empty keeps each column's own (the file's), a whole number replaces it, and
    0 means what it means everywhere else, until the context is full. A text field, since Gradio's number
    field cannot be empty: it shows 0 for nothing, which read as "until the context is full"."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):  # no sign, point, exponent or other script's digits
        raise ExperimentError(
            f"max tokens: expected a whole number, 0 or more (0: until the context is full), "
            f"or nothing for the file's own; got {text!r}"
        )
    return int(text)


def _outputs(
    item: Any,
    done: list[Any],
    runs: int,
    bench: Workbench,
    notes: list[str],
    line: str | None = None,
    lang: str = "en",
) -> list[Any]:
    """Status, the HTML panel and the result file: the finished columns so far (with ``line``, the progress
    of a long run), or at the end the report."""
    if isinstance(item, Finished):
        download = bench.download(item.path.name, item.path.read_text(encoding="utf-8"))
        return [_with_notes(f"✓ {item.path.name}", notes, lang), report_frame(item.document, lang), download]
    status = line or t("progress_done", lang).format(done=len(done), total=runs)
    return [_with_notes(status, notes, lang), progress_html(done, runs, lang), None]


def _with_notes(status: str, notes: list[str], lang: str = "en") -> str:
    """The status line, then the run's notes (a shared app's limits, the run store's), in ``lang``."""
    return "  \n".join([status, *(localize(note, lang) for note in notes)])


def report_frame(document: dict, lang: str = "en") -> str:
    """The self-contained report inside a sandboxed iframe, so its styles and scripts stay its own."""
    return (
        f'<iframe sandbox="allow-scripts" style="width:100%;height:900px;border:1px solid #ddd" '
        f'srcdoc="{html.escape(render_report(document, lang), quote=True)}"></iframe>'
    )


def experiments_panel(bench: Workbench, lang: str, shared: bool, labels, lang_state: gr.State) -> None:
    calls = ExperimentCallbacks(bench, shared)
    with gr.Row():
        with gr.Column(scale=1):
            choice = labels.add(
                gr.Dropdown(
                    calls.names(),
                    value="led-poem" if "led-poem" in calls.names() else None,
                    label=t("experiment_file", lang),
                    elem_id="experiment",
                ),
                "experiment_file",
            )
            limit = labels.add(
                gr.Textbox(
                    "",
                    label=t("max_tokens_override", lang),
                    max_lines=1,
                    elem_id="experiment-max-tokens",
                ),
                "max_tokens_override",
            )
            with gr.Row():
                run = labels.add(
                    gr.Button(t("run_experiment", lang), variant="primary", elem_id="run-experiment"), "run_experiment"
                )
                stop = labels.add(gr.Button(t("stop_run", lang), elem_id="stop-experiment"), "stop_run")
            status = labels.note(gr.Markdown(elem_id="experiment-status"))
            result = labels.add(gr.File(label=t("result_file", lang), interactive=False), "result_file")
            name = labels.add(
                gr.Textbox(label=t("save_comparison", lang), elem_id="comparison-name"), "save_comparison"
            )
            save = labels.add(gr.Button(t("save_experiment", lang), elem_id="save-comparison"), "save_experiment")
            saved = labels.note(gr.Markdown(elem_id="comparison-status"))
        with gr.Column(scale=2):
            source = labels.add(
                gr.Code(
                    calls.show(choice.value), language="yaml", interactive=False, label=t("experiment_source", lang)
                ),
                "experiment_source",
            )
    report = gr.HTML(elem_id="experiment-report")
    choice.change(calls.show, choice, source, api_visibility="private")
    # Started at once: its first step refuses a session that already has a run (Workbench.session_run).
    run.click(
        calls.run,
        [choice, limit, lang_state],
        [status, report, result],
        concurrency_limit=None,
        api_name="run_experiment",
    )
    stop.click(calls.stop, None, None, queue=False, api_visibility="private")
    save.click(calls.save, [name, lang_state], saved, api_visibility="private").then(
        lambda: gr.update(choices=calls.names()), None, choice, queue=False, api_visibility="private"
    )
