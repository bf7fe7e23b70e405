"""64 columns in one batch, each column's KV cache sized by its own needs, and the memory check.

A column's numbers must be the same bit for bit alone, among 8 and among 64, whatever its
neighbours ask (settings, seeds, max_tokens: so whatever size llama.cpp gives every stream).
"""

from __future__ import annotations

import ctypes
import re
import threading
import time
import tracemalloc

import llama_cpp
import pytest

from samplerlab.backends import check_independence
from samplerlab.backends.local import LocalBackend
from samplerlab.events import PROBE_PROMPT, Column, ColumnDone, GenerationError, Request
from samplerlab.llama import kv_plan
from samplerlab.llama.engine import MAX_COLUMNS, TokenBatch, generate, run
from samplerlab.llama.kv_plan import KvShape, column_need, compute_bytes, kv_bytes_per_cell
from samplerlab.llama.models import Model
from samplerlab.llama.prompt_reuse import CONTEXTS, _new_context
from samplerlab.schema.load_settings import LoadSettings
from samplerlab.schema.params import Settings
from samplerlab.words.errors_ja import localize

PROBE = Request(PROBE_PROMPT)
CELL_HEADER = 12  # llama_pos, n_seq_id, seq_id per cell in llama.cpp's sequence state


def record(column) -> list:
    """Everything a column's tokens say: ids, raw and sampled probabilities, every candidate's logprob."""
    return [(t.token_id, t.raw_prob, t.prob, t.before, t.after, t.candidates) for t in column.tokens] + [column.text]


def neighbour(i: int) -> Column:
    """Another column each time: its own order, temperature, seed and length."""
    settings = Settings(
        {
            "temperature": 0.3 + 0.1 * (i % 17),
            "top_k": (0, 40, 5)[i % 3],
            "min_p": (0.05, 0.0)[i % 2],
            "seed": 1000 + i,
            "max_tokens": (4, 9, 30, 200, 400)[i % 5],
            "repeat_penalty": (1.0, 1.2)[i % 2],
        }
    )
    return Column(f"n{i}", settings)


def run_until(model: Model, columns: list[Column], wanted: set[int]) -> dict[int, object]:
    """Run ``columns`` and stop the run once the ``wanted`` ones have ended (the neighbours may ask
    for far more tokens: they only have to be there, and to size the streams)."""
    cancel = threading.Event()
    done: dict[int, object] = {}
    for event in generate(model, PROBE, columns, cancel):
        if isinstance(event, ColumnDone) and event.column in wanted:
            done[event.column] = event.result
            if len(done) == len(wanted):
                cancel.set()
    return done


TARGETS = [
    Column("default", Settings({"max_tokens": 20, "seed": 3})),
    Column("greedy", Settings({"temperature": 0, "max_tokens": 20})),
]


def test_a_column_is_the_same_alone_among_8_and_among_64(model: Model):
    alone = [run(model, PROBE, [target]).columns[0] for target in TARGETS]
    assert CONTEXTS.shape(model) == KvShape(1, 256)

    eight = [neighbour(i) for i in range(8)]
    eight[0], eight[5] = TARGETS
    eight[3] = Column("to the end", Settings({"max_tokens": 0, "seed": 9}))  # asks for the whole n_ctx
    among_8 = run_until(model, eight, {0, 5})
    assert CONTEXTS.shape(model) == KvShape(8, model.load.n_ctx)

    sixty_four = [neighbour(i) for i in range(64)]
    sixty_four[37], sixty_four[63] = TARGETS
    among_64 = run_until(model, sixty_four, {37, 63})
    prompt = len(model.tokenize(model.chat_prompt([{"role": "user", "content": PROBE_PROMPT}]), False))
    assert CONTEXTS.shape(model) == KvShape(64, kv_plan.padded(prompt + 400))

    for target, index_8, index_64 in zip(alone, (0, 5), (37, 63)):
        assert len(target.tokens) == 20 or target.finish_reason == "end"
        assert record(among_8[index_8]) == record(target)
        assert record(among_64[index_64]) == record(target)


def test_each_column_keeps_its_own_room_whatever_the_streams_hold(model_path):
    """A short context: a column asking for more than n_ctx stops at its own context, not at the
    stream llama.cpp padded to 256 for it."""
    with Model(model_path, LoadSettings({"n_ctx": 100})) as small:
        result = run(
            small, Request("Count: 1, 2, 3,", "raw"), [Column("long", Settings({"max_tokens": 500, "seed": 1}))]
        )
        assert CONTEXTS.shape(small) == KvShape(1, 256)
        column = result.columns[0]
        assert column.finish_reason in ("context", "end")
        if column.finish_reason == "context":
            assert result.prompt_tokens + len(column.tokens) == 100


def test_column_needs_and_the_shape_they_make():
    assert column_need(30, 20, 2048) == 50
    assert column_need(30, 0, 2048) == 2048  # until the context is full
    assert column_need(30, 5000, 2048) == 2048
    assert KvShape.of(30, [20, 10], 2048) == KvShape(2, 256)
    assert KvShape.of(300, [20, 0], 2048) == KvShape(2, 2048)
    assert KvShape(8, 512).fits_in(KvShape(8, 1024)) and not KvShape(8, 256).fits_in(KvShape(8, 1024))
    assert not KvShape(8, 512).fits_in(KvShape(16, 512)) and not KvShape(8, 512).fits_in(KvShape(8, 256))


def test_the_context_cache_frees_a_large_context_for_a_small_run(model: Model):
    big = [Column(str(i), Settings({"max_tokens": 0 if i == 0 else 3, "seed": i})) for i in range(4)]
    run_until(model, big, {1, 2, 3})
    assert CONTEXTS.shape(model) == KvShape(4, model.load.n_ctx)
    run(model, PROBE, [Column(str(i), Settings({"max_tokens": 3, "seed": i})) for i in range(4)])
    assert CONTEXTS.shape(model) == KvShape(4, 256)


