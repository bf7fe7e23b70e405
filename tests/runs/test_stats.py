"""Statistics across seeds on hand-made inputs: each figure's definition worked out on paper, the tests against
exact enumeration and scipy, Holm by hand, the verdict lines, and bad input as one line."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats as scipy_stats

from samplerlab.runs.figures import diversity, parting_tokens, rep_n, seed_distances, self_bleu
from samplerlab.runs.metrics import distinct_n, ngrams, seed_divergence
from samplerlab.runs.stats import (
    RESAMPLES,
    Comparison,
    StatsError,
    across_seeds,
    holm,
    interval,
    paired_p,
)
from samplerlab.runs.verdicts import p_text, stats_lines, verdict, verdict_lines


def record(label, seed, ids, reason="length", raw=0.5, prompt=0, entropy=1.0, survivors=3):
    return {
        "label": label,
        "seed": seed,
        "prompt_index": prompt,
        "finish_reason": reason,
        "tokens": [{"id": i, "raw_p": raw, "p": 0.5, "entropy": entropy, "survivors": survivors} for i in ids],
    }


# -- figures on paper ---------------------------------------------------------------------------------
def test_rep_and_diversity_follow_the_papers_definitions():
    ids = [1, 2, 1, 2, 1]
    # 2-grams (1,2) (2,1) (1,2) (2,1): 2 unique of 4; 3-grams (1,2,1) (2,1,2) (1,2,1): 2 of 3; 4-grams: 2 of 2
    assert distinct_n(ids, 2) == 0.5
    assert rep_n(ids, 3) == pytest.approx(1 / 3)
    assert diversity(ids) == pytest.approx(0.5 * (2 / 3) * 1.0)
    assert rep_n([1, 2], 3) is None and diversity([1, 2, 3]) is None  # too short for the n-grams


def naive_bleu(hypothesis, references, order=3, epsilon=0.1):
    """NLTK's sentence_bleu with SmoothingFunction().method1, written the slow, obvious way."""
    if not hypothesis:
        return 0.0
    logs = []
    for n in range(1, order + 1):
        counts = Counter(ngrams(hypothesis, n))
        most = Counter()
        for reference in references:
            for gram, count in Counter(ngrams(reference, n)).items():
                most[gram] = max(most[gram], count)
        matched = sum(min(count, most[gram]) for gram, count in counts.items())
        total = max(1, sum(counts.values()))
        if n == 1 and matched == 0:
            return 0.0
        logs.append(math.log((matched or epsilon) / total))
    closest = min((len(r) for r in references), key=lambda r: (abs(r - len(hypothesis)), r))
    penalty = 1.0 if len(hypothesis) > closest else math.exp(1 - closest / len(hypothesis))
    return penalty * math.exp(sum(logs) / order)


@pytest.mark.parametrize(
    "texts, expected",
    [
        ([[1, 2, 3, 4], [1, 2, 3, 4]], [1.0, 1.0]),
        ([[1, 2, 3, 4], [5, 6, 7, 8]], [0.0, 0.0]),
        ([[1, 2, 3, 4], [1, 2, 3, 5]], [(3 / 4 * 2 / 3 * 1 / 2) ** (1 / 3)] * 2),
        # no bigram or trigram in common: smoothed to 0.1 / count
        ([[1, 2, 3, 4], [1, 3, 2, 4]], [(1.0 * (0.1 / 3) * (0.1 / 2)) ** (1 / 3)] * 2),
        # the short text is cut by the brevity penalty exp(1 - 6/3); the long one is not
        ([[1, 2, 3], [1, 2, 3, 4, 5, 6]], [math.exp(-1), (1 / 2 * 2 / 5 * 1 / 4) ** (1 / 3)]),
    ],
)
def test_self_bleu_on_paper(texts, expected):
    assert self_bleu(texts) == pytest.approx(expected)


def test_self_bleu_agrees_with_the_slow_definition_on_random_sets():
    rng = np.random.default_rng(3)
    for _ in range(30):
        texts = [list(rng.integers(0, 6, rng.integers(0, 12))) for _ in range(rng.integers(2, 6))]
        slow = [naive_bleu(t, texts[:i] + texts[i + 1 :]) for i, t in enumerate(texts)]
        assert self_bleu(texts) == pytest.approx(slow)


