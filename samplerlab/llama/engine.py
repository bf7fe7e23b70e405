"""Batched, fixed-seed generation of several settings on one prompt.

The prompt is evaluated once, its KV cache copied to one sequence per column,
and every unfinished column decodes in one batch per step. Each column samples
with its own chain (``sampling.build_chain``) and streams ``TokenEvent``s; the
UI, the CLI and result files only ever see those events, never llama.cpp.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Generator, Iterator, Sequence

import llama_cpp
import numpy as np

from ..chats.conversation import AtLeast, fit_request, raw_prompt, request_messages
from ..events import (
    KEEP,
    TOP_N,
    Candidate,
    Column,
    ColumnDone,
    ColumnResult,
    Event,
    FinishReason,
    GenerationError,
    ModelClosed,
    Request,
    RunResult,
    TokenEvent,
    collect,
    resolve_seed,
)
from .kv_plan import CPU_MAX_COLUMNS, KvShape, max_columns, plan_memory
from .models import Model
from .prompt_reuse import CONTEXTS
from .sampling import Candidates, ChainContext, SamplerChain, build_chain, entropy
from .textstream import TextStream

MAX_COLUMNS = CPU_MAX_COLUMNS  # columns per batched run on a CPU (kv_plan.max_columns: more on a GPU)
LOCK_POLL = 0.05  # seconds between looks at Stop while a run waits for the model


class TokenBatch:
    """A reusable llama_batch filled from Python lists."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.batch = llama_cpp.llama_batch_init(capacity, 0, 1)

    def fill(
        self, tokens: Sequence[int], positions: Sequence[int], seqs: Sequence[int], want_logits: Sequence[bool]
    ) -> llama_cpp.llama_batch:
        batch = self.batch
        batch.n_tokens = len(tokens)
        for i, (token, pos, seq, logits) in enumerate(zip(tokens, positions, seqs, want_logits)):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        return batch

    def close(self) -> None:
        llama_cpp.llama_batch_free(self.batch)


def prompt_text(model: Model, request: Request) -> str:
    """Raw text as written; chat turns (``conversation.request_messages``) rendered by the model's template
    (never a text far larger than the context: its template would copy it all first)."""
    if request.mode == "raw":
        return raw_prompt(request) + request.prefix
    messages = request_messages(request)
    check_size(model, request.prefix, *(m["content"] for m in messages))
    return model.chat_prompt(messages) + request.prefix


