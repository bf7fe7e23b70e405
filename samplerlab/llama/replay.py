"""Replaying a column's sampler chain on recorded candidates, with llama.cpp's own samplers.

A llama-server reports, per token, the model's raw top-N candidates (their log-probabilities
over the whole vocabulary) and the token it drew, never what its chain did. Replaying the
column's chain (same settings, same seed, same token history for penalties and DRY) on those N
candidates gives the same token view as a local column: the probability after the chain, the
survivors, and the stage that cut each alternative. The rest of the vocabulary is known only by
its total mass; it is stood in for by filler tokens no more likely than the least likely recorded
one, so every cut that falls inside the recorded candidates is exact. Where a figure depends on
what was not recorded, the step says so (``ReplayedStep.approximate``) instead of guessing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..events import TOKEN_ID_LIMIT, TOP_N, Candidate
from ..schema.chains import active_stage_names
from ..schema.params import Settings
from .sampling import Candidates, ChainContext, SamplerChain, build_chain, entropy

FILLER_ID = TOKEN_ID_LIMIT  # filler tokens get ids no vocabulary reaches
FILLER_EPSILON = 1e-6  # fillers sit just below the least likely recorded token, never tied with it
# Stages whose result depends on the whole distribution's shape, not only on its top.
WHOLE_DISTRIBUTION = {
    "top_n_sigma": "top-nσ measures the spread of every logit",
    "typ_p": "typical-p needs the entropy of the whole distribution",
}


@dataclass(frozen=True)
class Recorded:
    """One step as recorded: the raw top candidates (log-probabilities over the whole vocabulary,
    most likely first) and the token that was drawn, with its own log-probability."""

    ids: Sequence[int]
    logprobs: Sequence[float]
    texts: Sequence[str]
    chosen: int
    chosen_logprob: float
    chosen_text: str = ""


@dataclass(frozen=True)
class ReplayedStep:
    prob: float  # of the chosen token after the chain (0: the chain would have cut it)
    raw_prob: float
    before: tuple[Candidate, ...]
    after: tuple[Candidate, ...]
    survivors: int
    entropy: float
    cut_by: dict[int, str]
    approximate: str | None  # why some figure is not exact, or None
    chosen_survived: bool


class ChainReplay:
    """One column's chain, stepped along its recorded tokens."""

    def __init__(self, settings: Settings, seed: int, n_ctx: int, n_vocab: int | None = None) -> None:
        self.settings = settings
        self.n_vocab = n_vocab
        self.chain: SamplerChain = build_chain(
            settings, ChainContext(None, n_vocab or FILLER_ID, _no_tokenizer), seed, n_ctx, selector=False
        )
        self.stage_names = active_stage_names(settings)
        self.fixed_reasons = _fixed_reasons(settings, self.stage_names)

    def remember(self, tokens: Sequence[int]) -> None:
        self.chain.remember(tokens)

    def step(self, recorded: Recorded) -> ReplayedStep:
        ids, logits, texts = _with_chosen(recorded)
        tail = max(0.0, 1.0 - float(np.exp(logits).sum()))
        all_ids, all_logits = _with_filler(ids, logits, tail, self.n_vocab)
        candidates = Candidates.of(all_ids, all_logits)
        watch = ids[:TOP_N] if recorded.chosen in ids[:TOP_N] else np.append(ids[:TOP_N], recorded.chosen)
        cut = self.chain.apply_traced(candidates, watch)
        self.chain.accept(recorded.chosen)
        view = candidates.view()
        alive = view[view["logit"] > -np.inf]
        probs = _softmax(alive["logit"])
        reasons = list(self.fixed_reasons) + self._step_reasons(alive, recorded, ids, tail)
        by_id = dict(zip(alive["id"].tolist(), probs.tolist()))
        text_of = dict(zip(ids.tolist(), texts))
        real = [(t, p) for t, p in by_id.items() if t < FILLER_ID]
        real.sort(key=lambda pair: -pair[1])
        return ReplayedStep(
            prob=by_id.get(recorded.chosen, 0.0),
            raw_prob=math.exp(recorded.chosen_logprob),
            before=tuple(
                Candidate(int(t), text_of[int(t)], math.exp(float(lp))) for t, lp in zip(ids[:TOP_N], logits[:TOP_N])
            ),
            after=tuple(Candidate(t, text_of[t], p) for t, p in real[:TOP_N] if p > 0),
            survivors=len(alive),
            entropy=entropy(probs),
            cut_by={int(k): v for k, v in cut.items()},
            approximate="; ".join(dict.fromkeys(reasons)) or None,
            chosen_survived=recorded.chosen in by_id,
        )

    def _step_reasons(self, alive: np.ndarray, recorded: Recorded, ids: np.ndarray, tail: float) -> list[str]:
        reasons = []
        if (alive["id"] >= FILLER_ID).any():
            reasons.append(
                f"the chain keeps tokens beyond the {len(ids)} recorded candidates "
                f"(together {tail:.3g} of the raw probability), so the probabilities after it "
                "and the survivor count are estimates"
            )
        if recorded.chosen not in set(alive["id"].tolist()):
            reasons.append("the drawn token is not among the replay's survivors")
        return reasons

    def close(self) -> None:
        self.chain.close()

    def __enter__(self) -> ChainReplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _no_tokenizer(text: str) -> list[int]:
    raise ValueError("logit_bias: a replay takes token ids; resolve text keys first")


