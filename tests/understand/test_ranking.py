"""Bradley-Terry strengths, their intervals and verdicts, position bias and Cohen's kappa, on votes
whose answers are known by hand."""

from __future__ import annotations

import math

import pytest

from samplerlab.understand.ranking import MIN_VOTES, Vote, cohen_kappa, comparisons, more_votes, rank


def test_two_contenders_strength_gap_is_the_log_odds_of_their_wins() -> None:
    votes = [Vote(0, 1, "A")] * 7 + [Vote(1, 0, "B")] * 7 + [Vote(0, 1, "B")] * 4
    ranking = rank(["min-p creative", "defaults"], votes)
    gap = ranking.strengths[0] - ranking.strengths[1]
    assert gap == pytest.approx(math.log(14 / 4), abs=0.02)  # the Bradley-Terry MLE for two items
    assert ranking.wins[0][1] == 14 and ranking.wins[1][0] == 4 and ranking.pair_votes[0][1] == 18
    assert ranking.low[0] < ranking.strengths[0] < ranking.high[0]
    assert [v.line() for v in ranking.verdicts] == [
        "you prefer 'min-p creative' to 'defaults', 14–4, interval excludes zero"
    ]
    assert "'defaults' より 'min-p creative' を好んでいます" in ranking.verdicts[0].line("ja")


def test_intervals_are_reproducible_and_an_even_split_cannot_be_told_apart() -> None:
    votes = [Vote(0, 1, "A"), Vote(0, 1, "B")] * 5 + [Vote(1, 0, "A")] * 2
    first, second = rank(["x", "y"], votes), rank(["x", "y"], votes)
    assert first == second  # the bootstrap's seed is fixed
    line = first.verdicts[0].line()
    assert line.startswith("can't tell 'y' and 'x' apart yet (7–5); votes still needed: about ")
    assert int(line.split("about ")[1].split()[0]) > 20


def test_ties_count_half_each_way_and_both_bad_is_left_out() -> None:
    votes = [Vote(0, 1, "tie"), Vote(0, 1, "bad"), Vote(1, 0, "A")]
    assert comparisons(votes) == [(0, 1), (1, 0), (1, 0), (1, 0)]
    ranking = rank(["a", "b"], votes)
    assert ranking.wins[0][1] == 0.5 and ranking.wins[1][0] == 1.5 and ranking.bad == 1
    assert ranking.pair_votes[0][1] == 3


def test_a_few_unanimous_votes_are_no_verdict() -> None:
    ranking = rank(["a", "b"], [Vote(0, 1, "A")] * (MIN_VOTES - 1))
    assert "can't tell" in ranking.verdicts[0].line()  # a bootstrap of identical votes has no spread


def test_left_side_share_has_an_exact_binomial_interval() -> None:
    ranking = rank(["a", "b"], [Vote(0, 1, "A")] * 15 + [Vote(1, 0, "B")] * 5)
    assert ranking.left_share == 0.75 and ranking.decisive == 20
    assert ranking.left_low == pytest.approx(0.5089541, abs=1e-4)  # Clopper-Pearson 15/20
    assert "left side chosen in 75% of 20 decisive votes (95% interval 51-91%" in ranking.left_line()


def test_no_votes_ranks_everyone_equal_without_a_verdict() -> None:
    ranking = rank(["a", "b", "c"], [])
    assert ranking.strengths == (0.0, 0.0, 0.0) and ranking.left_share is None
    assert all("no difference to build on" in v.line() for v in ranking.verdicts)


def test_more_votes_assumes_the_interval_narrows_as_one_over_root_n() -> None:
    assert more_votes(20, 0.5, 1.0) == 60  # 20 * (1.0 / 0.5)^2 - 20
    assert more_votes(0, 0.5, 1.0) == -1 and more_votes(10, 0.0, 1.0) == -1


def test_the_votes_still_needed_follow_the_side_of_the_interval_that_faces_zero() -> None:
    # 6 wins to 2 and a tie: the bootstrap interval of the gap is lopsided, its long tail away from zero,
    # so half its width would promise far more votes than the side facing zero needs.
    votes = [Vote(0, 1, "A")] * 6 + [Vote(0, 1, "B")] * 2 + [Vote(0, 1, "tie")]
    ranking = rank(["a", "b"], votes)
    verdict = ranking.verdicts[0]
    gap = ranking.strengths[0] - ranking.strengths[1]
    assert verdict.high - gap > gap - verdict.low > 0  # lopsided, and not yet clear of zero
    toward_zero = math.ceil(9 * ((gap - verdict.low) / gap) ** 2 - 9)
    assert verdict.more_votes == max(1, toward_zero)
    assert verdict.more_votes < math.ceil(9 * ((verdict.high - verdict.low) / 2 / gap) ** 2 - 9)


def test_cohen_kappa_matches_the_textbook_example() -> None:
    # Wikipedia's example: 50 items, 20 both yes, 15 both no, 5 yes/no, 10 no/yes: p_o 0.7, p_e 0.5
    first = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    assert cohen_kappa(["a", "b"], ["a", "b"]) == 1.0
    assert math.isnan(cohen_kappa([], []))
