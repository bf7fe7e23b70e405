"""`samplerlab history` and the run store's side of `samplerlab run`: recording, --resume, progress.

Parsing and printing only; the store, resuming and the progress arithmetic are the library's
(runs.store, runs.durable, runs.progress).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from ..events import ColumnResult
from ..report.render import display_width, pad, visible
from ..runs.comparisons import run_file
from ..runs.durable import find_resumption, stored_document
from ..runs.experiments import load_experiment
from ..runs.listing import HEADINGS, history_rows
from ..runs.progress import Progress
from ..runs.recording import Recorder
from ..runs.results import result_text, write_new
from ..runs.store import MAX_MIB_ENV, STORE_ENV, RunRow, RunStore, StoreError
from ..words.cli_words import CLI_WORDS, say
from ..words.errors_ja import localize
from ..words.history_words import status_words
from ..words.i18n import t
from .common import fail, lang_of
from .output import echo

LATEST = "latest"


def store_options(function):
    """--store and --store-max-mib, on every command that records or reads runs."""
    function = click.option(
        "--store",
        "store_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar=STORE_ENV,
        help="The run store file (default: $XDG_DATA_HOME/samplerlab/runs.sqlite, else ~/.local/share/...).",
    )(function)
    return click.option(
        "--store-max-mib",
        type=click.IntRange(1, 1 << 30),
        default=None,
        envvar=MAX_MIB_ENV,
        help="Drop the oldest runs beyond this size (default 2048 MiB).",
    )(function)


def open_store(store_file: Path | None, max_mib: int | None, required: bool = False) -> RunStore | None:
    """The store, or None with one line on stderr: a run goes on unrecorded rather than not at all."""
    try:
        return RunStore.open(store_file, max_mib)
    except StoreError as error:
        if required:
            raise
        lang = lang_of()
        echo(say("note", lang, note=say("not_recorded", lang, error=localize(str(error), lang))), err=True)
        return None


def app_store(store_file: Path | None, max_mib: int | None) -> dict[str, Any]:
    """The app's store (Workbench fields): its page runs are recorded, or the History tab says why not."""
    try:
        return {"store": RunStore.open(store_file, max_mib)}
    except StoreError as error:
        lang = lang_of()
        echo(say("note", lang, note=say("app_not_recorded", lang, error=localize(str(error), lang))), err=True)
        return {"store": None, "store_error": str(error)}


class ProgressLine:
    """Generations done/total, tokens/s and time left, redrawn on one stderr line while it is a terminal."""

    def __init__(self, progress: Progress, stream: TextIO | None = None, lang: str = "en") -> None:
        self.progress, self.lang = progress, lang
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()

    def add(self, result: ColumnResult) -> None:
        if result.finish_reason == "cancelled":
            return
        self.progress.add(result)
        if self.live:
            self.stream.write(f"\r{self.progress.line(self.lang)}\x1b[K")
            self.stream.flush()

    def __enter__(self) -> ProgressLine:
        if self.live:
            self.stream.write(self.progress.line(self.lang))
            self.stream.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def durable_run(
    experiment: Path | None,
    resume: str | None,
    out: Path | None,
    max_tokens: int | None,
    model_spec: str | None,
    keep_candidates: int,
    servers: Sequence[str],
    api_key: str | None,
    store_file: Path | None,
    store_max_mib: int | None,
) -> tuple[dict[str, Any], Path]:
    """`samplerlab run`: a fresh run recorded in the store, or (--resume) a stored run carried on."""
    lang = lang_of()
    note = lambda line: echo(say("note", lang, note=localize(line, lang)), err=True)  # noqa: E731
    if resume is not None:
        if max_tokens is not None or model_spec or keep_candidates:
            raise click.UsageError(
                "--resume goes on with the run's recorded settings: drop --max-tokens, --model and --keep-candidates"
            )
        store = open_store(store_file, store_max_mib, required=True)
        assert store is not None
        resumption = find_resumption(store, None if resume == LATEST else _run_id(resume), experiment)
        progress = Progress(resumption.experiment.runs, done=len(resumption.done))
        with ProgressLine(progress, lang=lang) as line, _stopped_hint(resumption.row.id):
            return resumption.run(out, line.add, servers=servers, api_key=api_key, say=note)
    assert experiment is not None
    loaded = load_experiment(experiment)
    recorder = Recorder(open_store(store_file, store_max_mib), note)
    with ProgressLine(Progress(loaded.runs), lang=lang) as line, _stopped_hint(recorder):
        return run_file(
            loaded,
            out,
            max_tokens,
            model_spec,
            on_done=line.add,
            servers=servers,
            api_key=api_key,
            keep_candidates=keep_candidates,
            recorder=recorder,
        )


