"""Each stage on a 4-token distribution, with exact expected probabilities (llama.cpp's own samplers)."""

from __future__ import annotations

import math

import pytest

from samplerlab.llama.sampling import Candidates, ChainContext, TailFreeStage, build_chain
from samplerlab.schema.chains import inactive_knobs
from samplerlab.schema.params import Settings, neutral_values

PROBS = (0.5, 0.25, 0.15, 0.1)
CONTEXT = ChainContext(vocab=None, n_vocab=len(PROBS), tokenize=lambda text: [int(text)])


def sample(changes: dict, probs=PROBS, accepted=()) -> dict[int, float]:
    """The distribution the final token is drawn from, after one stage switched on over a neutral chain."""
    settings = Settings({**neutral_values(), **changes})
    context = ChainContext(None, len(probs), CONTEXT.tokenize)
    with build_chain(settings, context, seed=0, n_ctx=64) as chain:
        for token in accepted:
            chain.accept(token)
        candidates = Candidates.from_logits([math.log(p) for p in probs])
        chain.sample(candidates)
        return {int(c["id"]): float(c["p"]) for c in candidates.view() if c["p"] > 0}


def approx(mapping: dict[int, float]) -> dict:
    return {k: pytest.approx(v, abs=1e-6) for k, v in mapping.items()}


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({}, {0: 0.5, 1: 0.25, 2: 0.15, 3: 0.1}),
        ({"top_k": 2}, {0: 2 / 3, 1: 1 / 3}),
        ({"top_p": 0.7}, {0: 2 / 3, 1: 1 / 3}),
        ({"min_p": 0.4}, {0: 2 / 3, 1: 1 / 3}),
        ({"min_p": 0.25}, {0: 0.5 / 0.9, 1: 0.25 / 0.9, 2: 0.15 / 0.9}),
        ({"typical_p": 0.5}, {0: 2 / 3, 1: 1 / 3}),
        ({"typical_p": 0.2}, {1: 1.0}),  # typical-p can drop the most likely token
        ({"top_n_sigma": 1.5}, {0: 2 / 3, 1: 1 / 3}),
        ({"xtc_probability": 1.0, "xtc_threshold": 0.2}, {1: 0.5, 2: 0.3, 3: 0.2}),
        ({"temperature": 0.0}, {0: 1.0}),
        ({"temperature": 2.0}, {i: math.sqrt(p) / sum(map(math.sqrt, PROBS)) for i, p in enumerate(PROBS)}),
        ({"logit_bias": {3: False}}, {0: 0.5 / 0.9, 1: 0.25 / 0.9, 2: 0.15 / 0.9}),
        ({"logit_bias": {"3": math.log(2)}}, {0: 0.5 / 1.1, 1: 0.25 / 1.1, 2: 0.15 / 1.1, 3: 0.2 / 1.1}),
    ],
)
def test_stage_on_four_tokens(changes, expected):
    assert sample(changes) == approx(expected)


@pytest.mark.parametrize(
    "changes, accepted, expected",
    [
        ({"repeat_penalty": 2.0}, [0], {0: 0.25 / 0.75, 1: 0.25 / 0.75, 2: 0.15 / 0.75, 3: 0.1 / 0.75}),
        (
            {"presence_penalty": 1.0},
            [0, 0],
            {
                0: 0.5 / math.e / (0.5 / math.e + 0.5),
                1: 0.25 / (0.5 / math.e + 0.5),
                2: 0.15 / (0.5 / math.e + 0.5),
                3: 0.1 / (0.5 / math.e + 0.5),
            },
        ),
        (
            {"frequency_penalty": 0.5},
            [0, 0],
            {
                0: 0.5 / math.e / (0.5 / math.e + 0.5),
                1: 0.25 / (0.5 / math.e + 0.5),
                2: 0.15 / (0.5 / math.e + 0.5),
                3: 0.1 / (0.5 / math.e + 0.5),
            },
        ),
        # a penalty divides a positive logit and multiplies a negative one: here p -> p^2, for the last token only
        (
            {"repeat_penalty": 2.0, "repeat_last_n": 1},
            [0, 1],
            {0: 0.5 / 0.8125, 1: 0.0625 / 0.8125, 2: 0.15 / 0.8125, 3: 0.1 / 0.8125},
        ),
    ],
)
def test_penalties_see_accepted_tokens(changes, accepted, expected):
    assert sample(changes, accepted=accepted) == approx(expected)


TAIL = (0.4, 0.3, 0.2, 0.05, 0.03, 0.02)


