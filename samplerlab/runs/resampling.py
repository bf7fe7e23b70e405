"""scipy's percentile bootstrap of a mean and its sign-flip permutation test, drawn once per sample size.

A 1,000-generation result asks for 48 intervals and 66 tests, each on the same 250 runs. scipy.stats draws
the same random arrangements for every one of them (a fresh generator seeded RANDOM_STATE per call, which
keeps each number reproducible alone), then spends most of its time gathering values by those indices:
66 tests took 8 s. Here the arrangements are drawn once per sample size, from that very generator in
scipy's order, and applied as arithmetic: a test is the mean of the sign-flipped differences (the
elementwise product's row means, summed as numpy sums the observed mean, so the arrangement that is the
observation gives exactly the observed value, and its mirror exactly its negation, as in scipy), and an
interval is a matrix product of the resamples' draw counts with the values. The numbers are scipy's
(tests/runs/test_stats.py checks them against scipy.stats and brute force); the time is a few ms each.

Blocks of BLOCK resamples bound the memory (a block of 250 runs is 2 MiB), and the blocks of small
samples are kept, since one report asks for the same size again and again.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator

import numpy as np

BLOCK = 1024  # resamples per block (even, so numpy's 32-bit draws continue across blocks as in one draw)
KEPT_UP_TO = 512  # sample sizes whose blocks are kept between calls (at most 40 MiB each, 4 kept)
TOLERANCE = np.finfo(float).eps * 100  # scipy's: null values this close (relatively) to the observed tie with it


def _sizes(resamples: int) -> Iterator[int]:
    for start in range(0, resamples, BLOCK):
        yield min(BLOCK, resamples - start)


def _sign_blocks(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Random sign flips, +1 or -1 per pair, exactly the arrangements scipy.stats.permutation_test draws for
    one sample with permutation_type='samples' (it permutes each value with its negation: rng.permuted)."""
    rng = np.random.default_rng(seed)
    for rows in _sizes(resamples):
        order = rng.permuted(np.tile(np.arange(2, dtype=np.int8), (rows, n, 1)), axis=-1)
        yield 1.0 - 2.0 * order[..., 0]


def _count_blocks(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """How often each value is drawn in each bootstrap resample: scipy.stats.bootstrap's indices
    (rng.integers(0, n, (resamples, n))) counted per row."""
    rng = np.random.default_rng(seed)
    for rows in _sizes(resamples):
        drawn = rng.integers(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
        yield np.bincount(drawn.ravel(), minlength=rows * n).reshape(rows, n).astype(float)


@functools.lru_cache(maxsize=4)
def _kept(kind: str, n: int, resamples: int, seed: int) -> tuple[np.ndarray, ...]:
    return tuple((_sign_blocks if kind == "signs" else _count_blocks)(n, resamples, seed))


def _blocks(kind: str, n: int, resamples: int, seed: int) -> Iterable[np.ndarray]:
    if n <= KEPT_UP_TO:
        return _kept(kind, n, resamples, seed)
    return (_sign_blocks if kind == "signs" else _count_blocks)(n, resamples, seed)


@functools.lru_cache(maxsize=16)
def _every_sign(n: int) -> np.ndarray:
    """All 2**n sign flips: the exact test."""
    return 1.0 - 2.0 * np.array(list(itertools.product((0, 1), repeat=n)), dtype=float)


def sign_flip_p(differences: np.ndarray, resamples: int, seed: int) -> float:
    """scipy.stats.permutation_test((differences,), mean, permutation_type='samples', n_resamples=resamples,
    alternative='two-sided', rng=default_rng(seed)).pvalue: exact over the 2**n flips when they fit in the
    resamples, else (count + 1) / (resamples + 1) per side; twice the smaller side, at most 1."""
    n = len(differences)
    observed = np.mean(differences)
    gamma = abs(TOLERANCE * observed)
    exact = 2**n <= resamples
    blocks = [_every_sign(n)] if exact else _blocks("signs", n, resamples, seed)
    below = above = 0
    for signs in blocks:
        null = np.mean(signs * differences, axis=-1)
        below += int(np.count_nonzero(null <= observed + gamma))
        above += int(np.count_nonzero(null >= observed - gamma))
    total, adjustment = (2**n, 0) if exact else (resamples, 1)
    p = 2 * min(below + adjustment, above + adjustment) / (total + adjustment)
    return float(min(1.0, max(0.0, p)))


def bootstrap_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """The mean of each of scipy.stats.bootstrap's resamples of ``values`` (same seed, same draws)."""
    n = len(values)
    return np.concatenate([counts @ values / n for counts in _blocks("counts", n, resamples, seed)])


def percentile_interval(values: np.ndarray, resamples: int, seed: int, confidence: float) -> tuple[float, float]:
    """scipy.stats.bootstrap(..., method='percentile')'s interval of the mean: the resampled means' quantiles."""
    alpha = (1 - confidence) / 2
    low, high = np.quantile(bootstrap_means(values, resamples, seed), [alpha, 1 - alpha])
    return float(low), float(high)