class _stopped_hint:  # noqa: N801 - used as a context manager, like contextlib's
    """On Ctrl-C: how to go on, then exit 130 as a shell expects of an interrupted command."""

    def __init__(self, run: int | Recorder) -> None:
        self.run = run

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if kind is not KeyboardInterrupt:
            return
        run_id = self.run if isinstance(self.run, int) else self.run.run_id
        if run_id is not None:
            echo("\n" + say("stopped_resume", lang_of(), run_id=run_id), err=True)
        raise SystemExit(130)


def _run_id(text: str) -> int:
    if not text.isdecimal():
        raise click.UsageError(
            f"--resume: expected a run id (a number, see samplerlab history) or nothing, got {text!r}"
        )
    return int(text)


# -- samplerlab history ------------------------------------------------------------------------
def history_lines(rows: Sequence[RunRow], lang: str = "en") -> list[str]:
    """One aligned line per run under a heading line; display widths keep Japanese prompts in line."""
    table = [_headings(lang), *_worded(history_rows(rows), lang)]
    widths = [max(display_width(cells[i]) for cells in table) for i in range(len(HEADINGS) - 1)]
    return [
        ("  ".join(pad(cell, widths[i]) for i, cell in enumerate(cells[:-1])) + "  " + cells[-1]).rstrip()
        for cells in table
    ]


@click.group("history", invoke_without_command=True)
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=20, show_default=True, help="How many runs, newest first."
)
@store_options
@click.pass_context
def history_command(context: click.Context, limit: int, store_file: Path | None, store_max_mib: int | None) -> None:
    """List recent runs (newest first), from the run store; `history export RUN_ID` writes one as a result file."""
    context.obj = {"store": store_file, "max": store_max_mib}
    if context.invoked_subcommand is not None:
        return
    try:
        rows = RunStore.open(store_file, store_max_mib).runs(limit)
    except StoreError as error:
        fail(error)
    lang = lang_of()
    if not rows:
        echo(say("no_runs", lang))
        return
    for line in history_lines(rows, lang):
        echo(visible(line))


@history_command.command("export")
@click.argument("run_id", type=int)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The result file to write (never overwritten).",
)
@store_options
@click.pass_context
def history_export(
    context: click.Context, run_id: int, out: Path, store_file: Path | None, store_max_mib: int | None
) -> None:
    """Write run RUN_ID as a result file, which `samplerlab run --check` and `samplerlab report` read."""
    parent = context.obj or {}
    try:
        store = RunStore.open(store_file or parent.get("store"), store_max_mib or parent.get("max"))
        document, notes = stored_document(store, run_id)
        written = write_new(out, result_text(document))
    except (StoreError, ValueError, OSError) as error:
        fail(error)
    lang = lang_of()
    for note in notes:
        echo(say("note", lang, note=localize(note, lang)), err=True)
    echo(say("wrote", lang, path=written))


# English headings are the listing's own (runs.listing); Japanese ones are the History tab's
HEADING_WORDS = ("history_id", "history_time", "history_status", "history_done", "history_columns",
                 "history_seeds", "history_model", "history_prompt")  # fmt: skip


def _headings(lang: str) -> list[str]:
    if lang == "en":
        return list(HEADINGS)
    return [say(key, lang) if key in CLI_WORDS else t(key, lang) for key in HEADING_WORDS]


def _worded(rows: list[list[str]], lang: str) -> list[list[str]]:
    """The status cell (third) in ``lang``; the rest are numbers, times, a model's name and a prompt."""
    if lang == "en":
        return rows
    return [[*row[:2], status_words(row[2], lang), *row[3:]] for row in rows]
