"""What another setting would have done to a text, without running the model again.

A recorded column keeps, per token, the model's most likely raw candidates and their
log-probabilities (``--keep-candidates``; the app keeps 64 for every run). Replaying another
chain on them, teacher-forced on the recorded text, tells per token the probability the recorded
token would have had, how many candidates would survive, and whether the new chain would have
cut the token and which stage would. It uses llama.cpp's own samplers (``replay.ChainReplay``),
works when the model file is gone, and flags what it can only estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..events import is_known, known
from ..llama.replay import ChainReplay, Recorded
from ..schema.params import Settings

Record = Mapping[str, Any]


class WhatIfError(ValueError):
    """A record that cannot be replayed (no candidates kept ...); one line for a person."""


@dataclass(frozen=True)
class ReplayedToken:
    index: int
    text: str
    recorded_prob: float  # after the chain that wrote the text
    prob: float  # after the new chain; 0 where it would have cut the token
    survivors: int
    cut_by: str | None
    approximate: str | None


@dataclass(frozen=True)
class WhatIf:
    label: str
    changes: Mapping[str, Any]
    tokens: tuple[ReplayedToken, ...]

    @property
    def impossible(self) -> int:
        """Tokens of the text the new chain could not have written."""
        return sum(t.prob == 0 for t in self.tokens)

    @property
    def mean_prob(self) -> float:
        """Over the tokens whose probability is known (not those llama-server did not report); NaN for none."""
        values = known([t.prob for t in self.tokens])
        return math.fsum(values) / len(values) if values else math.nan

    @property
    def mean_survivors(self) -> float:
        seen = [t.survivors for t in self.tokens if is_known(t.prob)]
        return sum(seen) / len(seen) if seen else math.nan

    @property
    def approximate(self) -> int:
        return sum(t.approximate is not None for t in self.tokens)


def replay_record(
    record: Record,
    changes: Mapping[str, Any],
    prompt_ids: Sequence[int] | None = None,
    n_ctx: int = 2048,
    n_vocab: int | None = None,
) -> WhatIf:
    """``record`` (a column with kept candidates) replayed under its settings plus ``changes``."""
    tokens = record["tokens"]
    if tokens and not all(t.get("candidates") for t in tokens if t["id"] >= 0):
        raise WhatIfError(
            f"column {record['label']!r} has no kept candidates; run it with --keep-candidates "
            "(the app keeps them for its own runs)"
        )
    settings = Settings({**record["settings"], **changes}, source="--set")
    with ChainReplay(settings, int(record["seed"]), n_ctx, n_vocab) as chain:
        missing_prompt = (
            settings.penalize_prompt and prompt_ids is None and bool({"penalties", "dry"} & set(chain.stage_names))
        )
        if prompt_ids and settings.penalize_prompt:
            chain.remember(prompt_ids)
        replayed = tuple(_step(chain, index, token, missing_prompt) for index, token in enumerate(tokens))
    return WhatIf(str(record["label"]), dict(changes), replayed)


def _step(chain: ChainReplay, index: int, token: Record, missing_prompt: bool) -> ReplayedToken:
    pairs = token.get("candidates") or []
    if token["id"] < 0 or not pairs:
        return ReplayedToken(index, token["text"], math.nan, math.nan, 0, None, "the token was not reported")
    raw = token["raw_p"] if is_known(token["raw_p"]) else 0.0
    chosen_logprob = next((lp for t, lp in pairs if t == token["id"]), math.log(max(raw, 1e-45)))
    step = chain.step(
        Recorded(
            [t for t, _ in pairs],
            [lp for _, lp in pairs],
            [""] * len(pairs),
            token["id"],
            chosen_logprob,
            token["text"],
        )
    )
    reasons = (
        [step.approximate] if step.approximate and "not among the replay's survivors" not in step.approximate else []
    )
    if missing_prompt:
        reasons.append("the penalties also count the prompt, which this record does not hold")
    return ReplayedToken(
        index,
        token["text"],
        token["p"] if is_known(token["p"]) else math.nan,
        step.prob if step.chosen_survived else 0.0,
        step.survivors,
        step.cut_by.get(token["id"]),
        "; ".join(reasons) or None,
    )


def prompt_ids_of(document: Mapping[str, Any], prompt_index: int) -> list[int] | None:
    """The token ids a result file records for a prompt as sent, if it does."""
    for rendered in document.get("rendered") or ():
        if rendered.get("prompt_index") == prompt_index and isinstance(rendered.get("prompt_token_ids"), list):
            return rendered["prompt_token_ids"]
    return None
