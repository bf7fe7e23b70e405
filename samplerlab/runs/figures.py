"""The figures of a generated text that the statistics across seeds estimate, each as the papers define it.

Each figure is a number per generation (one column on one prompt and seed). Text figures read the
generation alone; seed figures read it against the other seeds' generations of the same column and
prompt (self-BLEU, the n-gram distance, where they part), so they too have one value per seed and
can be bootstrapped and paired like the rest. N-grams are of token ids, so they work the same for
English and Japanese, which has no spaces to split words at.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..events import is_known
from .metrics import distinct_n, ngrams

Record = Mapping[str, Any]
BLEU_ORDER = 3  # Texygen's SelfBleu default (gram=3), uniform weights
BLEU_EPSILON = 0.1  # NLTK's SmoothingFunction().method1, which Texygen uses
DISTANCE_N = 2  # metrics.jaccard_distance's n: token pairs


@dataclass(frozen=True)
class Figure:
    """One figure: its key, how it is printed, and whether a text alone or a text among its seeds gives it.

    ``tested`` is False for a figure that is another's transform (perplexity is exp(-mean log-probability)):
    testing both would count one difference twice against the correction."""

    name: str
    fmt: str
    across_seeds: bool = False
    tested: bool = True


FIGURES: tuple[Figure, ...] = (
    Figure("tokens", "{:.1f}"),
    Figure("length_share", "{:.2f}"),
    Figure("mean_logprob", "{:.3f}"),
    Figure("perplexity", "{:.2f}", tested=False),
    Figure("mean_entropy", "{:.3f}"),
    Figure("mean_survivors", "{:.1f}"),
    Figure("distinct_2", "{:.3f}"),
    Figure("rep_3", "{:.3f}"),
    Figure("diversity", "{:.3f}"),
    Figure("self_bleu", "{:.3f}", across_seeds=True),
    Figure("seed_distance", "{:.3f}", across_seeds=True),
    Figure("parting_token", "{:.1f}", across_seeds=True),
)
FIGURE_BY_NAME: Mapping[str, Figure] = {figure.name: figure for figure in FIGURES}


# -- a text alone --------------------------------------------------------------------------
def token_ids(record: Record) -> list[int]:
    return [token["id"] for token in record["tokens"]]


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def mean_logprob(record: Record) -> float | None:
    """Mean natural log of the raw model's probability of each drawn token (unknown or 0 left out)."""
    raw = [t["raw_p"] for t in record["tokens"]]
    return _mean([math.log(p) for p in raw if is_known(p) and p > 0])


def perplexity_of(logprob: float | None) -> float | None:
    """exp(-mean log-probability): how many equally likely tokens the raw model was choosing among."""
    return None if logprob is None else math.exp(min(-logprob, 700.0))


def _token_mean(record: Record, key: str) -> float | None:
    pairs = [(t.get(key), t.get("p")) for t in record["tokens"]]
    return _mean([float(v) for v, p in pairs if is_known(v) and is_known(p)])


def rep_n(ids: Sequence[int], n: int) -> float | None:
    """1 - distinct-n (Garces Arias et al. 2024): the share of a text's n-grams that repeat an earlier one;
    None for a text too short to have an n-gram."""
    return 1.0 - distinct_n(ids, n) if len(ids) >= n else None


def diversity(ids: Sequence[int]) -> float | None:
    """prod over n = 2..4 of (1 - rep-n) (Garces Arias et al. 2024, arXiv 2410.06097)."""
    if len(ids) < 4:
        return None
    return math.prod(distinct_n(ids, n) for n in (2, 3, 4))


TEXT_FIGURES: Mapping[str, Callable[[Record], float | None]] = {
    "tokens": lambda r: float(len(r["tokens"])),
    "length_share": lambda r: 1.0 if r["finish_reason"] == "length" else 0.0,
    "mean_logprob": mean_logprob,
    "perplexity": lambda r: perplexity_of(mean_logprob(r)),
    "mean_entropy": lambda r: _token_mean(r, "entropy"),
    "mean_survivors": lambda r: _token_mean(r, "survivors"),
    "distinct_2": lambda r: distinct_n(token_ids(r), 2) if len(r["tokens"]) >= 2 else None,
    "rep_3": lambda r: rep_n(token_ids(r), 3),
    "diversity": lambda r: diversity(token_ids(r)),
}


