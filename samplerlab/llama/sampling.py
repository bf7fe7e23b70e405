"""Sampler chains built from Settings, out of llama.cpp's own samplers.

A chain is a list of stages that share one call signature: ``apply`` edits the
candidate array in place (as llama.cpp's samplers do; copying 50k-entry arrays
every token would cost more than the sampling), ``accept`` records the chosen
token. The order is data (``Settings.samplers``); one loop builds the chain from
it and the chain prints itself: ``logits -> penalties -> top_k -> ... -> dist``
(or ``-> adaptive_p`` / ``-> mirostat``, the stage that picks the token).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import llama_cpp
import numpy as np

from ..schema.chains import active_stage_names, chain_settings, selector_name
from ..schema.params import SELECTING_STAGES, Settings

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)
MIN_KEEP = 1  # llama.cpp uses 0 and llama-cpp-python 1; every stage treats them alike
HISTORY_STAGES = frozenset({"penalties", "dry"})
# Stages that can remove a candidate without shrinking the array, by setting its logit to -inf
# (temperature only at 0 or below, where it keeps just the top token).
MASKING_STAGES = frozenset({"logit_bias", "top_n_sigma"})


class Candidates:
    """A ``llama_token_data_array`` over a reusable numpy buffer: one per column."""

    def __init__(self, n_vocab: int) -> None:
        self.buffer = np.zeros(n_vocab, dtype=TOKEN_DATA)
        template = self.buffer.copy()
        template["id"] = np.arange(n_vocab, dtype=np.int32)
        # Copied as raw bytes: numpy copies structured arrays field by field, 30x slower.
        self._bytes, self._template_bytes = self.buffer.view(np.uint8), template.view(np.uint8)
        self._data = self.buffer.ctypes.data_as(llama_cpp.llama_token_data_p)
        self._base = self.buffer.ctypes.data
        self.array = llama_cpp.llama_token_data_array(data=self._data, size=n_vocab, selected=-1, sorted=False)
        self.pointer = ctypes.byref(self.array)
        # The array's data pointer read in place: ctypes.cast on every look cost more than a stage.
        offset = llama_cpp.llama_token_data_array.data.offset  # type: ignore[attr-defined]  # ctypes field descriptor
        self._address = ctypes.c_void_p.from_buffer(self.array, offset)

    def load(self, logits: np.ndarray) -> None:
        np.copyto(self._bytes, self._template_bytes)
        self.buffer["logit"] = logits
        self.array.data = self._data  # type: ignore[assignment]  # the stub types the field as an Array; it is a pointer
        self.array.size = len(self.buffer)
        self.array.selected = -1
        self.array.sorted = False

    @classmethod
    def of(cls, ids: np.ndarray, logits: np.ndarray) -> Candidates:
        """Candidates for some tokens only (a replay's recorded ones), in the order given."""
        candidates = cls(len(ids))
        candidates._template_bytes.view(TOKEN_DATA)["id"] = ids
        candidates.load(np.asarray(logits, dtype=np.float32))
        return candidates

    @classmethod
    def from_logits(cls, logits: Sequence[float]) -> Candidates:
        candidates = cls(len(logits))
        candidates.load(np.asarray(logits, dtype=np.float32))
        return candidates

    def start(self) -> int:
        """Where the survivors begin: samplers may shrink the array from the front (XTC moves ``data``)."""
        address = cast(int, self._address.value)  # into self.buffer: never NULL
        return (address - self._base) // TOKEN_DATA.itemsize

    def view(self) -> np.ndarray:
        """The surviving candidates (unordered) with their logits and, after a selector, probabilities."""
        start = self.start()
        return self.buffer[start : start + self.array.size]

    def alive(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` are still in the running: in the array and not masked with a logit of -inf.

        While the array is still in id order at those places (nothing sorted or shrank it yet) they
        are looked up directly; a pass over a whole 50k-token vocabulary per stage would cost more.
        """
        return np.array(self.alive_list(ids.tolist()), dtype=bool)

    def alive_list(self, ids: list[int]) -> list[bool]:
        """``alive`` for a short list of token ids (a step's watched ones), without numpy's per-call cost."""
        view = self.view()
        if not ids:
            return []
        if len(view) > max(ids):
            at = view[ids]
            if at["id"].tolist() == ids:
                return (at["logit"] > -np.inf).tolist()
        alive = set(view["id"][view["logit"] > -np.inf].tolist())  # a few survivors: a set beats np.isin
        return [token in alive for token in ids]

    @property
    def selected_token(self) -> int:
        return int(self.view()[self.array.selected]["id"])


class Stage(Protocol):
    name: str
    masks: bool  # may remove candidates by setting their logit to -inf, without shrinking the array

    def apply(self, candidates: Candidates) -> None: ...
    def accept(self, token: int) -> None: ...
    def close(self) -> None: ...


class NativeStage:
    """One of llama.cpp's samplers (``llama_sampler_init_*``)."""

    def __init__(
        self, name: str, pointer: llama_cpp.llama_sampler_p, keepalive: object = None, masks: bool | None = None
    ) -> None:
        if not pointer:
            raise ValueError(f"llama.cpp refused to create the {name} sampler")
        self.name = name
        self.masks = name in MASKING_STAGES if masks is None else masks
        self._pointer = pointer
        self._keepalive = keepalive  # C strings the sampler may still point to

    def apply(self, candidates: Candidates) -> None:
        llama_cpp.llama_sampler_apply(self._pointer, candidates.pointer)

    def accept(self, token: int) -> None:
        llama_cpp.llama_sampler_accept(self._pointer, token)

    def close(self) -> None:
        if self._pointer:
            llama_cpp.llama_sampler_free(self._pointer)
            self._pointer = None  # type: ignore[assignment]  # ctypes passes None as NULL; the stub has no Optional


class TailFreeStage:
    """Tail-free sampling (Phillips, 2019), which llama.cpp removed: a port of its last code,
    ``llama_sampler_tail_free_apply`` (src/llama-sampling.cpp, 2024), in float32 as there.

    Where the second differences sum to (almost) nothing, llama.cpp weighed every position
    equally and still cut; so does this, so that its own reference cases (the old
    tests/test-sampling.cpp ``test_tfs``) give the same kept tokens.
    """

    name = "tail_free"
    masks = False

    def __init__(self, z: float, min_keep: int = MIN_KEEP) -> None:
        self.z = np.float32(z)
        self.min_keep = min_keep

    def apply(self, candidates: Candidates) -> None:
        view = candidates.view()
        if self.z >= 1.0 or len(view) <= 2:
            return
        probs = _softmax_sorted(candidates)
        first = probs[:-1] - probs[1:]
        second = np.abs(first[:-1] - first[1:])
        total = np.cumsum(second, dtype=np.float32)[-1]  # std::accumulate: a running float sum
        if total > np.float32(1e-6):
            second = second / total
        else:
            second = np.full(len(second), np.float32(1.0) / np.float32(len(second)), dtype=np.float32)
        cumulative = np.cumsum(second, dtype=np.float32)
        over = np.nonzero((cumulative > self.z) & (np.arange(len(cumulative)) >= self.min_keep))[0]
        candidates.array.size = int(over[0]) if len(over) else len(view)

    def accept(self, token: int) -> None:
        pass

    def close(self) -> None:
        pass


def _softmax_sorted(candidates: Candidates) -> np.ndarray:
    """llama.cpp's old ``llama_sampler_softmax_impl``: sort by logit, then float32 probabilities into ``p``."""
    view = candidates.view()
    view[:] = view[np.argsort(-view["logit"], kind="stable")]
    candidates.array.sorted = True
    weights = np.exp(view["logit"] - view["logit"][0])
    view["p"] = weights / np.cumsum(weights, dtype=np.float32)[-1]
    return view["p"]


@dataclass(frozen=True)
class ChainContext:
    """What a chain needs from the loaded model."""

    vocab: llama_cpp.llama_vocab_p | None
    n_vocab: int
    tokenize: Callable[[str], list[int]]


class SamplerChain:
    """The stages of one column, applied in order; the last one picks the token."""

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = stages

    def __str__(self) -> str:
        return " -> ".join(["logits", *(stage.name for stage in self.stages)])

    def sample(self, candidates: Candidates) -> int:
        for stage in self.stages:
            stage.apply(candidates)
        return candidates.selected_token

    def sample_traced(self, candidates: Candidates, watch: Sequence[int] | np.ndarray) -> tuple[int, dict[int, str]]:
        """The chosen token, and for each watched token that did not survive, the stage that cut it."""
        cut = self.apply_traced(candidates, watch)
        return candidates.selected_token, cut

    def apply_traced(self, candidates: Candidates, watch: Sequence[int] | np.ndarray) -> dict[int, str]:
        """Apply every stage; for each watched token that did not survive, the stage that cut it.

        This is what turns "top-p 0.95" into "top_p cut 'shadows'". Looking costs a pass over the
        survivors, so it happens only after a stage that can have removed something: the array
        shrank or moved, or the stage removes by setting a logit to -inf.
        """
        cut: dict[int, str] = {}
        pending = [int(token) for token in watch]
        array = candidates.array
        for stage in self.stages:
            before = (array.size, candidates.start())
            stage.apply(candidates)
            if pending and (stage.masks or (array.size, candidates.start()) != before):
                alive = candidates.alive_list(pending)
                cut.update((token, stage.name) for token, kept in zip(pending, alive) if not kept)
                pending = [token for token, kept in zip(pending, alive) if kept]
        return cut

    def accept(self, token: int) -> None:
        for stage in self.stages:
            stage.accept(token)

    def remember(self, tokens: Sequence[int]) -> None:
        """Show the prompt to the stages that look back at history (penalties, DRY), as llama-server does."""
        for stage in self.stages:
            if stage.name in HISTORY_STAGES:
                for token in tokens:
                    stage.accept(token)

    def close(self) -> None:
        for stage in self.stages:
            stage.close()

    def __enter__(self) -> SamplerChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _penalties(s: Settings, ctx: ChainContext, n_ctx: int) -> NativeStage:
    last_n = n_ctx if s.repeat_last_n == -1 else s.repeat_last_n
    return NativeStage(
        "penalties",
        llama_cpp.llama_sampler_init_penalties(
            ctx.n_vocab, last_n, s.repeat_penalty, s.frequency_penalty, s.presence_penalty
        ),
    )


def _dry(s: Settings, ctx: ChainContext, n_ctx: int) -> NativeStage:
    breakers = [b.encode("utf-8") for b in s.dry_sequence_breakers] if ctx.vocab is not None else []
    array = (ctypes.c_char_p * max(len(breakers), 1))(*breakers)
    last_n = n_ctx if s.dry_penalty_last_n == -1 else s.dry_penalty_last_n
    pointer = llama_cpp.llama_sampler_init_dry(
        ctx.vocab, s.dry_multiplier, s.dry_base, s.dry_allowed_length, last_n, array, len(breakers)
    )
    return NativeStage("dry", pointer, keepalive=(array, breakers))


STAGE_BUILDERS: dict[str, Callable[[Settings, ChainContext, int], Stage]] = {
    "penalties": _penalties,
    "dry": _dry,
    "top_n_sigma": lambda s, c, n: NativeStage("top_n_sigma", llama_cpp.llama_sampler_init_top_n_sigma(s.top_n_sigma)),
    "top_k": lambda s, c, n: NativeStage("top_k", llama_cpp.llama_sampler_init_top_k(s.top_k)),
    "tail_free": lambda s, c, n: TailFreeStage(s.tfs_z),
    "typ_p": lambda s, c, n: NativeStage("typ_p", llama_cpp.llama_sampler_init_typical(s.typical_p, MIN_KEEP)),
    "top_p": lambda s, c, n: NativeStage("top_p", llama_cpp.llama_sampler_init_top_p(s.top_p, MIN_KEEP)),
    "min_p": lambda s, c, n: NativeStage("min_p", llama_cpp.llama_sampler_init_min_p(s.min_p, MIN_KEEP)),
    "xtc": lambda s, c, n: NativeStage(
        "xtc", llama_cpp.llama_sampler_init_xtc(s.xtc_probability, s.xtc_threshold, MIN_KEEP, s.seed)
    ),
    "temperature": lambda s, c, n: NativeStage(
        "temperature",
        llama_cpp.llama_sampler_init_temp_ext(s.temperature, s.dynatemp_range, s.dynatemp_exponent),
        masks=s.temperature <= 0,
    ),
}


def resolve_bias(bias: dict, ctx: ChainContext) -> list[tuple[int, float]]:
    """Token ids and biases; a text key biases every token of its tokenization, as llama-server does."""
    pairs: list[tuple[int, float]] = []
    for key, value in bias.items():
        ids = [key] if isinstance(key, int) else ctx.tokenize(key)
        for token in ids:
            if not 0 <= token < ctx.n_vocab:
                raise ValueError(f"logit_bias: token id {token} is outside the vocabulary (0 to {ctx.n_vocab - 1})")
            pairs.append((token, value))
    return pairs


def _logit_bias(s: Settings, ctx: ChainContext) -> NativeStage:
    pairs = resolve_bias(s.logit_bias, ctx)
    array = (llama_cpp.llama_logit_bias * len(pairs))(*(llama_cpp.llama_logit_bias(t, b) for t, b in pairs))
    return NativeStage(
        "logit_bias", llama_cpp.llama_sampler_init_logit_bias(ctx.n_vocab, len(pairs), array), keepalive=array
    )


def _selector(s: Settings, ctx: ChainContext, seed: int) -> NativeStage:
    """The stage that picks the token, chosen as common/sampling.cpp chooses it: Mirostat wins; else
    adaptive-p when the order names it (even with a negative target, where it only draws, with its own
    random numbers); else dist. Adaptive-p rewrites every candidate's logit but removes none."""
    name = selector_name(s)
    if name == "mirostat":
        return NativeStage(
            "mirostat", llama_cpp.llama_sampler_init_mirostat(ctx.n_vocab, seed, s.mirostat_tau, s.mirostat_eta, 100)
        )
    if name == "mirostat_v2":
        return NativeStage(
            "mirostat_v2", llama_cpp.llama_sampler_init_mirostat_v2(seed, s.mirostat_tau, s.mirostat_eta)
        )
    if name == "adaptive_p":
        return NativeStage(
            "adaptive_p", llama_cpp.llama_sampler_init_adaptive_p(s.adaptive_target, s.adaptive_decay, seed)
        )
    return NativeStage("dist", llama_cpp.llama_sampler_init_dist(seed))


def build_chain(settings: Settings, ctx: ChainContext, seed: int, n_ctx: int, selector: bool = True) -> SamplerChain:
    """One loop over the order builds the chain; logit bias first, a selector last (unless a replay,
    which knows the chosen token already, asks for none)."""
    stages: list[Stage] = []
    try:
        if settings.logit_bias:
            stages.append(_logit_bias(settings, ctx))
        seeded = chain_settings(settings).replace(seed=seed)
        for name in active_stage_names(settings):
            if name not in SELECTING_STAGES:  # _selector builds those
                stages.append(STAGE_BUILDERS[name](seeded, ctx, n_ctx))
        if selector:
            stages.append(_selector(settings, ctx, seed))
    except Exception:
        SamplerChain(stages).close()
        raise
    return SamplerChain(stages)


def softmax(logits: np.ndarray) -> np.ndarray:
    finite = np.isfinite(logits)
    if not finite.any():
        return np.zeros_like(logits, dtype=np.float64)
    shifted = logits.astype(np.float64) - logits[finite].max()
    weights = np.where(finite, np.exp(shifted), 0.0)
    return weights / weights.sum()


def entropy(probs: np.ndarray) -> float:
    positive = probs[probs > 0]
    return float(-(positive * np.log(positive)).sum()) if len(positive) else math.nan
