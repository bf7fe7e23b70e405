"""`samplerlab stats RESULT`: what each column does across its seeds, with intervals, and which columns
differ beyond seed noise. Parsing and printing only; the numbers come from runs.stats."""

from __future__ import annotations

from pathlib import Path

import click

from ..report.render import display_width
from ..runs.results import ResultError, load_result
from ..runs.stats import StatsError, across_seeds
from ..runs.verdicts import stats_lines
from .common import fail, lang_of
from .output import echo


@click.command("stats")
@click.argument("result", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--baseline", default=None, metavar="LABEL", help="Compare every column with this one only.")
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True)
def stats_command(result: Path, baseline: str | None, lang: str) -> None:
    """Each figure of each column of RESULT over its seeds, with a 95% bootstrap interval, and the paired
    tests between columns (Holm-adjusted) as one verdict line each."""
    lang = lang_of()  # the command's --lang, else `samplerlab --lang ja stats`
    try:
        report = across_seeds(load_result(result, alternatives=False)["columns"], baseline)
    except (ResultError, StatsError) as error:
        fail(error if isinstance(error, ResultError) else ValueError(f"{result}: {error}"), lang)
    echo("\n".join(stats_lines(report, lang, display_width)))