def _fixed_reasons(settings: Settings, stages: Sequence[str]) -> list[str]:
    """What makes every step of this chain an estimate, whatever the candidates."""
    reasons = [WHOLE_DISTRIBUTION[name] for name in stages if name in WHOLE_DISTRIBUTION]
    if "temperature" in stages and settings.dynatemp_range > 0:
        reasons.append("dynamic temperature needs the entropy of the whole distribution")
    if "penalties" in stages and settings.repeat_penalty != 1.0:
        reasons.append("repeat_penalty scales the raw logits, which only log-probabilities stand in for")
    if "penalties" in stages and min(settings.frequency_penalty, settings.presence_penalty) < 0:
        reasons.append("a negative penalty can raise tokens beyond the recorded candidates")
    if "dry" in stages and settings.dry_sequence_breakers:
        reasons.append("DRY's sequence breakers need the model's vocabulary")
    if settings.mirostat:
        reasons.append("Mirostat truncates and draws with an internal state that is not reported")
    elif "adaptive_p" in stages:
        reasons.append("adaptive-p reshapes the distribution with a running state that is not reported")
    if any(bias > 0 for bias in settings.logit_bias.values()):
        reasons.append("a positive logit bias can raise tokens beyond the recorded candidates")
    return reasons


def _with_chosen(recorded: Recorded) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The recorded candidates plus the drawn token when it was not among them, most likely first."""
    ids, logprobs, texts = list(recorded.ids), list(recorded.logprobs), list(recorded.texts)
    if recorded.chosen not in ids:
        ids.append(recorded.chosen)
        logprobs.append(recorded.chosen_logprob)
        texts.append(recorded.chosen_text)
    order = np.argsort(-np.asarray(logprobs, dtype=np.float64), kind="stable")
    return (
        np.asarray(ids, dtype=np.int32)[order],
        np.asarray(logprobs, dtype=np.float64)[order],
        [texts[i] for i in order],
    )


def _with_filler(
    ids: np.ndarray, logprobs: np.ndarray, tail: float, n_vocab: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The recorded candidates, then the unrecorded mass as equal filler tokens each just below the
    least likely recorded one: as few tokens as the mass allows, so a cut inside the recorded ones is
    placed exactly where the whole distribution would put it."""
    if tail <= 0 or not len(ids):
        return ids, logprobs
    floor = math.exp(float(logprobs[-1])) * (1 - FILLER_EPSILON)
    count = max(1, math.ceil(tail / floor)) if floor > 0 else 1
    if n_vocab is not None:
        count = max(1, min(count, n_vocab - len(ids)))
    filler_ids = np.arange(FILLER_ID, FILLER_ID + count, dtype=np.int32)
    filler = np.full(count, math.log(tail / count))
    return np.concatenate([ids, filler_ids]), np.concatenate([logprobs, filler])


def _softmax(logits: np.ndarray) -> np.ndarray:
    values = logits.astype(np.float64)
    if not len(values):
        return values
    weights = np.exp(values - values.max())
    return weights / weights.sum()