def test_seed_distance_is_the_mean_pairwise_jaccard_and_parting_the_shared_prefix():
    texts = [[1, 2, 3], [1, 2, 4], [5]]
    distances = seed_distances(texts)
    # {12,23} vs {12,24}: 1 - 1/3; vs {} : 1; {12,24} vs {}: 1
    assert distances == pytest.approx([(2 / 3 + 1) / 2, (2 / 3 + 1) / 2, 1.0])
    assert sum(distances) / 3 == pytest.approx(seed_divergence(texts))
    assert parting_tokens(texts) == [1.0, 1.0, 0.0]  # 0 and 1 share two tokens, nobody shares with 2
    assert self_bleu([[1]]) == seed_distances([[1]]) == parting_tokens([[1]]) == [None]


# -- intervals and tests -----------------------------------------------------------------------------
def brute_force_p(a, b):
    """Every one of the 2**n swaps of the pairs: the share whose |mean difference| reaches the observed."""
    d = np.asarray(a, float) - np.asarray(b, float)
    observed = abs(d.mean())
    means = [abs((d * signs).mean()) for signs in itertools.product((1, -1), repeat=len(d))]
    return sum(m >= observed - 1e-12 for m in means) / len(means)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([2, 4, 6, 8], [1, 2, 3, 4], 2 / 16),  # every pair higher: the observed and its mirror of 16
        # differences 1, 2, 3, -1 (sum 5): a swapped subset of magnitudes summing to s gives |7 - 2s| >= 5
        # for s in {0, 1, 1, 6, 6, 7}: 6 of 16
        ([2, 4, 6, 3], [1, 2, 3, 4], 6 / 16),
        ([1, 1, 1, 1], [1, 1, 1, 1], 1.0),
    ],
)
def test_four_pairs_have_sixteen_arrangements_and_an_exact_p(a, b, expected):
    assert brute_force_p(a, b) == pytest.approx(expected)
    assert paired_p(a, b) == pytest.approx(expected)


def test_the_permutation_p_is_exact_up_to_thirteen_pairs_and_agrees_with_brute_force():
    rng = np.random.default_rng(7)
    for n in (5, 9, 12):
        a, b = rng.normal(0.3, 1, n), rng.normal(0, 1, n)
        assert paired_p(a, b) == pytest.approx(brute_force_p(a, b))


