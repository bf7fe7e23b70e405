"""The terminal's questions about a result file: where two columns part (`explain`) and what other
settings would have done to a column's text (`replay`). Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import click

from .divergence import explain, pick_pair
from .explain_text import explanation
from .results import ResultError, load_result


@click.command("explain")
@click.argument("result", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("a")
@click.argument("b")
@click.option("--seed", type=int, default=None, help="Which seed's columns, when the run has several.")
@click.option("--prompt-index", type=int, default=None, help="Which prompt's columns (from 0), when several.")
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True)
@click.option("--width", type=click.IntRange(40, 10_000), default=100, show_default=True)
def explain_command(result: Path, a: str, b: str, seed: int | None, prompt_index: int | None, lang: str,
                    width: int) -> None:
    """Where columns A and B (labels) of RESULT part, and why: both chains' candidates at that token."""
    try:
        first, second = pick_pair(load_result(result)["columns"], a, b, seed, prompt_index)
    except (ResultError, ValueError) as error:
        raise click.ClickException(f"{result}: {error}" if not isinstance(error, ResultError) else str(error))
    click.echo(explanation(explain(first, second), lang, width))