# -- a text among its seeds ------------------------------------------------------------------
def self_bleu(texts: Sequence[Sequence[int]], order: int = BLEU_ORDER) -> list[float | None]:
    """Each text's BLEU against the other texts as references (Zhu et al. 2018, Texygen's SelfBleu):
    uniform weights up to ``order``, NLTK's brevity penalty (closest reference length) and smoothing
    method1. The mean over texts is the set's self-BLEU: 1 the seeds write the same, near 0 nothing shared.

    The clipped count of an n-gram is its largest count in any other text, found from each n-gram's
    two largest counts over all texts, so a set costs its number of n-grams, not their square."""
    if len(texts) < 2:
        return [None] * len(texts)
    counts = [[Counter(ngrams(text, n)) for n in range(1, order + 1)] for text in texts]
    tops = [_top_two([c[n] for c in counts]) for n in range(order)]
    lengths = [len(text) for text in texts]
    return [_bleu(i, counts[i], tops, lengths) for i in range(len(texts))]


def _top_two(counters: Sequence[Counter]) -> dict[tuple, list[int]]:
    """n-gram -> [largest count, its text, second largest count]."""
    best: dict[tuple, list[int]] = {}
    for index, counter in enumerate(counters):
        for gram, count in counter.items():
            top = best.get(gram)
            if top is None:
                best[gram] = [count, index, 0]
            elif count > top[0]:
                best[gram] = [count, index, top[0]]
            elif count > top[2]:
                top[2] = count
    return best


def _bleu(
    i: int, counts: Sequence[Counter], tops: Sequence[Mapping[tuple, list[int]]], lengths: Sequence[int]
) -> float:
    hypothesis = lengths[i]
    if hypothesis == 0:
        return 0.0
    logs = []
    for n, counter in enumerate(counts):
        matched = sum(min(c, tops[n][g][0] if tops[n][g][1] != i else tops[n][g][2]) for g, c in counter.items())
        total = max(1, sum(counter.values()))
        if n == 0 and matched == 0:
            return 0.0  # NLTK: no unigram in common scores 0, smoothing or not
        logs.append(math.log((matched if matched else BLEU_EPSILON) / total))
    others = [length for j, length in enumerate(lengths) if j != i]
    closest = min(others, key=lambda r: (abs(r - hypothesis), r))
    penalty = 1.0 if hypothesis > closest else math.exp(1 - closest / hypothesis)
    return penalty * math.exp(math.fsum(logs) / len(logs))


def seed_distances(texts: Sequence[Sequence[int]], n: int = DISTANCE_N) -> list[float | None]:
    """Each text's mean n-gram Jaccard distance to the other texts (metrics.jaccard_distance): their mean
    is metrics.seed_divergence, the spread the report has always shown."""
    if len(texts) < 2:
        return [None] * len(texts)
    sets = [set(ngrams(text, n)) for text in texts]
    values: list[float | None] = []
    for i, mine in enumerate(sets):
        total = 0.0
        for j, theirs in enumerate(sets):
            if i != j:
                union = len(mine) + len(theirs) - (common := len(mine & theirs))
                total += 1.0 - common / union if union else 0.0
        values.append(total / (len(sets) - 1))
    return values


def parting_tokens(texts: Sequence[Sequence[int]]) -> list[float | None]:
    """Each text's mean, over the other seeds, of the first token at which the two differ (the shorter
    text's length when one continues the other): how long a setting's seeds write the same thing."""
    if len(texts) < 2:
        return [None] * len(texts)
    values: list[float | None] = []
    for i, mine in enumerate(texts):
        parts = [len(os.path.commonprefix([list(mine), list(theirs)])) for j, theirs in enumerate(texts) if j != i]
        values.append(math.fsum(parts) / len(parts))
    return values


SEED_FIGURES: Mapping[str, Callable[[Sequence[Sequence[int]]], list[float | None]]] = {
    "self_bleu": self_bleu,
    "seed_distance": seed_distances,
    "parting_token": parting_tokens,
}