def test_the_bootstrap_interval_is_scipys_percentile_interval_and_reproducible():
    values = list(np.random.default_rng(1).normal(5, 2, 40))
    reference = scipy_stats.bootstrap(
        (np.asarray(values),), np.mean, n_resamples=RESAMPLES, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    center, low, high = interval(values)
    assert (low, high) == pytest.approx((reference.low, reference.high))
    assert interval(values) == (center, low, high) and low < center < high
    # two values: the resampled means are a, (a+b)/2, b with mass 1/4, 1/2, 1/4, so the 95% interval is [a, b]
    assert interval([1.0, 3.0]) == (2.0, 1.0, 3.0)
    assert interval([4.0]) == (4.0, None, None) and interval([2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_holm_by_hand():
    # sorted 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> kept at 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


# -- reports and verdicts ------------------------------------------------------------------------------
def two_columns(seeds=range(12)):
    """'long' writes 10 + s tokens, 'short' 5 + s: every other figure is the same by construction or tested."""
    return [r for s in seeds for r in (record("short", s, range(5 + s)), record("long", s, range(10 + s)))]


def test_a_column_longer_on_every_seed_is_called_longer_with_its_holm_p():
    report = across_seeds(two_columns())
    tokens = next(c for c in report.comparisons if c.figure == "tokens")
    assert (tokens.a, tokens.b, tokens.n, tokens.above, tokens.below) == ("long", "short", 12, 12, 0)
    assert tokens.p == pytest.approx(2 / 2**12)
    assert tokens.adjusted == pytest.approx(holm([c.p for c in report.comparisons])[report.comparisons.index(tokens)])
    assert verdict(tokens, report) == (
        f"'long' writes longer replies than 'short': longer on 12 of 12 seeds, p = {p_text(tokens.adjusted)}"
    )
    assert verdict(tokens, report, "ja") == (
        f"'long' は 'short' より長く書く: 12 シード中 12 で長い、p = {p_text(tokens.adjusted)}"
    )
    same = next(c for c in report.comparisons if c.figure == "mean_logprob")
    assert verdict(same, report) == "'long' vs 'short', mean raw log-probability: within seed noise (p = 1)"


def test_the_whole_terminal_output_of_two_seeds_worked_out_by_hand():
    records = [
        record("a", 0, [1, 2, 3, 4], raw=math.exp(-1)),
        record("a", 1, [1, 2, 3, 4, 5, 6], raw=math.exp(-2), reason="end"),
        record("b", 0, [7, 7, 7, 7], raw=math.exp(-3)),
        record("b", 1, [7, 7, 7, 7], raw=math.exp(-3)),
    ]
    lines = stats_lines(across_seeds(records))
    assert lines[0] == "2 columns, 2 seeds each at most, 4 generations"
    block = lines[lines.index("length (tokens)") : lines.index("length (tokens)") + 3]
    assert block == ["length (tokens)", "  'a'  5.0 [4.0, 6.0]  n=2", "  'b'  4.0 [4.0, 4.0]  n=2"]
    logprob = lines.index("mean raw log-probability")
    assert lines[logprob + 1 : logprob + 3] == [
        "  'a'  -1.500 [-2.000, -1.000]  n=2",
        "  'b'  -3.000 [-3.000, -3.000]  n=2",
    ]
    assert lines[logprob + 4 : logprob + 6] == ["  'a'  4.48 [2.72, 7.39]  n=2", "  'b'  20.09 [20.09, 20.09]  n=2"]
    parting = lines.index("token where seeds part")
    assert lines[parting + 1 : parting + 3] == ["  'a'  4.0 [4.0, 4.0]  n=2", "  'b'  4.0 [4.0, 4.0]  n=2"]
    ended = lines.index("how they ended")
    assert lines[ended + 1 : ended + 3] == ["  'a'  end 1, length 1", "  'b'  length 2"]
    verdicts = lines[lines.index("verdicts (alpha 0.05)") + 1 :]
    assert verdicts[0] == (
        "  with 2 shared seeds the smallest p a test can give is 0.5, and Holm over 11 tests needs less than "
        "0.0045: run more seeds, or --baseline to test fewer pairs"
    )
    assert "  'b' vs 'a', length (tokens): within seed noise (p = 1)" in verdicts


def test_columns_that_share_no_seeds_get_a_line_not_a_test():
    records = [record("a", s, [1, 2, 3]) for s in (0, 1)] + [record("b", s, [1, 2, 3]) for s in (5, 6)]
    report = across_seeds(records)
    assert report.comparisons == ()
    assert verdict_lines(report) == ["'b' vs 'a': fewer than 2 shared seeds, no paired test"]
    assert verdict_lines(report, "ja") == ["'b' 対 'a': 共通のシードが 2 未満のため対応のある検定なし"]


def test_several_prompts_count_runs_and_pair_them():
    records = [
        record(label, s, range(n + s), prompt=p) for p in (0, 1) for s in (0, 1) for label, n in (("x", 3), ("y", 6))
    ]
    report = across_seeds(records)
    tokens = next(c for c in report.comparisons if c.figure == "tokens")
    assert not report.unit_is_seed and (tokens.n, tokens.above) == (4, 4)
    # 'x' writes 3 tokens on seed 0, too few for diversity's 4-grams: that figure pairs the other 2 runs
    assert next(c for c in report.comparisons if c.figure == "diversity").n == 2
    assert stats_lines(report)[0] == "2 columns, 4 prompt-seed runs each at most, 8 generations"


@pytest.mark.parametrize(
    "records, message",
    [
        ([], "no columns to compare"),
        ([record("a", 0, [1]), record("b", 0, [2])], "every column ran on one seed (0); statistics across seeds need"),
        ([record("a", 0, [1]), record("a", 0, [2])], "columns[1]: column 'a' appears twice on prompt 0, seed 0"),
        ([record("a", s, [1]) for s in range(20_001)], "20001 generations; statistics read at most 20000"),
    ],
)
def test_bad_input_is_one_line(records, message):
    with pytest.raises(StatsError) as error:
        across_seeds(records)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_baseline_that_is_not_a_column_is_named():
    with pytest.raises(StatsError, match=r"--baseline 'z': no such column; columns: 'short', 'long'"):
        across_seeds(two_columns(range(2)), "z")


def test_unknown_probabilities_leave_a_run_out_of_that_figure_only():
    records = two_columns(range(3))
    for token in records[0]["tokens"]:
        token["raw_p"] = None  # a llama-server token without its probability
    report = across_seeds(records)
    short = next(c for c in report.columns if c.label == "short")
    assert short.figures["mean_logprob"].n == 2 and short.figures["tokens"].n == 3


def test_a_comparison_reads_differs_only_below_alpha_after_correction():
    report = across_seeds(two_columns(range(2)))
    c = Comparison("a", "b", "distinct_2", 16, 3, 13, -0.1, 0.001, 0.41)
    assert verdict(c, report) == "'a' vs 'b', distinct-2: within seed noise (p = 0.41)"


def test_the_sign_flip_form_gives_scipys_two_sample_paired_p():
    rng = np.random.default_rng(11)
    a, b = rng.normal(0.2, 1, 30), rng.normal(0, 1, 30)
    reference = scipy_stats.permutation_test(
        (a, b),
        lambda x, y, axis=-1: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=RESAMPLES,
        rng=np.random.default_rng(0),
    )
    assert paired_p(a, b) == pytest.approx(reference.pvalue)


@pytest.mark.parametrize(
    "records, japanese",
    [
        ([record("a", 0, [1]), record("b", 0, [2])], "どの列も 1 シード（0）でしか生成されていません。"),
        ([record("a", 0, [1]), record("a", 0, [2])], "列 'a' がプロンプト 0・シード 0 に 2 回あります。"),
        ([], "比べる列がありません"),
    ],
)
def test_bad_input_lines_read_in_japanese(records, japanese):
    from samplerlab.words.errors_ja import localize

    with pytest.raises(StatsError) as error:
        across_seeds(records)
    assert japanese in localize(str(error.value), "ja")


def test_hostile_numbers_and_labels_print_without_a_traceback():
    from samplerlab.report.stats_html import report_html

    records = two_columns(range(3))
    records[0]["label"] = records[2]["label"] = records[4]["label"] = "<script>\x1b[2J"
    records[0]["tokens"][0].update(raw_p=-1.0, entropy=1e308, survivors=2**62)
    records[1]["tokens"][0].update(raw_p=0.0, entropy=float("nan"))
    report = across_seeds(records)
    assert len(stats_lines(report)) > 20
    page = report_html(report)
    assert "<script>" not in page and "&lt;script&gt;" in page


# -- the resampling drawn once per sample size gives scipy's numbers -----------------------------------------
@pytest.mark.parametrize("n", [3, 13, 14, 50, 250, 600])  # exact, the last exact, randomized, kept and not kept
def test_the_sign_flip_p_is_scipys_to_the_last_digit(n):
    rng = np.random.default_rng(n)
    samples = [
        rng.normal(0.15, 1, n),  # continuous
        rng.integers(-3, 4, n).astype(float),  # ties everywhere: the tolerance decides
        (rng.integers(0, 2, n) - rng.integers(0, 2, n)).astype(float),  # length_share's -1, 0, 1
    ]
    for differences in samples:
        if np.all(differences == 0):
            continue
        reference = scipy_stats.permutation_test(
            (differences,),
            lambda x, axis=-1: np.mean(x, axis=axis),
            permutation_type="samples",
            vectorized=True,
            n_resamples=RESAMPLES,
            rng=np.random.default_rng(0),
        )
        assert paired_p(differences, np.zeros(n)) == reference.pvalue


@pytest.mark.parametrize("n", [2, 7, 250, 600])
def test_the_interval_is_scipys_bootstrap_on_the_same_draws(n):
    values = np.random.default_rng(n).gamma(2.0, 1.0, n)
    reference = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=RESAMPLES, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    _, low, high = interval(list(values))
    assert (low, high) == pytest.approx((reference.low, reference.high), rel=1e-12, abs=1e-12)
