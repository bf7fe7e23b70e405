"""`samplerlab run` (an experiment file, headless, into a result file; --check reruns one) and `samplerlab
report` (a result file as one HTML page). Parsing and printing only; runs.runner and report.page do the work."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from ..events import KEEP
from ..report.page import render_report, text_table
from ..runs.results import load_result
from ..runs.runner import check_result, opened_backend
from ..schema.load_settings import LoadSettings
from ..words.cli_words import say
from ..words.errors_ja import localize
from .common import USER_ERRORS, fail, lang_of, server_options
from .history import durable_run, store_options
from .output import echo


@click.command("run")
@click.argument("experiment", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Result file (default: runs/<name>-<UTC time>.yaml beside the experiment); never overwritten.",
)
@click.option(
    "--check",
    "check_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Instead: run a result file again from its recorded settings and compare token by token.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(0, 1_000_000),
    default=None,
    help="Override every column's max_tokens (a quick look; recorded in the result).",
)
@click.option("--model", "model_spec", default=None, help="Run on this .gguf instead of the experiment's model.")
@click.option(
    "--keep-candidates",
    type=click.IntRange(0, KEEP),
    default=0,
    show_default=True,
    metavar="K",
    help=f"Write each token's K most likely raw candidates (up to {KEEP}) into the result, so "
    "`samplerlab replay` can try other settings on it without the model.",
)
@click.option(
    "--resume",
    is_flag=False,
    flag_value="latest",
    default=None,
    metavar="[RUN_ID]",
    help="Go on with a killed or stopped run: EXPERIMENT's latest unfinished one, or run RUN_ID (samplerlab history).",
)
@store_options
@server_options
def run_command(
    experiment: Path | None,
    out: Path | None,
    check_path: Path | None,
    max_tokens: int | None,
    model_spec: str | None,
    keep_candidates: int,
    resume: str | None,
    store_file: Path | None,
    store_max_mib: int | None,
    servers: tuple[str, ...],
    api_key: str | None,
) -> None:
    """Run EXPERIMENT (a YAML file) headless, write a result file and print a table of the columns."""
    if check_path is not None:
        if experiment or out or max_tokens is not None or model_spec:
            raise click.UsageError(
                "--check takes only the result file (and --server); it reruns exactly what was recorded"
            )
        _check(check_path, servers, api_key)
        return
    if experiment is None and resume in (None, "latest"):
        raise click.UsageError("give an EXPERIMENT file, or --check RESULT, or --resume RUN_ID")
    try:
        document, target = durable_run(
            experiment,
            resume,
            out,
            max_tokens,
            model_spec,
            keep_candidates,
            servers,
            api_key,
            store_file,
            store_max_mib,
        )
    except USER_ERRORS as error:
        fail(error)
    lang = lang_of()
    echo(text_table(document, lang))
    for note in document.get("notes", ()):
        echo(say("note", lang, note=localize(note, lang)))
    echo(say("wrote", lang, path=target))


def _check(path: Path, servers: Sequence[str], api_key: str | None) -> None:
    try:
        document = load_result(path)
        load = LoadSettings(document["load"], source="load")
        with opened_backend(document["model"]["spec"], load, servers, api_key) as backend:
            outcome = check_result(backend, document)
    except (KeyError, TypeError) as error:
        fail(ValueError(f"{path}: not a samplerlab result file (missing {error})"))
    except USER_ERRORS as error:
        fail(error)
    echo(localize(outcome.describe(), lang_of()))
    if not outcome.reproduced:
        raise SystemExit(1)


@click.command("report")
@click.argument("result", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML file (default: the result file with .html).",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "ja"]),
    default="en",
    show_default=True,
    help="Language of the report's headings, labels and explanations.",
)
def report_command(result: Path, out: Path | None, lang: str) -> None:
    """Write a self-contained HTML report of a RESULT file: columns side by side, where they part, stats and
    sweep charts."""
    target = out or result.with_suffix(".html")
    lang = lang_of()  # `samplerlab --lang ja report` too
    try:
        target.write_text(render_report(load_result(result), lang), encoding="utf-8")
    except USER_ERRORS as error:
        fail(error)
    echo(say("wrote", lang, path=target))
