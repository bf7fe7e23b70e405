"""Which contender a person prefers, from blind pairwise votes: Bradley-Terry strengths with intervals.

Strengths are fitted with ``choix.ilsr_pairwise`` (iterative Luce spectral ranking, the maximum-
likelihood Bradley-Terry fit) with a small ``ALPHA`` regularisation, so a contender that won or lost
every vote still gets a finite strength. A tie counts as half a win each way (each decisive vote is
entered twice, a tie once in each direction); "both bad" says nothing about which is better and is
left out of the fit, though the tables count it. Intervals are percentile bootstraps over votes
(``RESAMPLES`` resamples, fixed ``SEED``, so the same votes always give the same figures). Position
bias is the share of decisive votes that went to the left side, with its exact binomial interval.

Pure numbers and words: no model, no files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..words.blind import w

ALPHA = 0.01  # the regularisation choix adds to every pair; small beside real vote counts
# Fewer votes between two contenders than this and no verdict says one is preferred: a bootstrap over
# three identical votes has no spread, so its interval would "exclude zero" on no evidence.
MIN_VOTES = 5
RESAMPLES = 400
SEED = 0
VOTES = ("A", "B", "tie", "bad")  # A: the left (first shown) reply, B: the right one


class VoteLike(Protocol):
    """Any vote: the contenders shown left and right, and the choice (a votes file's records are ones)."""

    @property
    def left(self) -> int: ...

    @property
    def right(self) -> int: ...

    @property
    def choice(self) -> str: ...


@dataclass(frozen=True)
class Vote:
    """One vote between the contenders shown left and right (indices into the contenders)."""

    left: int
    right: int
    choice: str  # one of VOTES
    voter: str = ""


@dataclass(frozen=True)
class Verdict:
    better: str
    worse: str
    wins: float  # a tie is half a win
    losses: float
    low: float
    high: float
    more_votes: int | None  # None: the interval already excludes zero

    def line(self, lang: str = "en") -> str:
        if self.more_votes is None:
            return w("prefer", lang).format(a=self.better, b=self.worse, w=_count(self.wins), l=_count(self.losses))
        key = "cannot_tell_yet" if self.more_votes < 0 else "cannot_tell"
        return w(key, lang).format(
            a=self.better, b=self.worse, n=self.more_votes, w=_count(self.wins), l=_count(self.losses)
        )


@dataclass(frozen=True)
class Ranking:
    names: tuple[str, ...]
    strengths: tuple[float, ...]  # log-strengths, mean 0
    low: tuple[float, ...]
    high: tuple[float, ...]
    wins: tuple[tuple[float, ...], ...]  # wins[i][j]: votes i won against j (a tie is half)
    pair_votes: tuple[tuple[int, ...], ...]  # every vote between i and j, "both bad" included
    bad: int
    left_share: float | None
    left_low: float | None
    left_high: float | None
    decisive: int
    verdicts: tuple[Verdict, ...]

    @property
    def order(self) -> list[int]:
        return sorted(range(len(self.names)), key=lambda i: -self.strengths[i])

    def text(self, lang: str = "en") -> str:
        """The ranking, win matrix, votes per pair, left-side share and verdicts, for a terminal."""
        lines = [w("ranking_head", lang)]
        width = max(len(n) for n in self.names)
        for place, i in enumerate(self.order, 1):
            lines.append(
                f"  {place}. {self.names[i].ljust(width)}  {self.strengths[i]:+.2f}  "
                f"[{self.low[i]:+.2f}, {self.high[i]:+.2f}]"
            )
        lines.append(w("matrix_head", lang))
        cells = [
            [_count(self.wins[i][j]) if i != j else "-" for j in range(len(self.names))] for i in range(len(self.names))
        ]
        lines += _table(self.names, cells)
        lines.append(w("pairs_head", lang))
        for i in range(len(self.names)):
            for j in range(i + 1, len(self.names)):
                if self.pair_votes[i][j]:
                    lines.append(f"  {self.names[i]} / {self.names[j]}: {self.pair_votes[i][j]}")
        lines.append(self.left_line(lang))
        lines += [verdict.line(lang) for verdict in self.verdicts]
        return "\n".join(lines)

    def left_line(self, lang: str = "en") -> str:
        if self.left_share is None:
            return w("left_none", lang)
        return w("left_share", lang).format(
            share=round(100 * self.left_share),
            low=round(100 * (self.left_low or 0)),
            high=round(100 * (self.left_high or 0)),
            n=self.decisive,
        )


def _count(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def _table(names: Sequence[str], cells: Sequence[Sequence[str]]) -> list[str]:
    width = max(len(n) for n in names)
    cell = max(4, *(len(c) for row in cells for c in row))
    head = " " * (width + 2) + " ".join(str(j + 1).rjust(cell) for j in range(len(names)))
    rows = [
        f"  {n.ljust(width)}" + " ".join(c.rjust(cell) for c in row) + f"  ({i + 1})"
        for i, (n, row) in enumerate(zip(names, cells))
    ]
    return [head, *rows]


def comparisons(votes: Sequence[VoteLike]) -> list[tuple[int, int]]:
    """(winner, loser) pairs for choix: a decisive vote twice, a tie once each way, "both bad" not at all."""
    data: list[tuple[int, int]] = []
    for vote in votes:
        if vote.choice == "A":
            data += [(vote.left, vote.right)] * 2
        elif vote.choice == "B":
            data += [(vote.right, vote.left)] * 2
        elif vote.choice == "tie":
            data += [(vote.left, vote.right), (vote.right, vote.left)]
    return data


def strengths(count: int, votes: Sequence[VoteLike]) -> np.ndarray:
    """Bradley-Terry log-strengths, mean 0; all zero without a vote that says anything."""
    data = comparisons(votes)
    if not data:
        return np.zeros(count)
    import choix  # here, not at the top: it imports scipy.stats, 1.6 s that every samplerlab command paid at start

    params = np.asarray(choix.ilsr_pairwise(count, data, alpha=ALPHA, max_iter=1000), dtype=float)
    return params - params.mean()


def rank(names: Sequence[str], votes: Sequence[VoteLike]) -> Ranking:
    """Everything the reveal shows, from the votes alone."""
    count = len(names)
    fitted = strengths(count, votes)
    samples = _bootstrap(count, votes)
    low, high = np.percentile(samples, [2.5, 97.5], axis=0) if len(samples) else (fitted, fitted)
    wins = np.zeros((count, count))
    pairs = np.zeros((count, count), dtype=int)
    for vote in votes:
        pairs[vote.left, vote.right] += 1
        pairs[vote.right, vote.left] += 1
        if vote.choice == "A":
            wins[vote.left, vote.right] += 1
        elif vote.choice == "B":
            wins[vote.right, vote.left] += 1
        elif vote.choice == "tie":
            wins[vote.left, vote.right] += 0.5
            wins[vote.right, vote.left] += 0.5
    left = sum(v.choice == "A" for v in votes)
    decisive = sum(v.choice in ("A", "B") for v in votes)
    share = interval = None
    if decisive:
        share = left / decisive
        from scipy.stats import binomtest  # as choix above: only when votes are ranked

        interval = binomtest(left, decisive, 0.5).proportion_ci(0.95)
    ranking = Ranking(
        tuple(names),
        tuple(float(s) for s in fitted),
        tuple(float(x) for x in low),
        tuple(float(x) for x in high),
        tuple(tuple(float(x) for x in row) for row in wins),
        tuple(tuple(int(x) for x in row) for row in pairs),
        sum(v.choice == "bad" for v in votes),
        share,
        None if interval is None else float(interval.low),
        None if interval is None else float(interval.high),
        decisive,
        (),
    )
    return _with_verdicts(ranking, fitted, samples, len(votes))


def _bootstrap(count: int, votes: Sequence[VoteLike]) -> np.ndarray:
    """Strengths refitted on votes drawn with replacement, ``RESAMPLES`` times, from a fixed seed."""
    if not votes:
        return np.zeros((0, count))
    rng = np.random.default_rng(SEED)
    draws = rng.integers(0, len(votes), size=(RESAMPLES, len(votes)))
    return np.array([strengths(count, [votes[k] for k in draw]) for draw in draws])


def _with_verdicts(ranking: Ranking, fitted: np.ndarray, samples: np.ndarray, votes: int) -> Ranking:
    """A verdict for each neighbour in the ranking: is the one above really preferred to the one below?"""
    order = ranking.order
    verdicts = []
    for upper, lower in zip(order, order[1:]):
        differences = samples[:, upper] - samples[:, lower] if len(samples) else np.zeros(1)
        low, high = (float(x) for x in np.percentile(differences, [2.5, 97.5]))
        gap = float(fitted[upper] - fitted[lower])
        direct = ranking.pair_votes[upper][lower]
        excludes = direct >= MIN_VOTES and (low > 0 or high < 0)
        verdicts.append(
            Verdict(
                ranking.names[upper],
                ranking.names[lower],
                ranking.wins[upper][lower],
                ranking.wins[lower][upper],
                low,
                high,
                None if excludes else _needed(more_votes(votes, gap, _reach_toward_zero(gap, low, high)), direct),
            )
        )
    return Ranking(**{**ranking.__dict__, "verdicts": tuple(verdicts)})


def _reach_toward_zero(gap: float, low: float, high: float) -> float:
    """How far the interval reaches from the gap toward zero: the side that must shrink for it to exclude zero.
    A bootstrap interval of strengths is often lopsided (a contender that won nearly everything has a long
    tail away from zero), so half the interval's width would overstate the votes still needed."""
    return gap - low if gap > 0 else high - gap


def _needed(more: int, direct: int) -> int:
    """At least enough for ``MIN_VOTES`` direct votes; -1 (no gap to build on) stays -1."""
    return more if more < 0 else max(more, MIN_VOTES - direct)


def more_votes(votes: int, gap: float, reach: float) -> int:
    """Votes still needed for the interval of ``gap`` to exclude zero, if the gap stays as it is and the
    interval narrows as 1/sqrt(votes): n * (reach / gap)^2 - n, rounded up, where ``reach`` is how far the
    interval extends from the gap toward zero. -1: no gap to find yet (no vote, or a gap of zero), so no
    number of votes can be promised."""
    if votes == 0 or abs(gap) < 1e-9 or reach <= 0:
        return -1
    return max(1, math.ceil(votes * (reach / abs(gap)) ** 2 - votes))


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float:
    """Cohen's kappa between two raters' labels on the same items: (p_o - p_e) / (1 - p_e), where p_o is
    the share of items they agree on and p_e the agreement expected from each rater's label shares alone.
    NaN for no items; 1.0 when both always give one and the same label."""
    if len(first) != len(second):
        raise ValueError("cohen_kappa: the two raters rated different numbers of items")
    if not first:
        return float("nan")
    labels = sorted(set(first) | set(second))
    a = np.array([labels.index(x) for x in first])
    b = np.array([labels.index(x) for x in second])
    observed = float(np.mean(a == b))
    expected = float(sum(np.mean(a == k) * np.mean(b == k) for k in range(len(labels))))
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1 - expected)
