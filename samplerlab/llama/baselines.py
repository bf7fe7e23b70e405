"""What samplerlab's engine is timed against: a llama.cpp run by hand and the machine's limit.

The llama_cpp half of the benchmark (runs.bench times it); the rest of bench imports no llama_cpp.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import llama_cpp
import numpy as np

from ..schema.load_settings import FLASH_ATTENTION
from .engine import TokenBatch
from .kv_plan import KvShape
from .prompt_reuse import CONTEXTS

if TYPE_CHECKING:
    from .models import Model


@contextlib.contextmanager
def _model_params(**fields: object) -> Iterator[None]:
    """llama-cpp-python 0.3.36's ``Llama()`` has no ``use_extra_bufts`` argument and leaves repack on,
    which crashes on AMX CPUs; while it is made, the default model params it starts from carry ours."""
    original = llama_cpp.llama_cpp.llama_model_default_params

    def ours() -> llama_cpp.llama_model_params:
        params = original()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    llama_cpp.llama_cpp.llama_model_default_params = ours
    try:
        yield
    finally:
        llama_cpp.llama_cpp.llama_model_default_params = original


def completion_llama(model: Model) -> llama_cpp.Llama:
    """A ``Llama`` loaded with ``model``'s load settings (repack and flash attention included), so that
    ``create_completion`` computes what samplerlab computes, on any CPU."""
    with _model_params(use_extra_bufts=model.load.repack):
        return llama_cpp.Llama(
            str(model.path),
            n_ctx=model.load.n_ctx,
            n_batch=model.load.n_batch,
            n_threads=model.n_threads,
            n_threads_batch=model.n_threads,
            n_gpu_layers=model.load.n_gpu_layers,
            use_mmap=model.load.use_mmap,
            flash_attn=FLASH_ATTENTION[model.load.flash_attn] == 1,
            verbose=False,
        )


def _bare_loop(model: Model, text: str, columns: int, tokens: int, shape: KvShape | None = None) -> None:
    """The limit: batched decode and the cheapest reasonable sampling, nothing recorded; in a context of
    the shape the engine gives the same run (unless ``shape`` says otherwise), so both attend over the
    same cells."""
    prompt = model.tokenize(text)
    context = CONTEXTS.get(model, shape or KvShape.of(len(prompt), [tokens] * columns, model.load.n_ctx))
    batch = TokenBatch(max(len(prompt), columns))
    rng = np.random.default_rng(0)
    try:
        batch.fill(prompt, range(len(prompt)), [0] * len(prompt), [i == len(prompt) - 1 for i in range(len(prompt))])
        llama_cpp.llama_decode(context, batch.batch)
        memory = llama_cpp.llama_get_memory(context)
        for seq in range(1, columns):
            llama_cpp.llama_memory_seq_cp(memory, 0, seq, -1, -1)
        rows = [-1] * columns
        for step in range(tokens):
            chosen = [_top_k_sample(context, row, model.n_vocab, rng) for row in rows]
            batch.fill(chosen, [len(prompt) + step] * columns, range(columns), [True] * columns)
            llama_cpp.llama_decode(context, batch.batch)
            rows = list(range(columns))
    finally:
        batch.close()


def _top_k_sample(context, row: int, n_vocab: int, rng: np.random.Generator, k: int = 40) -> int:
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(context, row), shape=(n_vocab,))
    top = np.argpartition(logits, -k)[-k:]
    weights = np.exp(logits[top] - logits[top].max())
    return int(top[rng.choice(k, p=weights / weights.sum())])
