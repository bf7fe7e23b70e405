"""`samplerlab compare --seeds N|LIST`: every column on the same seeds, columns x seeds in batches as large as
the backend runs, then the first seed side by side and the statistics across seeds. Parsing and printing only."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ..backends import Backend
from ..events import Column, Request, RunResult
from ..report.render import display_width, side_by_side
from ..runs.experiments import MAX_SEEDS, SEED
from ..runs.seeded import run_on_seeds, seed_list
from ..runs.stats import across_seeds
from ..runs.verdicts import stats_lines
from ..schema.params import KNOB_BY_NAME, coerce
from ..words.cli_words import say
from .common import lang_of
from .output import echo


def parse_seeds(text: str, first: int) -> list[int]:
    """'16' is 16 seeds from --seed on (drawn at random when --seed is -1); '0,1,2' is those seeds."""
    parts = [part.strip() for part in text.split(",")]
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise click.UsageError(f"--seeds {text!r}: expected a count (16) or a list of seeds (0,1,2)") from None
    if len(numbers) == 1:
        count = numbers[0]
        if not 1 <= count <= MAX_SEEDS:
            raise click.UsageError(f"--seeds {count}: expected 1 to {MAX_SEEDS} seeds")
        seeds = seed_list(first, count)
    else:
        seeds = numbers
    if len(seeds) > MAX_SEEDS or len(set(seeds)) != len(seeds):
        raise click.UsageError(f"--seeds: expected at most {MAX_SEEDS} different seeds, got {len(seeds)}")
    for seed in seeds:
        coerce(KNOB_BY_NAME[SEED], seed, "--seeds")  # out of the seed's range: the schema's one line
    return seeds


def compare_seeds(
    backend: Backend, request: Request, columns: Sequence[Column], seeds: Sequence[int], width: int | None
) -> None:
    """Run columns x seeds in the backend's batches; print the first seed's columns and the statistics."""
    info: dict = {}
    lang = lang_of()
    label = say("generating", lang)
    with click.progressbar(length=len(columns) * len(seeds), label=label, file=sys.stderr) as bar:
        results, records = run_on_seeds(backend, request, columns, seeds, on_done=lambda _: bar.update(1), info=info)
    first = RunResult.of(info, results[: len(columns)])
    echo(say("seed_of", lang, seed=seeds[0], n=len(seeds), seeds=", ".join(map(str, seeds))))
    echo(side_by_side(first, width, lang))
    echo("")
    echo("\n".join(stats_lines(across_seeds(records), lang, display_width)))
