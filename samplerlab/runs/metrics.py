"""Numbers that describe a column's output, and how much they move between seeds.

Plain functions on plain sequences (token ids, probabilities), so they are the same
whether a column comes live from the engine or back from a result file. ``STATS``
declares every per-column statistic once: result files, the CLI table and the HTML
report all iterate it instead of naming statistics again.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ..events import ColumnResult, is_known, known


@dataclass(frozen=True)
class Stat:
    """One per-column statistic: its key in result files, a short heading and a number format."""

    name: str
    label: str
    fmt: str
    help: str


STATS: tuple[Stat, ...] = (
    Stat("tokens", "tokens", "{:.0f}", "Tokens generated."),
    Stat("tokens_per_second", "tok/s", "{:.1f}", "Generation speed of the column (wall clock, batched)."),
    Stat("mean_prob", "mean p", "{:.3f}", "Mean probability each token was drawn with, after the chain."),
    Stat("min_prob", "min p", "{:.3f}", "The least likely token drawn: how far the column strayed once."),
    Stat("mean_entropy", "entropy", "{:.2f}", "Mean entropy (nats) of the distribution each token was drawn from."),
    Stat("mean_survivors", "survivors", "{:.1f}", "Mean number of candidates left after truncation."),
    Stat("distinct_1", "distinct-1", "{:.3f}", "Unique tokens / tokens."),
    Stat("distinct_2", "distinct-2", "{:.3f}", "Unique token pairs / token pairs."),
    Stat("repeated_3grams", "rep-3", "{:.3f}", "Share of token triples that already occurred earlier."),
)
STAT_BY_NAME: Mapping[str, Stat] = {stat.name: stat for stat in STATS}
UNKNOWN = "?"  # how an unknown figure reads in a table


# Unknown probabilities (events.is_known) are left out of every mean and minimum, shown as unknown
# ("?", the grey "p unknown" bucket), and a column none of whose probabilities is known has None as its mean.
def shown(value: float | None, fmt: str = "{:.3f}") -> str:
    """A figure as a table shows it; unknown as ``UNKNOWN``."""
    return fmt.format(value) if is_known(value) else UNKNOWN


def mean_probability(probs: Sequence[float | None]) -> float | None:
    """Mean of the known probabilities tokens were drawn with; 0.0 for no tokens (nothing was likely),
    None when there were tokens but none's probability is known."""
    values = known(probs)
    return math.fsum(values) / len(values) if values else (None if probs else 0.0)


def min_probability(probs: Sequence[float | None]) -> float | None:
    values = known(probs)
    return min(values) if values else (None if probs else 0.0)


def ngrams(tokens: Sequence[Hashable], n: int) -> list[tuple[Hashable, ...]]:
    if n < 1:
        return [() for _ in range(len(tokens) + 1)]
    return list(zip(*(tokens[i:] for i in range(n))))  # the tuples tokens[i : i + n], built in C


def distinct_n(tokens: Sequence[Hashable], n: int) -> float:
    """Unique n-grams over all n-grams (Li et al. 2016); 0.0 when there is no n-gram at all."""
    grams = ngrams(tokens, n)
    return len(set(grams)) / len(grams) if grams else 0.0


def repeated_ngram_share(tokens: Sequence[Hashable], n: int = 3) -> float:
    """Share of n-gram positions whose n-gram already occurred earlier: loops score high, prose near 0."""
    seen: set[tuple[Hashable, ...]] = set()
    repeats = 0
    grams = ngrams(tokens, n)
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams) if grams else 0.0


def column_stats(column: ColumnResult) -> dict[str, Any]:
    """Every statistic of ``STATS`` for one column, plus how it ended."""
    ids = [token.token_id for token in column.tokens]
    probs = [token.prob for token in column.tokens]
    seen = [t for t in column.tokens if is_known(t.prob)]  # survivors and entropy exist where p does
    return {
        "tokens": len(ids),
        "tokens_per_second": column.tokens_per_second,
        "mean_prob": mean_probability(probs),
        "min_prob": min_probability(probs),
        "mean_entropy": mean_probability([t.entropy for t in seen]) if seen else (None if ids else 0.0),
        "mean_survivors": sum(t.survivors for t in seen) / len(seen) if seen else (None if ids else 0.0),
        "distinct_1": distinct_n(ids, 1),
        "distinct_2": distinct_n(ids, 2),
        "repeated_3grams": repeated_ngram_share(ids, 3),
        "finish_reason": column.finish_reason,
    }


def jaccard_distance(a: Sequence[Hashable], b: Sequence[Hashable], n: int = 2) -> float:
    """1 - |A∩B| / |A∪B| of the two texts' n-gram sets: 0 same phrasing, 1 nothing in common."""
    left, right = set(ngrams(a, n)), set(ngrams(b, n))
    union = left | right
    return 1.0 - len(left & right) / len(union) if union else 0.0


def seed_divergence(texts: Sequence[Sequence[Hashable]], n: int = 2) -> float | None:
    """Mean pairwise n-gram Jaccard distance between the seeds' outputs; None below two seeds.

    High divergence with low distinct-2 spread means the setting itself is diverse;
    one seed standing out in the spread but not here means that seed was lucky.
    """
    pairs = list(combinations(texts, 2))
    return math.fsum(jaccard_distance(a, b, n) for a, b in pairs) / len(pairs) if pairs else None


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and sample standard deviation (None for a single value: one seed shows no spread)."""
    return {
        "mean": statistics.fmean(values) if values else None,
        "std": statistics.stdev(values) if len(values) > 1 else None,
    }


def seed_summary(stats: Sequence[Mapping[str, Any]], texts: Sequence[Sequence[Hashable]]) -> dict[str, Any]:
    """The same column over several seeds: each statistic's spread, the seeds' divergence, how they ended."""
    summary: dict[str, Any] = {stat.name: spread(known([s[stat.name] for s in stats])) for stat in STATS}
    summary["seed_divergence"] = seed_divergence(texts)
    reasons: dict[str, int] = {}
    for s in stats:
        reasons[str(s["finish_reason"])] = reasons.get(str(s["finish_reason"]), 0) + 1
    summary["finish_reasons"] = reasons
    return summary
