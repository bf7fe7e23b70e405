"""How much KV cache a batched run gets, what the run costs in memory, and whether that fits.

Each column needs cells for its own prompt and its own ``max_tokens`` (0: until its context of
``n_ctx`` is full); that is all it may ever use, whoever runs beside it. llama.cpp gives every
stream of a non-unified context the same size (llama-context.cpp: ``n_ctx_seq = GGML_PAD(n_ctx /
n_seq_max, 256)``), so a context holds, per column, the largest need of the run padded to 256.
A column's numbers never depend on that size: attention spans only ``n_kv`` cells, the used cells of
the ubatch's streams padded to 256 (llama-kv-cache.cpp ``get_n_kv``), the same for a stream of 256
cells as for one of 8192, and every column of a run stands at the same position at every step
(tests/llama/test_kv_plan.py proves it bitwise, alone, among 8 and among 64).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import llama_cpp

from ..events import GenerationError
from ..files.model_files import available_memory

if TYPE_CHECKING:
    from .models import Model

PAD = 256  # llama.cpp pads the context and every stream to a multiple of 256 cells
CPU_MAX_COLUMNS = 64  # on a CPU every column costs a row of every step: more only queue
GPU_MAX_COLUMNS = 256  # llama.cpp's LLAMA_MAX_SEQ
BUDGET_ENV = "SAMPLERLAB_MEMORY_BUDGET"  # the most bytes a run may add, e.g. 512M or 2G; below what is free
# Bytes per element of each cache type: a block's bytes over its elements (ggml's type traits).
KV_TYPE_BYTES = {
    "f32": 4.0,
    "f16": 2.0,
    "q8_0": 34 / 32,
    "q5_1": 24 / 32,
    "q5_0": 22 / 32,
    "q4_1": 20 / 32,
    "q4_0": 18 / 32,
}
# What one generated token costs in Python, held until the run ends: its TokenEvent with 64 ranked
# candidates and 2 x 10 alternatives (tracemalloc measured 9.1 KiB on SmolLM2; test_kv_plan checks the bound).
TOKEN_BYTES = 12 << 10
MiB = 1 << 20


def column_need(prompt_tokens: int, max_tokens: int, n_ctx: int) -> int:
    """The cells one column can fill: its prompt and its max_tokens, at most its context of n_ctx."""
    return n_ctx if not max_tokens else min(n_ctx, prompt_tokens + max_tokens)


def padded(cells: int) -> int:
    return -(-cells // PAD) * PAD


@dataclass(frozen=True)
class KvShape:
    """A context's shape: ``n_seq`` streams of ``cells`` cells each."""

    n_seq: int
    cells: int

    @property
    def n_ctx(self) -> int:
        return self.n_seq * self.cells

    @classmethod
    def of(cls, prompt_tokens: int, max_tokens: Sequence[int], n_ctx: int) -> KvShape:
        """One stream per column, each as large as the neediest column (llama.cpp sizes them alike)."""
        return cls(len(max_tokens), padded(max(column_need(prompt_tokens, m, n_ctx) for m in max_tokens)))

    def fits_in(self, held: KvShape) -> bool:
        """Whether a context of shape ``held`` can run this one without holding much more than it needs:
        the same streams, each large enough and at most twice the size asked (a larger one is freed)."""
        return held.n_seq == self.n_seq and self.cells <= held.cells <= 2 * self.cells


def max_columns(model: Model) -> int:
    """64 on a CPU; up to llama.cpp's 256 when the model runs on a GPU (memory is checked per run)."""
    on_gpu = model.load.n_gpu_layers != 0 and bool(llama_cpp.llama_supports_gpu_offload())
    return GPU_MAX_COLUMNS if on_gpu else CPU_MAX_COLUMNS


def kv_bytes_per_cell(model: Model) -> int:
    """K and V of one cell over every layer, from the model's shape and the load's cache types.

    The head width comes from ``{arch}.attention.key_length`` / ``value_length`` when the file has them,
    else n_embd / n_head, as llama.cpp reads them (llama-model.cpp ``load_hparams``)."""
    arch = model.info.architecture
    n_head = max(1, llama_cpp.llama_model_n_head(model.pointer))
    n_head_kv = llama_cpp.llama_model_n_head_kv(model.pointer)
    width = llama_cpp.llama_model_n_embd(model.pointer) // n_head
    key = _int_meta(model, f"{arch}.attention.key_length") or width
    value = _int_meta(model, f"{arch}.attention.value_length") or width
    per_layer = n_head_kv * (key * KV_TYPE_BYTES[model.load.type_k] + value * KV_TYPE_BYTES[model.load.type_v])
    return math.ceil(llama_cpp.llama_model_n_layer(model.pointer) * per_layer)