def test_tail_free_cuts_where_the_curve_flattens():
    # |second differences| of TAIL: 0, 0.05, 0.13, 0.01; normalised and summed: 0, 0.26, 0.95, 1.0.
    # The sum passes z=0.5 at index 2, so 2 tokens stay (llama.cpp's former algorithm, min_keep 1).
    assert sample({"tfs_z": 0.5}, probs=TAIL) == approx({0: 0.4 / 0.7, 1: 0.3 / 0.7})
    assert sample({"tfs_z": 0.2}, probs=TAIL) == approx({0: 1.0})  # passes 0.2 at index 1
    assert sample({"tfs_z": 0.97}, probs=TAIL) == approx({0: 0.4 / 0.9, 1: 0.3 / 0.9, 2: 0.2 / 0.9})  # at index 3
    assert sample({"tfs_z": 1.0}, probs=TAIL) == approx(dict(enumerate(TAIL)))


# llama.cpp's own reference cases for its tail-free sampler (tests/test-sampling.cpp, test_tfs, min_keep 1):
# the second differences of this straight line are all ~0, so every position weighs the same and it still cuts.
TFS_PROBS = (0.1, 0.15, 0.2, 0.25, 0.3)


@pytest.mark.parametrize("z, kept", [(0.25, [0.3]), (0.75, [0.3, 0.25]), (0.99, [0.3, 0.25])])
def test_tail_free_matches_llama_cpp_reference_cases(z, kept):
    candidates = Candidates.from_logits([math.log(p) for p in TFS_PROBS])
    TailFreeStage(z).apply(candidates)
    survivors = candidates.view()
    assert survivors["id"].tolist() == [4, 3][: len(kept)]  # sorted, most likely first, as llama.cpp left them
    assert survivors["p"].tolist() == [pytest.approx(p, abs=1e-6) for p in kept]  # its probabilities, not renormalised


@pytest.mark.parametrize(
    "z, expected", [(0.25, {4: 1.0}), (0.75, {4: 0.3 / 0.55, 3: 0.25 / 0.55}), (0.99, {4: 0.3 / 0.55, 3: 0.25 / 0.55})]
)
def test_tail_free_reference_cases_in_a_chain(z, expected):
    assert sample({"tfs_z": z}, probs=TFS_PROBS) == approx(expected)


# -- adaptive-p --------------------------------------------------------------------------------

ADAPTIVE = {"samplers": "edskfypmxta"}  # llama.cpp runs adaptive-p only when the order names it


def adaptive_p_reference(probs, target: float, decay: float, chosen: list[int]) -> list[dict[int, float]]:
    """llama.cpp's adaptive-p (src/llama-sampler.cpp, llama_sampler_adaptive_p_apply and _accept) in plain
    Python: the distribution it draws from at each step, given the tokens it picked before. The EMA of the
    picked tokens' original probabilities starts as if `target` had been picked forever."""
    weighted, total = target / (1 - decay), 1 / (1 - decay)
    steps = []
    for token in [*chosen, None]:
        adapted = min(max(2 * target - weighted / total, 0.0), 1.0)
        distance = [abs(p - adapted) / 0.3 for p in probs]  # DISTRIBUTION_WIDTH
        logits = [5.0 - 10.0 * d * d / (1 + d) for d in distance]  # PEAK_LOGIT_VALUE, SHARPNESS
        norm = sum(math.exp(logit) for logit in logits)
        steps.append({i: math.exp(logit) / norm for i, logit in enumerate(logits)})
        if token is not None:
            weighted, total = probs[token] + decay * weighted, 1 + decay * total
    return steps


def run_adaptive(changes: dict, steps: int = 6, probs=PROBS) -> tuple[list[int], list[dict[int, float]]]:
    settings = Settings({**neutral_values(), **ADAPTIVE, **changes})
    chosen, seen = [], []
    with build_chain(settings, CONTEXT, seed=3, n_ctx=64) as chain:
        for _ in range(steps):
            candidates = Candidates.from_logits([math.log(p) for p in probs])
            token = chain.sample(candidates)
            chain.accept(token)
            chosen.append(token)
            seen.append({int(c["id"]): float(c["p"]) for c in candidates.view() if c["p"] > 0})
    return chosen, seen


@pytest.mark.parametrize("target, decay", [(0.3, 0.9), (0.3, 0.5), (0.1, 0.0), (0.8, 0.99)])
def test_adaptive_p_draws_from_its_transform_and_steers_by_the_picked_tokens(target, decay):
    chosen, seen = run_adaptive({"adaptive_target": target, "adaptive_decay": decay})
    expected = adaptive_p_reference(PROBS, target, decay, chosen)
    assert seen == [{k: pytest.approx(v, abs=1e-5) for k, v in step.items()} for step in expected[: len(seen)]]


