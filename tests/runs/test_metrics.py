"""Metrics on tiny hand-made inputs whose values can be worked out on paper."""

from __future__ import annotations

import math

import pytest

from samplerlab.llama.engine import ColumnResult, TokenEvent
from samplerlab.runs.metrics import (
    STATS,
    column_stats,
    distinct_n,
    jaccard_distance,
    mean_probability,
    min_probability,
    repeated_ngram_share,
    seed_divergence,
    seed_summary,
    spread,
)
from samplerlab.schema.params import Settings


def token(index: int, token_id: int, prob: float, entropy: float, survivors: int) -> TokenEvent:
    return TokenEvent(0, index, token_id, str(token_id), prob, prob, (), (), survivors, entropy)


@pytest.mark.parametrize(
    "tokens, n, expected",
    [
        ([1, 2, 1, 2], 1, 2 / 4),
        ([1, 2, 1, 2], 2, 2 / 3),  # (1,2) (2,1) (1,2)
        ([1, 2, 3, 4], 2, 1.0),
        ([5], 2, 0.0),
        ([], 1, 0.0),
    ],
)
def test_distinct_n(tokens, n, expected):
    assert distinct_n(tokens, n) == expected


@pytest.mark.parametrize(
    "tokens, expected",
    [
        ([1, 2, 3, 1, 2, 3], 1 / 4),  # 123 231 312 123: the last repeats the first
        ([7, 7, 7, 7, 7], 2 / 3),  # 777 three times
        ([1, 2, 3, 4, 5], 0.0),
        ([1, 2], 0.0),
    ],
)
def test_repeated_3gram_share(tokens, expected):
    assert repeated_ngram_share(tokens, 3) == expected


def test_probability_means():
    assert mean_probability([0.5, 0.25]) == 0.375
    assert min_probability([0.5, 0.25]) == 0.25
    assert mean_probability([]) == 0.0 and min_probability([]) == 0.0


def test_jaccard_distance_of_token_pairs():
    assert jaccard_distance([1, 2, 3], [1, 2, 4]) == 1 - 1 / 3  # {12,23} vs {12,24}
    assert jaccard_distance([1, 2, 3], [1, 2, 3]) == 0.0
    assert jaccard_distance([1], [2]) == 0.0  # no pairs on either side: nothing differs


def test_seed_divergence_is_the_mean_pairwise_distance():
    assert seed_divergence([[1, 2, 3], [1, 2, 3], [4, 5]]) == pytest.approx(2 / 3)  # 0, 1, 1
    assert seed_divergence([[1, 2, 3]]) is None


def test_spread_uses_the_sample_deviation_and_admits_one_value():
    assert spread([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0}
    assert spread([4.0]) == {"mean": 4.0, "std": None}


def test_column_stats_of_a_four_token_column():
    column = ColumnResult(
        "c",
        Settings(),
        0,
        "chain",
        text="1212",
        finish_reason="length",
        seconds=2.0,
        tokens=[
            token(0, 1, 0.5, 0.0, 1),
            token(1, 2, 0.25, 1.0, 2),
            token(2, 1, 1.0, 2.0, 3),
            token(3, 2, 0.25, 1.0, 2),
        ],
    )
    assert column_stats(column) == {
        "tokens": 4,
        "tokens_per_second": 2.0,
        "mean_prob": 0.5,
        "min_prob": 0.25,
        "mean_entropy": 1.0,
        "mean_survivors": 2.0,
        "distinct_1": 0.5,
        "distinct_2": 2 / 3,
        "repeated_3grams": 0.0,
        "finish_reason": "length",
    }
    assert set(column_stats(column)) == {stat.name for stat in STATS} | {"finish_reason"}


def test_column_stats_of_an_empty_column_are_zero_not_errors():
    stats = column_stats(ColumnResult("c", Settings(), 0, "chain", finish_reason="cancelled"))
    assert all(stats[stat.name] == 0 for stat in STATS)


def test_seed_summary():
    first = {
        "tokens": 4,
        "tokens_per_second": 2.0,
        "mean_prob": 0.5,
        "min_prob": 0.25,
        "mean_entropy": 1.0,
        "mean_survivors": 2.0,
        "distinct_1": 0.5,
        "distinct_2": 0.5,
        "repeated_3grams": 0.0,
        "finish_reason": "length",
    }
    second = {**first, "tokens": 6, "mean_prob": 0.7, "finish_reason": "end"}
    summary = seed_summary([first, second], [[1, 2, 3], [1, 2, 4]])
    assert summary["tokens"] == {"mean": 5.0, "std": math.sqrt(2)}
    assert summary["mean_prob"] == {"mean": pytest.approx(0.6), "std": pytest.approx(math.sqrt(0.02))}
    assert summary["distinct_2"] == {"mean": 0.5, "std": 0.0}
    assert summary["seed_divergence"] == pytest.approx(2 / 3)
    assert summary["finish_reasons"] == {"length": 1, "end": 1}