def fitted_request(model: Model, request: Request, info: dict) -> Request:
    """The request's conversation cut to this model's context by its policy; counted as generation counts.

    A part far larger than the context is never rendered or tokenized: it counts as at least its
    bytes over the longest token (``AtLeast``), which is already more than the context holds."""
    limit = model.load.n_ctx - 1  # a prompt leaves room for one token

    def count(messages: list[dict]) -> int:
        size = sum(len(m["content"].encode("utf-8", "surrogatepass")) for m in messages)
        if size > _byte_bound(model):
            return AtLeast(-(-size // model.longest_piece))
        return len(prompt_tokens(model, request, model.chat_prompt(messages)))

    return fit_request(request, count, limit, info)


def _byte_bound(model: Model) -> int:
    """The most bytes of text a context can hold: n_ctx tokens of the longest token."""
    return model.load.n_ctx * model.longest_piece


def check_size(model: Model, *texts: str) -> None:
    """Refuse a prompt that cannot fit the context, before tokenizing it (which costs time and memory
    in proportion, under the model's lock)."""
    size = sum(len(text.encode("utf-8", "surrogatepass")) for text in texts)
    if size > _byte_bound(model):
        raise GenerationError(
            f"the prompt is {size} bytes, more than a context of {model.load.n_ctx} tokens can hold "
            f"(at most {_byte_bound(model)} bytes of this model's text); shorten the prompt or raise n_ctx"
        )


def prompt_tokens(model: Model, request: Request, text: str) -> list[int]:
    """The prompt's tokens, with BOS added the way llama-cpp-python does.

    Raw text gets the model's BOS, as ``create_completion`` adds it. A rendered chat template
    already contains ``bos_token`` where the model wants one, so adding another would double it;
    like ``create_chat_completion`` (``add_bos=not added_special``; Jinja formatters set
    added_special), chat text gets no added special tokens, though the ones written in it are parsed.
    """
    check_size(model, text)
    return model.tokenize(text, add_special=request.mode == "raw", parse_special=True)


def _decode_prompt(context, batch: TokenBatch, tokens: list[int], n_batch: int, stopped=lambda: False) -> bool:
    """Evaluate the prompt a batch at a time; False if Stop (or the time limit) came first."""
    for start in range(0, len(tokens), n_batch):
        if stopped():
            return False
        chunk = tokens[start : start + n_batch]
        last = start + len(chunk) == len(tokens)
        batch.fill(
            chunk,
            range(start, start + len(chunk)),
            [0] * len(chunk),
            [last and i == len(chunk) - 1 for i in range(len(chunk))],
        )
        if llama_cpp.llama_decode(context, batch.batch) != 0:
            raise GenerationError("llama.cpp failed to evaluate the prompt")
    return True


class StepBuffers:
    """What every column's step works in, one set per run: the columns step one after another, so
    they share it, and a run of 64 columns touches one vocabulary-sized buffer per step instead of
    64 (each as large as a CPU cache: the 64th column's used to fall out of it)."""

    def __init__(self, n_vocab: int) -> None:
        self.candidates = Candidates(n_vocab)
        self.scratch = np.empty(n_vocab, dtype=np.float32)

    def raw_total(self, logits: np.ndarray, shift: np.float32) -> float:
        """The softmax denominator of the raw logits (shifted by their max), as float32 exps summed in float64."""
        shifted = np.subtract(logits, shift, out=self.scratch)
        return float(np.exp(shifted, out=shifted).sum(dtype=np.float64))


class _ColumnState:
    """Everything one column carries between steps."""

    def __init__(
        self, index: int, column: Column, model: Model, seed: int, n_ctx: int, room: int, buffers: StepBuffers
    ) -> None:
        settings = column.settings
        self.index = index
        self.model = model
        chain_context = ChainContext(model.vocab, model.n_vocab, lambda t: model.tokenize(t, False, False))
        try:
            self.chain: SamplerChain = build_chain(settings, chain_context, seed, n_ctx)
        except ValueError as error:
            raise GenerationError(f"column {column.label!r}: {error}") from None
        self.buffers = buffers
        self.candidates = buffers.candidates
        self.stream = TextStream(settings.stop)
        self.limit = min(settings.max_tokens or room, room)
        self.result = ColumnResult(column.label, settings, seed, str(self.chain))
        self.started = time.perf_counter()
        self.last_token = -1
        self.tail = ""  # what the stream released only at the end

    def step(self, logits: np.ndarray) -> TokenEvent:
        """Sample one token and record what the chain did: every number as it always was, computed
        with as few passes over the vocabulary and as few small numpy calls as it takes."""
        candidates = self.candidates
        candidates.load(logits)
        kept = np.argpartition(logits, -KEEP)[-KEEP:]
        kept_logits = logits[kept]
        order = np.argsort(-kept_logits, kind="stable")
        kept, kept_logits = kept[order], kept_logits[order]
        shift = logits.max()
        total = self.buffers.raw_total(logits, shift)
        log_total = shift + math.log(total)
        ids = kept.tolist()
        token, cut_by = self.chain.sample_traced(candidates, ids[:TOP_N])
        self.chain.accept(token)
        view = candidates.view()
        probs = view["p"]
        best_after = np.argpartition(probs, -TOP_N)[-TOP_N:] if len(view) > TOP_N else slice(None)
        wide = kept_logits.astype(np.float64)
        event = TokenEvent(
            column=self.index,
            index=len(self.result.tokens),
            token_id=token,
            text=self.stream.push(self.model.piece(token)),
            prob=float(probs[candidates.array.selected]),
            raw_prob=float(np.exp(float(logits[token]) - shift) / total),
            before=self._alternatives(ids[:TOP_N], (np.exp(wide[:TOP_N] - shift) / total).tolist()),
            after=self._alternatives(view["id"][best_after].tolist(), probs[best_after].astype(np.float64).tolist()),
            survivors=int(np.count_nonzero(probs)),
            entropy=entropy(probs.astype(np.float64)),
            cut_by=cut_by,
            candidates=tuple(zip(ids, (wide - log_total).tolist())),
        )
        self.result.tokens.append(event)
        self.last_token = token
        self._check_finish(token)
        return event

    def _alternatives(self, ids: list[int], probs: list[float]) -> tuple[Candidate, ...]:
        text = self.model.token_text
        ranked = sorted(zip(ids, probs), key=lambda c: -c[1])
        return tuple(Candidate(t, text(t), p) for t, p in ranked if p > 0)

    def _check_finish(self, token: int) -> None:
        if self.model.is_end(token):
            self.finish("end")
        elif self.stream.stopped_by is not None:
            self.finish("stop")
        elif len(self.result.tokens) >= self.limit:
            self.finish("length" if self.settings_limit_reached() else "context")

    def settings_limit_reached(self) -> bool:
        return bool(self.result.settings.max_tokens) and len(self.result.tokens) >= self.result.settings.max_tokens

    def finish(self, reason: FinishReason) -> None:
        if self.result.finish_reason is None:
            self.tail = self.stream.finish()
            self.result.text = self.stream.text
            self.result.stopped_by = self.stream.stopped_by
            self.result.finish_reason = reason
            self.result.seconds = time.perf_counter() - self.started
            self.chain.close()

    @property
    def done(self) -> bool:
        return self.result.finish_reason is not None

    def done_event(self) -> ColumnDone:
        return ColumnDone(self.index, self.result, self.tail)


def generate(
    model: Model,
    request: Request,
    columns: Sequence[Column],
    cancel: threading.Event | None = None,
    info: dict | None = None,
) -> Iterator[Event]:
    """Stream every column's tokens; ``info`` (if given) receives the prompt text, token count and time.

    ``cancel`` acts from the start: while the run waits for the model, and between the steps of its
    setup (fitting, each column's chain, each batch of the prompt), not only between tokens; a run
    stopped before its first token ends every column 'cancelled' with no tokens."""
    most = max_columns(model)
    if not 1 <= len(columns) <= most:
        raise GenerationError(f"expected 1 to {most} columns, got {len(columns)}")
    info = info if info is not None else {}
    if not _acquire(model.lock, cancel):
        yield from _stopped_early(columns, [], info)
        return
    try:
        if model.closed:  # checked under the lock that close() takes: it cannot close while we run
            raise ModelClosed("the model was unloaded before this run started (another was loaded); run again")
        yield from _generate_locked(model, request, columns, cancel, info)
    finally:
        model.lock.release()


def _acquire(lock: threading.Lock, cancel: threading.Event | None) -> bool:
    """Take the model's lock; False if ``cancel`` was set first (Stop while waiting for another run)."""
    if cancel is None:
        return lock.acquire()
    while not lock.acquire(timeout=LOCK_POLL):
        if cancel.is_set():
            return False
    return True


def _generate_locked(
    model: Model, request: Request, columns: Sequence[Column], cancel: threading.Event | None, info: dict
) -> Iterator[Event]:
    stopped = cancel.is_set if cancel is not None else lambda: False
    request = fitted_request(model, request, info)
    text = prompt_text(model, request)
    tokens = prompt_tokens(model, request, text)
    n_ctx = model.load.n_ctx
    if len(tokens) >= n_ctx:
        raise GenerationError(
            f"the prompt is {len(tokens)} tokens but the context holds {n_ctx} per column; "
            "shorten the prompt or raise n_ctx"
        )
    if not tokens:
        raise GenerationError("the prompt is empty")
    drawn = secrets.randbelow(2**31)
    room = n_ctx - len(tokens)
    shape = KvShape.of(len(tokens), [column.settings.max_tokens for column in columns], n_ctx)
    _check_memory(model, shape, [min(column.settings.max_tokens or room, room) for column in columns])
    states: list[_ColumnState] = []
    buffers = StepBuffers(model.n_vocab)
    batch: TokenBatch | None = None
    whole: list[np.ndarray] = []  # the prompt's logits, once its cells are whole and no decode failed
    opened = False  # the context was touched: what it held before is gone unless whole
    try:
        for i, column in enumerate(columns):
            if stopped():
                yield from _stopped_early(columns, states, info)
                return
            states.append(
                _ColumnState(i, column, model, resolve_seed(column.settings.seed, drawn), n_ctx, room, buffers)
            )
            if column.settings.penalize_prompt:
                states[-1].chain.remember(tokens)
        opened = True
        context, first = CONTEXTS.open(model, shape, tokens)
        info["prompt_reused"] = first is not None
        batch = TokenBatch(max(model.load.n_batch, len(columns)))
        started = time.perf_counter()
        if first is None:
            if not _decode_prompt(context, batch, tokens, model.load.n_batch, stopped):
                yield from _stopped_early(columns, states, info)
                return
            first = _logits(context, -1, model.n_vocab).copy()
        whole.append(first)
        memory = llama_cpp.llama_get_memory(context)
        for state in states[1:]:
            llama_cpp.llama_memory_seq_cp(memory, 0, state.index, -1, -1)
        info.update(
            prompt_text=text,
            prompt_tokens=len(tokens),
            prompt_token_ids=tokens,
            prompt_seconds=time.perf_counter() - started,
        )
        for state in states:
            state.started = time.perf_counter()
            yield state.step(first)
            if state.done:
                yield state.done_event()
        if not (yield from _decode_loop(model, context, batch, states, len(tokens), cancel)):
            whole.clear()
    finally:
        if whole:
            CONTEXTS.keep(model, tokens, whole[0])
        elif opened:
            CONTEXTS.forget(model)
        if batch is not None:
            batch.close()
        for state in states:
            state.finish("cancelled")


def _check_memory(model: Model, shape: KvShape, limits: list[int]) -> None:
    """Refuse a run that will not fit in memory, before any of it is allocated (``kv_plan``)."""
    held = CONTEXTS.shape(model)
    new_context = held is None or not shape.fits_in(held)
    plan_memory(model, shape, limits, new_context, CONTEXTS.held_bytes(model) if new_context else 0).check()


def _stopped_early(columns: Sequence[Column], states: list[_ColumnState], info: dict) -> Iterator[Event]:
    """Every column ended 'cancelled' before its first token: those with a chain built, and the rest."""
    for key, empty in (("prompt_text", ""), ("prompt_tokens", 0), ("prompt_seconds", 0.0), ("prompt_reused", False)):
        info.setdefault(key, empty)
    for index, column in enumerate(columns):
        if index < len(states):
            states[index].finish("cancelled")
            yield states[index].done_event()
        else:
            result = ColumnResult(column.label, column.settings, column.settings.seed, "", finish_reason="cancelled")
            yield ColumnDone(index, result)


def _decode_loop(
    model: Model, context, batch: TokenBatch, states: list[_ColumnState], n_prompt: int, cancel: threading.Event | None
) -> Generator[Event, None, bool]:
    """One step per pass: every unfinished column in one batch, or one decode per column when the
    model is loaded unbatched; ``cancel`` is checked before every decode, so either way a run
    stops within one step. False when a decode failed (its cells are then not to be trusted)."""
    while True:
        active = [state for state in states if not state.done]
        if not active:
            return True
        groups = [active] if model.load.batched else [[state] for state in active]
        for group in groups:
            if cancel is not None and cancel.is_set():
                yield from _cancel(states)
                return True
            if not (yield from _decode_group(model, context, batch, group, n_prompt)):
                return False


def _decode_group(
    model: Model, context, batch: TokenBatch, group: list[_ColumnState], n_prompt: int
) -> Generator[Event, None, bool]:
    positions = [n_prompt + len(state.result.tokens) - 1 for state in group]
    batch.fill([s.last_token for s in group], positions, [s.index for s in group], [True] * len(group))
    if llama_cpp.llama_decode(context, batch.batch) != 0:
        for state in group:
            state.finish("context")
            yield state.done_event()
        return False
    for row, state in enumerate(group):
        yield state.step(_logits(context, row, model.n_vocab))
        if state.done:
            yield state.done_event()
    return True


def _cancel(states: list[_ColumnState]) -> Iterator[Event]:
    for state in states:
        if not state.done:
            state.finish("cancelled")
            yield state.done_event()


def _logits(context, row: int, n_vocab: int) -> np.ndarray:
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(context, row), shape=(n_vocab,))


def run(model: Model, request: Request, columns: Sequence[Column], cancel: threading.Event | None = None) -> RunResult:
    """Generate every column to the end and return the results (the non-streaming form)."""
    info: dict = {}
    results = collect(generate(model, request, columns, cancel, info), len(columns))
    return RunResult.of(info, results)