def test_adaptive_p_state_moves_with_what_it_picked():
    chosen, seen = run_adaptive({"adaptive_target": 0.3, "adaptive_decay": 0.5})
    # the first step targets 0.3 itself: the 0.25 token is closest and most likely
    assert seen[0] == approx(adaptive_p_reference(PROBS, 0.3, 0.5, [])[0]) and max(seen[0], key=seen[0].get) == 1
    assert seen[1] != seen[0] and len(set(map(str, seen))) > 2  # every pick moves the adapted target


def test_adaptive_p_sees_what_the_stages_before_it_left():
    """Its 'original' probabilities are those after truncation and temperature, which always run first."""
    _, seen = run_adaptive({"adaptive_target": 0.3, "top_k": 2}, steps=1)
    assert seen[0] == approx(adaptive_p_reference((2 / 3, 1 / 3), 0.3, 0.9, [])[0])
    hot = [math.sqrt(p) / sum(map(math.sqrt, PROBS)) for p in PROBS]
    _, seen = run_adaptive({"adaptive_target": 0.3, "temperature": 2.0}, steps=1)
    assert seen[0] == approx(adaptive_p_reference(hot, 0.3, 0.9, [])[0])


def test_adaptive_p_with_a_negative_target_only_draws():
    _, seen = run_adaptive({"adaptive_target": -1.0}, steps=2)
    assert seen == [approx(dict(enumerate(PROBS)))] * 2


@pytest.mark.parametrize(
    "changes, printed, inactive",
    [
        ({"adaptive_target": 0.3}, "logits -> dist", ("order", "adaptive_p")),  # not in llama.cpp's default order
        ({**ADAPTIVE, "adaptive_target": 0.3}, "logits -> adaptive_p", None),
        (
            {**ADAPTIVE, "adaptive_target": 0.3, "top_k": 3, "temperature": 0.8},
            "logits -> top_k -> temperature -> adaptive_p",
            None,
        ),
        (
            {"samplers": "atk", "adaptive_target": 0.3, "top_k": 3, "temperature": 0.8},  # picks last wherever written
            "logits -> temperature -> top_k -> adaptive_p",
            None,
        ),
        ({**ADAPTIVE, "adaptive_target": -1.0}, "logits -> adaptive_p", None),  # as llama.cpp builds it
        # llama.cpp's Mirostat chain ignores the order, adaptive-p included
        (
            {**ADAPTIVE, "adaptive_target": 0.3, "mirostat": 2, "temperature": 0.8},
            "logits -> temperature -> mirostat_v2",
            ("mirostat", "adaptive_p"),
        ),
    ],
)
def test_adaptive_p_picks_the_token_when_the_order_names_it(changes, printed, inactive):
    settings = Settings({**neutral_values(), **changes})
    with build_chain(settings, CONTEXT, seed=0, n_ctx=64) as chain:
        assert str(chain) == printed
    assert inactive_knobs(settings).get("adaptive_target") == inactive


def test_adaptive_decay_is_greyed_while_the_target_is_off():
    assert inactive_knobs(Settings(ADAPTIVE))["adaptive_decay"] == ("requires", "adaptive_target")
    assert "adaptive_decay" not in inactive_knobs(Settings({**ADAPTIVE, "adaptive_target": 0.5}))


@pytest.mark.parametrize(
    "changes, printed",
    [
        ({}, "logits -> dist"),
        (
            {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "temperature": 0.8},
            "logits -> top_k -> top_p -> min_p -> temperature -> dist",
        ),
        ({"mirostat": 2, "top_k": 40, "temperature": 0.8}, "logits -> temperature -> mirostat_v2"),
        # llama.cpp's Mirostat chain: plain temperature only; no penalties, DRY or dynamic temperature
        (
            {"mirostat": 1, "repeat_penalty": 1.3, "dry_multiplier": 0.8, "dynatemp_range": 0.5, "temperature": 1.0},
            "logits -> mirostat",
        ),
        # llama-cpp-python's: penalties and no temperature, unless temperature 0 (greedy)
        (
            {"samplers": "llama-cpp-python", "mirostat": 2, "repeat_penalty": 1.3, "temperature": 0.8},
            "logits -> penalties -> mirostat_v2",
        ),
        ({"samplers": "llama-cpp-python", "mirostat": 2, "temperature": 0}, "logits -> temperature -> mirostat_v2"),
        (
            {"samplers": "llama-cpp-python", "repeat_penalty": 1.1, "top_k": 40, "temperature": 0.8},
            "logits -> penalties -> top_k -> temperature -> dist",
        ),
        ({"samplers": "tk", "top_k": 40, "temperature": 0.8}, "logits -> temperature -> top_k -> dist"),
        ({"logit_bias": {1: False}, "tfs_z": 0.9}, "logits -> logit_bias -> tail_free -> dist"),
    ],
)
def test_chain_prints_itself_with_only_the_stages_switched_on(changes, printed):
    settings = Settings({**neutral_values(), **changes})
    with build_chain(settings, CONTEXT, seed=0, n_ctx=64) as chain:
        assert str(chain) == printed