def _int_meta(model: Model, key: str) -> int | None:
    value = model.meta(key)
    return int(value) if value is not None and value.isdigit() else None


def compute_bytes(model: Model, shape: KvShape, n_ubatch: int) -> int:
    """llama.cpp's compute buffer, from the worst-case graph it reserves (``sched_reserve``: a ubatch of
    n_ubatch tokens over full streams). Its allocator reuses memory, so the peak is the larger of the
    attention scores (every head, and the mask, over every cell of a stream) and the ubatch's logits,
    plus the widest activations; 10% and 8 MiB over the sizes llama.cpp reported for SmolLM2 from 1 x 256
    to 64 x 2048 and 8 x 8192 cells (an upper bound: flash attention needs less; test_kv_plan checks it)."""
    tokens = min(n_ubatch, shape.n_ctx)
    n_embd = llama_cpp.llama_model_n_embd(model.pointer)
    feed_forward = _int_meta(model, f"{model.info.architecture}.feed_forward_length") or 4 * n_embd
    scores = tokens * shape.cells * (llama_cpp.llama_model_n_head(model.pointer) + 1)
    activations = tokens * (2 * n_embd + feed_forward)
    return int(1.1 * 4 * (max(scores, tokens * model.n_vocab) + activations)) + 8 * MiB


@dataclass(frozen=True)
class MemoryPlan:
    """What a run will add to this process's memory, by part, against what it may use."""

    shape: KvShape
    kv: int  # the new context's KV cache (0: the held context serves)
    compute: int  # the new context's compute buffers
    python: int  # per-column buffers and every token's record until the run ends
    budget: int | None  # bytes it may add (None: unknown, never refused)

    @property
    def total(self) -> int:
        return self.kv + self.compute + self.python

    def check(self) -> None:
        """Refuse, in one line that names the numbers and what to lower, a run that will not fit."""
        if self.budget is None or self.total <= self.budget:
            return
        raise GenerationError(
            f"this run needs about {_size(self.total)} of memory (KV cache {_size(self.kv)} for "
            f"{self.shape.n_seq} columns x {self.shape.cells} tokens, compute {_size(self.compute)}, "
            f"results {_size(self.python)}) but only {_size(self.budget)} is available; "
            "lower the columns, max_tokens or n_ctx"
        )


def plan_memory(model: Model, shape: KvShape, limits: Sequence[int], new_context: bool, freed: int = 0) -> MemoryPlan:
    """The memory of a run of ``shape`` whose columns may generate ``limits`` tokens each; ``freed`` is
    what releasing the held context gives back first (when a new one replaces it)."""
    on_host = model.load.n_gpu_layers == 0 or not llama_cpp.llama_supports_gpu_offload()
    kv = shape.n_ctx * kv_bytes_per_cell(model) if new_context and on_host else 0
    compute = compute_bytes(model, shape, max(model.load.n_batch, shape.n_seq)) if new_context and on_host else 0
    python = len(limits) * 28 * model.n_vocab + sum(limits) * TOKEN_BYTES
    budget = memory_budget()
    return MemoryPlan(shape, kv, compute, python, None if budget is None else budget + freed)


def memory_budget() -> int | None:
    """The bytes a run may add: what the system has free (MemAvailable), what this cgroup still allows,
    and ``SAMPLERLAB_MEMORY_BUDGET`` when set, whichever is least."""
    limits = [size for size in (available_memory(), _cgroup_room(), _budget_env()) if size is not None]
    return min(limits) if limits else None


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?", re.IGNORECASE)


def _budget_env() -> int | None:
    text = os.environ.get(BUDGET_ENV, "").strip()
    if not text:
        return None
    match = _SIZE.fullmatch(text)
    if match is None:
        raise GenerationError(f"{BUDGET_ENV}={text!r}: expected a size such as 512M or 2G")
    return int(float(match[1]) * 1024 ** " KMGT".index(match[2].upper() or " "))


def _cgroup_room() -> int | None:
    """This cgroup's limit less its usage (v2, then v1); None without a limit."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit, usage = Path(limit_file).read_text().strip(), Path(usage_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit() and usage.isdigit() and int(limit) < 1 << 60:
            return max(0, int(limit) - int(usage))
    return None


def _size(size: int) -> str:
    return f"{size / 2**30:.2f} GiB" if size >= 2**30 else f"{size / MiB:.0f} MiB"
