"""How sure a comparison is: every figure of every column with a 95% bootstrap interval over its seeds, and a
paired permutation test between columns on the seeds they share, corrected for the number of tests.

The unit is a run: one prompt and seed. A column's figure is the mean over its runs; its interval is the
percentile bootstrap of that mean (scipy.stats.bootstrap's, fixed random_state, so the same result file
always prints the same numbers). Two columns run on the same prompts and seeds are paired by run: the
test permutes which column each run's two values belong to (scipy.stats.permutation_test's,
permutation_type="samples" on the differences, two-sided, their mean as statistic: exact when 2**n
arrangements fit in the resamples). Both are computed as scipy does, with its random draws, drawn once
per sample size (runs.resampling): a 1,000-generation report takes a second instead of ten. The
p-values of every test in one report are Holm-adjusted together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

import numpy as np

from . import resampling
from .figures import FIGURE_BY_NAME, FIGURES, SEED_FIGURES, TEXT_FIGURES, perplexity_of, token_ids

Record = Mapping[str, Any]
Run = tuple[int, int]  # (prompt index, seed)
CONFIDENCE = 0.95
RESAMPLES = 9_999
RANDOM_STATE = 0
EXACT_UP_TO = int(math.log2(RESAMPLES + 1))  # 13 shared runs: 8,192 arrangements, all of them
ALPHA = 0.05
ALL_PAIRS_UP_TO = 6  # columns; beyond, each column is compared with the first (or the chosen baseline)
MAX_RECORDS = 20_000  # generations one report reads: a 1,000-generation result is far within
MAX_SEEDS_PER_GROUP = 512  # seeds of one column and prompt compared pairwise


class StatsError(ValueError):
    """A result the statistics cannot use; one line naming what is wrong."""


@dataclass(frozen=True)
class Estimate:
    """A figure of one column: the mean over its runs with its 95% interval, and each run's value."""

    center: float | None
    low: float | None
    high: float | None
    runs: tuple[Run, ...]
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class ColumnStats:
    label: str
    runs: tuple[Run, ...]
    endings: Mapping[str, int]
    figures: Mapping[str, Estimate]


@dataclass(frozen=True)
class Comparison:
    """One figure of two columns over their shared runs: how often ``a`` was above ``b``, and the test."""

    a: str
    b: str
    figure: str
    n: int
    above: int
    below: int
    difference: float  # mean of a - b
    p: float
    adjusted: float = 1.0

    @property
    def differs(self) -> bool:
        return self.adjusted < ALPHA


@dataclass(frozen=True)
class StatsReport:
    columns: tuple[ColumnStats, ...]
    comparisons: tuple[Comparison, ...]
    unpaired: tuple[tuple[str, str], ...]
    prompts: int
    generations: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def unit_is_seed(self) -> bool:
        return self.prompts == 1


# -- intervals and tests -------------------------------------------------------------------------
def interval(values: Sequence[float]) -> tuple[float | None, float | None, float | None]:
    """The mean and its 95% percentile-bootstrap interval; no interval below two values, and a point
    interval when every value is the same (the bootstrap cannot spread what does not vary)."""
    if not values:
        return None, None, None
    data = np.asarray(values, dtype=float)
    center = float(data.mean())
    if len(data) < 2:
        return center, None, None
    if np.all(data == data[0]):
        return center, center, center
    low, high = resampling.percentile_interval(data, RESAMPLES, RANDOM_STATE, CONFIDENCE)
    return center, low, high


def paired_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p of a paired permutation test of the mean difference: each run's pair may be swapped, which
    flips the sign of its difference (scipy's one-sample form of permutation_type="samples", the same p as
    permuting the pairs and half the work); exact (every one of the 2**n arrangements) up to EXACT_UP_TO pairs."""
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if np.all(differences == 0):
        return 1.0
    return resampling.sign_flip_p(differences, RESAMPLES, RANDOM_STATE)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment (Holm 1979): the i-th smallest p times (m - i), made non-decreasing,
    at most 1; it bounds the chance of any false 'differs' among all tests at ALPHA."""
    order = np.argsort(pvalues, kind="stable")
    m = len(pvalues)
    stepped = np.maximum.accumulate([min(1.0, (m - rank) * pvalues[i]) for rank, i in enumerate(order)])
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return [float(p) for p in adjusted]


# -- from records ----------------------------------------------------------------------------------
def _by_label(records: Sequence[Record]) -> dict[str, dict[Run, Record]]:
    if not records:
        raise StatsError("no columns to compare")
    if len(records) > MAX_RECORDS:
        raise StatsError(f"{len(records)} generations; statistics read at most {MAX_RECORDS}")
    columns: dict[str, dict[Run, Record]] = {}
    for index, record in enumerate(records):
        run = (int(record.get("prompt_index", 0)), int(record["seed"]))
        runs = columns.setdefault(record["label"], {})
        if run in runs:
            raise StatsError(
                f"columns[{index}]: column {record['label']!r} appears twice on prompt {run[0]}, seed {run[1]}; "
                "labels must tell the columns apart"
            )
        runs[run] = record
    if all(len(runs) < 2 for runs in columns.values()):
        seeds = sorted({run[1] for runs in columns.values() for run in runs})
        raise StatsError(
            f"every column ran on one seed ({', '.join(map(str, seeds[:3]))}); statistics across seeds need at "
            "least 2 (run it with seeds: [0, 1, ...], or compare --seeds N)"
        )
    return columns