def test_same_seed_same_draws():
    logits = [math.log(p) for p in PROBS]
    draws = []
    for _ in range(2):
        with build_chain(Settings(neutral_values()), CONTEXT, seed=42, n_ctx=64) as chain:
            draws.append([chain.sample(Candidates.from_logits(logits)) for _ in range(20)])
    assert draws[0] == draws[1] and len(set(draws[0])) > 1


@pytest.mark.parametrize(
    "changes, expected",
    [
        (
            {"mirostat": 2},
            {"repeat_penalty", "dry_multiplier", "top_k", "top_p", "min_p", "dynatemp_range", "dynatemp_exponent"},
        ),
        ({"mirostat": 2, "samplers": "llama-cpp-python"}, {"temperature", "dynatemp_range", "top_k", "top_p", "min_p"}),
    ],
)
def test_knobs_the_mirostat_chain_skips_are_marked(changes, expected):
    settings = Settings({"repeat_penalty": 1.1, "dry_multiplier": 0.8, "dynatemp_range": 0.3, **changes})
    marked = {name for name, (kind, _) in inactive_knobs(settings).items() if kind == "mirostat"}
    assert expected <= marked and "mirostat_tau" not in marked


@pytest.mark.parametrize(
    "changes, cut",
    [
        ({}, {}),
        ({"top_k": 3, "top_p": 0.7}, {3: "top_k", 2: "top_p"}),
        ({"samplers": "pk", "top_k": 3, "top_p": 0.7}, {3: "top_p", 2: "top_p"}),
        ({"min_p": 0.4, "temperature": 0.5}, {2: "min_p", 3: "min_p"}),
        ({"top_n_sigma": 1.5}, {2: "top_n_sigma", 3: "top_n_sigma"}),  # masks with -inf instead of shrinking
        ({"temperature": 0}, {1: "temperature", 2: "temperature", 3: "temperature"}),
        ({"logit_bias": {0: False}, "top_k": 2}, {0: "logit_bias", 3: "top_k"}),
        ({"xtc_probability": 1.0, "xtc_threshold": 0.2}, {0: "xtc"}),
        ({**ADAPTIVE, "adaptive_target": 0.3, "top_k": 3}, {3: "top_k"}),  # adaptive-p reweighs, it never cuts
    ],
)
def test_a_traced_sample_names_the_stage_that_cut_each_watched_token(changes, cut):
    settings = Settings({**neutral_values(), **changes})
    with build_chain(settings, CONTEXT, seed=0, n_ctx=64) as chain:
        token, cut_by = chain.sample_traced(Candidates.from_logits([math.log(p) for p in PROBS]), [0, 1, 2, 3])
    assert cut_by == cut and token not in cut_by


def test_a_penalty_range_of_zero_holds_its_stage_off_as_in_llama_cpp():
    """llama_sampler_init_dry / _penalties build an empty sampler when their range is 0."""
    settings = Settings(
        {**neutral_values(), "dry_multiplier": 0.8, "dry_penalty_last_n": 0, "repeat_penalty": 2.0, "repeat_last_n": 0}
    )
    with build_chain(settings, CONTEXT, seed=0, n_ctx=64) as chain:
        assert str(chain) == "logits -> dist"
    assert sample({"repeat_penalty": 2.0, "repeat_last_n": 0}, accepted=[0]) == approx(dict(enumerate(PROBS)))
    notes = inactive_knobs(settings)
    assert {name: notes[name] for name in ("dry_multiplier", "dry_base", "repeat_penalty")} == {
        "dry_multiplier": ("stopped", "dry_penalty_last_n 0"),
        "dry_base": ("stopped", "dry_penalty_last_n 0"),
        "repeat_penalty": ("stopped", "repeat_last_n 0"),
    }
    assert "dry_penalty_last_n" not in notes and "repeat_last_n" not in notes
