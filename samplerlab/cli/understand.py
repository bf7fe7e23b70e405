"""The terminal's questions about a result file: where two columns part (`explain`) and what other
settings would have done to a column's text (`replay`). Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import click

from ..report.explain_text import explanation, replay_text
from ..report.tokens import readable_parting
from ..runs.results import ResultError, load_result
from ..schema.assignments import parse_assignments
from ..schema.params import SettingsError
from ..understand.divergence import explain, pick_pair, pick_record
from .common import fail, lang_of
from .output import echo


@click.command("explain")
@click.argument("result", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("a")
@click.argument("b")
@click.option("--seed", type=int, default=None, help="Which seed's columns, when the run has several.")
@click.option("--prompt-index", type=int, default=None, help="Which prompt's columns (from 0), when several.")
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True)
@click.option("--width", type=click.IntRange(40, 10_000), default=100, show_default=True)
def explain_command(
    result: Path, a: str, b: str, seed: int | None, prompt_index: int | None, lang: str, width: int
) -> None:
    """Where columns A and B (labels) of RESULT part, and why: both chains' candidates at that token."""
    lang = lang_of()  # the command's --lang, else `samplerlab --lang ja explain`
    try:
        first, second = pick_pair(load_result(result)["columns"], a, b, seed, prompt_index)
    except (ResultError, ValueError) as error:
        fail(error if isinstance(error, ResultError) else ValueError(f"{result}: {error}"), lang)
    echo(explanation(explain(*readable_parting(first, second)), lang, width))


@click.command("replay")
@click.argument("result", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--column", "label", required=True, help="The column (label) whose text is replayed.")
@click.option(
    "--set",
    "changes",
    required=True,
    metavar="NAME=VALUE,...",
    help="The other settings, e.g. top_p=0.5,min_p=0 (on top of the column's own).",
)
@click.option("--seed", type=int, default=None, help="Which seed's column, when the run has several.")
@click.option("--prompt-index", type=int, default=None, help="Which prompt's column (from 0), when several.")
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True)
def replay_command(
    result: Path, label: str, changes: str, seed: int | None, prompt_index: int | None, lang: str
) -> None:
    """What other settings would have done to a column's text, token by token, without the model."""
    # imported here, not at the top, so that importing this module does not load llama.cpp
    from ..understand.whatif import WhatIfError, prompt_ids_of, replay_record

    lang = lang_of()
    try:
        document = load_result(result)
        record = pick_record(document["columns"], label, seed, prompt_index)
        what = replay_record(
            record,
            parse_assignments(changes, "--set"),
            prompt_ids_of(document, record.get("prompt_index", 0)),
            (document.get("load") or {}).get("n_ctx", 2048),
        )
    except (ResultError, WhatIfError, SettingsError, ValueError) as error:
        fail(error if isinstance(error, ResultError) else ValueError(f"{result}: {error}"), lang)
    echo(replay_text(what, lang))