def test_up_to_64_columns_on_a_cpu(model: Model):
    assert MAX_COLUMNS == 64 and LocalBackend(model).info.parallel == 64
    with pytest.raises(GenerationError, match="expected 1 to 64 columns, got 65"):
        list(generate(model, PROBE, [Column(str(i), Settings({"max_tokens": 1})) for i in range(65)]))


# -- the memory estimate against what llama.cpp allocates --------------------------------------
def state_size(model: Model, tokens: int) -> int:
    context = _new_context(model, KvShape(1, 256))
    batch = TokenBatch(tokens)
    try:
        batch.fill(list(range(100, 100 + tokens)), range(tokens), [0] * tokens, [False] * tokens)
        assert llama_cpp.llama_decode(context, batch.batch) == 0
        return llama_cpp.llama_state_seq_get_size(context, 0)
    finally:
        batch.close()
        llama_cpp.llama_free(context)


@pytest.mark.parametrize("cache", ["f16", "q8_0"])
def test_kv_bytes_per_cell_is_what_llama_cpp_stores(model_path, model: Model, cache):
    """llama.cpp's own state of one sequence grows by exactly the estimate per cell, and the cell's
    position and sequence id (12 bytes of the state format, not of the cache)."""
    if cache == "f16":
        assert state_size(model, 2) - state_size(model, 1) == kv_bytes_per_cell(model) + CELL_HEADER
        return
    with Model(model_path, LoadSettings({"type_k": cache})) as quantized:
        assert state_size(quantized, 2) - state_size(quantized, 1) == kv_bytes_per_cell(quantized) + CELL_HEADER
        assert kv_bytes_per_cell(quantized) < kv_bytes_per_cell(model)


class _Log:
    """llama.cpp's own report of the buffers it allocates (its info log), while a context is made."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.callback = llama_cpp.llama_log_callback(lambda level, text, _: self.lines.append(text.decode()))

    def __enter__(self) -> _Log:
        llama_cpp.llama_log_set(self.callback, ctypes.c_void_p(0))
        return self

    def __exit__(self, *exc: object) -> None:
        from samplerlab.llama.models import _backend

        llama_cpp.llama_log_set(_backend().callback, ctypes.c_void_p(0))

    def mib(self, what: str) -> float:
        return float(re.search(rf"{what} buffer size = +([\d.]+) MiB", "".join(self.lines))[1])


@pytest.mark.parametrize("shape", [KvShape(1, 256), KvShape(64, 256), KvShape(8, 2048)], ids=str)
def test_the_estimate_bounds_what_llama_cpp_allocates(model: Model, shape):
    with _Log() as log:
        llama_cpp.llama_free(_new_context(model, shape))
    assert log.mib("KV") == pytest.approx(shape.n_ctx * kv_bytes_per_cell(model) / 2**20, abs=0.005)  # printed %.2f
    estimate = compute_bytes(model, shape, max(model.load.n_batch, shape.n_seq))
    assert log.mib("compute") * 2**20 <= estimate <= 2 * log.mib("compute") * 2**20


def test_a_tokens_python_cost_stays_under_its_bound(model: Model):
    settings = [Settings({"max_tokens": 40, "seed": i, "temperature": 1.5}) for i in range(2)]
    run(model, PROBE, [Column(str(i), s) for i, s in enumerate(settings)])  # warm: caches, chains
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = run(model, PROBE, [Column(str(i), s) for i, s in enumerate(settings)])
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    tokens = sum(len(c.tokens) for c in result.columns)
    assert tokens > 40 and held / tokens < kv_plan.TOKEN_BYTES


# -- refusing a run that will not fit ---------------------------------------------------------
def test_a_run_over_the_memory_budget_is_refused_in_one_line(model: Model, monkeypatch):
    CONTEXTS.release(model)  # the run must make a new context: none held fits it
    monkeypatch.setenv(kv_plan.BUDGET_ENV, "200M")
    columns = [Column(str(i), Settings({"max_tokens": 0, "seed": i})) for i in range(16)]
    with pytest.raises(GenerationError) as refused:
        list(generate(model, PROBE, columns))
    line = str(refused.value)
    assert "\n" not in line and "lower the columns, max_tokens or n_ctx" in line
    assert f"16 columns x {model.load.n_ctx} tokens" in line and "only 200 MiB is available" in line
    assert CONTEXTS.shape(model) is None  # refused before anything was allocated
    japanese = localize(line, "ja")
    assert "200 MiB" in japanese and "列数" in japanese and japanese != line
    # the same budget runs what fits in it
    fits = run(model, PROBE, [Column("short", Settings({"max_tokens": 4, "seed": 1}))])
    assert len(fits.columns[0].tokens) == 4


def test_a_malformed_budget_is_one_line(model: Model, monkeypatch):
    monkeypatch.setenv(kv_plan.BUDGET_ENV, "lots")
    with pytest.raises(GenerationError, match="SAMPLERLAB_MEMORY_BUDGET='lots': expected a size such as 512M or 2G"):
        list(generate(model, PROBE, [Column("a", Settings({"max_tokens": 1}))]))


# -- the independence probe at the new width --------------------------------------------------
def test_the_independence_probe_runs_64_columns_and_says_what_it_costs(model: Model):
    started = time.perf_counter()
    verdict = check_independence(LocalBackend(model))
    seconds = time.perf_counter() - started
    assert verdict.independent and verdict.max_difference == 0.0
    print(f"independence probe (1 + 4 columns x 16 tokens, 64 columns x 3 tokens): {seconds:.2f} s")