def _values(runs: Mapping[Run, Record]) -> dict[str, dict[Run, float]]:
    """Every figure's value on every run of one column (runs whose figure is unknown left out)."""
    values: dict[str, dict[Run, float]] = {figure.name: {} for figure in FIGURES}
    for run, record in runs.items():
        for name, of in TEXT_FIGURES.items():
            value = of(record)
            if value is not None and math.isfinite(value):
                values[name][run] = value
    prompts = sorted({run[0] for run in runs})
    for prompt in prompts:
        group = sorted(run for run in runs if run[0] == prompt)
        if len(group) > MAX_SEEDS_PER_GROUP:
            raise StatsError(f"{len(group)} seeds on prompt {prompt}; statistics compare at most {MAX_SEEDS_PER_GROUP}")
        texts = [token_ids(runs[run]) for run in group]
        for name, of_set in SEED_FIGURES.items():
            for run, value in zip(group, of_set(texts)):
                if value is not None:
                    values[name][run] = value
    return values


def _column(label: str, runs: Mapping[Run, Record], values: Mapping[str, Mapping[Run, float]]) -> ColumnStats:
    estimates = {}
    for figure in FIGURES:
        if figure.name == "perplexity":
            continue
        ordered = sorted(values[figure.name])
        points = [values[figure.name][run] for run in ordered]
        estimates[figure.name] = Estimate(*interval(points), tuple(ordered), tuple(points))
    logprob = estimates["mean_logprob"]  # perplexity is its transform; its interval transforms with it
    perplexity = values["perplexity"]
    estimates["perplexity"] = Estimate(
        perplexity_of(logprob.center),
        perplexity_of(logprob.high),
        perplexity_of(logprob.low),
        tuple(sorted(perplexity)),
        tuple(perplexity[run] for run in sorted(perplexity)),
    )
    endings: dict[str, int] = {}
    for record in runs.values():
        endings[str(record["finish_reason"])] = endings.get(str(record["finish_reason"]), 0) + 1
    return ColumnStats(label, tuple(sorted(runs)), dict(sorted(endings.items())), estimates)


def _pairs(labels: Sequence[str], baseline: str | None) -> list[tuple[str, str]]:
    if baseline is not None:
        if baseline not in labels:
            raise StatsError(f"--baseline {baseline!r}: no such column; columns: {', '.join(map(repr, labels[:8]))}")
        return [(label, baseline) for label in labels if label != baseline]
    if len(labels) <= ALL_PAIRS_UP_TO:
        return [(b, a) for a, b in combinations(labels, 2)]  # the later column against the earlier
    return [(label, labels[0]) for label in labels[1:]]


def _compare(a: str, b: str, values: Mapping[str, Mapping[str, Mapping[Run, float]]]) -> list[Comparison]:
    found = []
    for figure in FIGURES:
        if not figure.tested:
            continue
        left, right = values[a][figure.name], values[b][figure.name]
        shared = sorted(set(left) & set(right))
        if len(shared) < 2:
            continue
        x, y = [left[r] for r in shared], [right[r] for r in shared]
        found.append(
            Comparison(
                a,
                b,
                figure.name,
                len(shared),
                sum(p > q for p, q in zip(x, y)),
                sum(p < q for p, q in zip(x, y)),
                math.fsum(p - q for p, q in zip(x, y)) / len(shared),
                paired_p(x, y),
            )
        )
    return found


def across_seeds(records: Sequence[Record], baseline: str | None = None) -> StatsReport:
    """Every column's figures with their intervals, and every tested pair's comparisons (Holm-adjusted).

    A hostile file's huge numbers make means of inf, shown as such, without numpy's warnings on stderr."""
    with np.errstate(all="ignore"):
        return _across_seeds(records, baseline)


def _across_seeds(records: Sequence[Record], baseline: str | None) -> StatsReport:
    columns = _by_label(records)
    values = {label: _values(runs) for label, runs in columns.items()}
    summaries = tuple(_column(label, runs, values[label]) for label, runs in columns.items())
    comparisons: list[Comparison] = []
    unpaired: list[tuple[str, str]] = []
    for a, b in _pairs(list(columns), baseline):
        if len(set(columns[a]) & set(columns[b])) < 2:
            unpaired.append((a, b))
            continue
        comparisons += _compare(a, b, values)
    adjusted = holm([c.p for c in comparisons]) if comparisons else []
    comparisons = [_with_adjusted(c, p) for c, p in zip(comparisons, adjusted)]
    prompts = len({run[0] for runs in columns.values() for run in runs})
    return StatsReport(summaries, tuple(comparisons), tuple(unpaired), prompts, len(records))


def _with_adjusted(comparison: Comparison, adjusted: float) -> Comparison:
    return replace(comparison, adjusted=adjusted)


__all__ = ["FIGURE_BY_NAME", "StatsError", "StatsReport", "across_seeds", "holm", "interval", "paired_p"]
