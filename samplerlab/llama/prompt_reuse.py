"""The llama context kept between runs, and the prompt it last evaluated, reused when it comes again.

The app's main loop is: same prompt, new sliders, Run. When a run's prompt tokens equal the last
run's on the same model, its prompt is not evaluated again: after every run the context keeps
sequence 0's prompt cells (the generated cells and the other sequences are removed with
``llama_memory_seq_rm``) and the last prompt token's logits, so the next run starts from exactly
what a fresh evaluation computes. A context of another shape takes sequence 0's cells along as
bytes (``llama_state_seq_get_data`` / ``set_data``). Only equal token lists are reused, never a
mere prefix: a prefix's cells would be exact, but the rest of the prompt would be evaluated in
other batches than a fresh run's, which changes its numbers.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

import llama_cpp
import numpy as np

from ..events import GenerationError
from ..schema.load_settings import FLASH_ATTENTION
from .kv_plan import KvShape, kv_bytes_per_cell
from .models import Model, kv_type


@dataclass
class _Held:
    context: llama_cpp.llama_context_p
    shape: KvShape
    prompt: list[int] | None = None  # the tokens whose cells sequence 0 holds, with their last logits
    logits: np.ndarray | None = None


class ContextCache:
    """At most one llama context per model, kept between runs: creating one costs more than a step.

    A run whose shape the held context does not fit (``KvShape.fits_in``) frees it before making its
    own, so the cache never holds two, nor one far larger than the last run asked for. A model frees
    its context when it closes, so a later model at the same address never inherits one, nor its prompt.
    """

    def __init__(self) -> None:
        self._held: dict[int, _Held] = {}

    def get(self, model: Model, shape: KvShape) -> llama_cpp.llama_context_p:
        """An empty context of ``shape`` (a run that evaluates its own prompt, as the bench's bare loop)."""
        context, _ = self.open(model, shape, None)
        return context

    def columns(self, model: Model) -> int | None:
        """The sequences of the context held for ``model``, if any."""
        held = self._held.get(id(model))
        return None if held is None else held.shape.n_seq

    def open(
        self, model: Model, shape: KvShape, tokens: list[int] | None
    ) -> tuple[llama_cpp.llama_context_p, np.ndarray | None]:
        """A context of ``shape``; with the logits of ``tokens`` when sequence 0 already holds that very
        prompt (then it must not be evaluated again), else empty and with None."""
        held = self._held.get(id(model))
        reusable = held is not None and tokens is not None and held.prompt == tokens
        if held is not None and shape.fits_in(held.shape):
            if not reusable:
                self._clear(held)
            return held.context, held.logits if reusable else None
        saved = _seq_state(held.context) if reusable and held is not None else None
        logits = held.logits if reusable and held is not None else None
        self.release(model)
        context = _new_context(model, shape)
        if held is None:
            model.on_close(lambda: self.release(model))
        fresh = _Held(context, shape)
        self._held[id(model)] = fresh
        if saved is not None and tokens is not None and _restored(context, saved, shape.n_seq, len(tokens)):
            fresh.prompt, fresh.logits = tokens, logits
            return context, logits
        return context, None

    def keep(self, model: Model, tokens: list[int], logits: np.ndarray) -> None:
        """After a run: keep only sequence 0's prompt cells, for the next run of the same prompt."""
        held = self._held.get(id(model))
        if held is None:
            return
        memory = llama_cpp.llama_get_memory(held.context)
        kept = llama_cpp.llama_memory_seq_rm(memory, 0, len(tokens), -1)
        for seq in range(1, held.shape.n_seq):
            kept = llama_cpp.llama_memory_seq_rm(memory, seq, -1, -1) and kept
        if kept and llama_cpp.llama_memory_seq_pos_max(memory, 0) == len(tokens) - 1:
            held.prompt, held.logits = list(tokens), logits
        else:
            self._clear(held)

    def forget(self, model: Model) -> None:
        """The held context no longer holds a whole prompt (a run stopped in it, or a decode failed)."""
        held = self._held.get(id(model))
        if held is not None:
            self._clear(held)

    def shape(self, model: Model) -> KvShape | None:
        """The shape of the context held for ``model``, if any."""
        held = self._held.get(id(model))
        return None if held is None else held.shape

    def held_bytes(self, model: Model) -> int:
        """The KV cache of the held context: what freeing it gives back."""
        held = self._held.get(id(model))
        return 0 if held is None else held.shape.n_ctx * kv_bytes_per_cell(model)

    def release(self, model: Model) -> None:
        held = self._held.pop(id(model), None)
        if held is not None:
            llama_cpp.llama_free(held.context)

    @staticmethod
    def _clear(held: _Held) -> None:
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(held.context), True)
        held.prompt = held.logits = None


def _restored(context: llama_cpp.llama_context_p, state: bytes, n_seq: int, n_tokens: int) -> bool:
    """Sequence 0 holds the prompt's ``n_tokens`` cells again (else the context is left empty)."""
    memory = llama_cpp.llama_get_memory(context)
    if _set_seq_state(context, state, n_seq) and llama_cpp.llama_memory_seq_pos_max(memory, 0) == n_tokens - 1:
        return True
    llama_cpp.llama_memory_clear(memory, True)
    return False


def _seq_state(context: llama_cpp.llama_context_p) -> bytes:
    """Sequence 0's cells as bytes, in llama.cpp's own format (read back by ``_set_seq_state``)."""
    size = llama_cpp.llama_state_seq_get_size(context, 0)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(context, buffer, size, 0)
    return bytes(buffer)[:written]


HEADER = 8  # a sequence's state opens with llama.cpp's magic and the sequence id, then the cache's stream count
STREAM_COUNT = struct.Struct("<I")


def _set_seq_state(context: llama_cpp.llama_context_p, state: bytes, n_seq: int) -> bool:
    """Restore sequence 0's cells into a context of ``n_seq`` streams; False if llama.cpp refused them.

    A sequence's state is a header, the stream count, then each stream's cell count and cells
    (llama-kv-cache.cpp ``state_write``); sequence 0 lives in stream 0, so the other streams are
    empty, a zero count each. llama.cpp refuses another stream count, so the empty ones are
    rewritten for this context's; anything else than that layout is not restored."""
    if len(state) < HEADER + STREAM_COUNT.size:
        return False
    (streams,) = STREAM_COUNT.unpack_from(state, HEADER)
    start, empty = HEADER + STREAM_COUNT.size, STREAM_COUNT.size * (streams - 1)
    if streams < 1 or len(state) < start + empty or any(state[len(state) - empty :]):
        return False
    cells = state[start : len(state) - empty]
    rewritten = state[:HEADER] + STREAM_COUNT.pack(n_seq) + cells + bytes(STREAM_COUNT.size * (n_seq - 1))
    buffer = (ctypes.c_uint8 * len(rewritten)).from_buffer_copy(rewritten)
    return llama_cpp.llama_state_seq_set_data(context, buffer, len(rewritten), 0) == len(rewritten)


def _new_context(model: Model, shape: KvShape) -> llama_cpp.llama_context_p:
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = shape.n_ctx
    params.n_batch = max(model.load.n_batch, shape.n_seq)
    params.n_ubatch = params.n_batch
    params.n_seq_max = shape.n_seq
    params.n_threads = params.n_threads_batch = model.n_threads
    params.flash_attn_type = FLASH_ATTENTION[model.load.flash_attn]
    params.type_k, params.type_v = kv_type(model.load.type_k), kv_type(model.load.type_v)
    params.kv_unified = False  # a stream per column: its cache layout never depends on the others
    params.no_perf = True
    context = llama_cpp.llama_init_from_model(model.pointer, params)
    if not context:
        raise GenerationError(
            f"llama.cpp could not create a context of {params.n_ctx} tokens for "
            f"{shape.n_seq} columns (out of memory? lower n_ctx)"
        )
    return context


CONTEXTS = ContextCache()
