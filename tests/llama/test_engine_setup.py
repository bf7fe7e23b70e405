"""What a run costs before its first token is bounded, and Stop acts there too (issue 20, items 1, 4, 5).

A prompt far larger than the context is refused by its size before it is rendered or tokenized;
Stop (and a shared app's time limit, which sets the same event) acts while a run waits for the
model and between the steps of its setup; a model closed by another visitor's load is refused
under the lock that closing takes, never read after it was freed.
"""

from __future__ import annotations

import threading
import tracemalloc

import pytest

from samplerlab.events import Message, ModelClosed
from samplerlab.llama.engine import Column, ColumnDone, GenerationError, Request, TokenEvent, generate, run
from samplerlab.llama.models import Model
from samplerlab.schema.load_settings import LoadSettings
from samplerlab.schema.params import KNOB_BY_NAME, Settings

SHORT = [Column("a", Settings({"max_tokens": 2, "seed": 1}))]


def peak_while(action) -> int:
    """The most Python memory ``action`` held at once, in bytes."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("mode", ["chat", "raw"])
def test_a_prompt_far_larger_than_the_context_is_refused_before_tokenizing(model: Model, mode):
    """A 60 MB prompt took 38.8 s and 3.9 GB to be refused; 20 MB here, refused from its size alone."""
    prompt = "light " * 3_500_000  # 21 MB
    bound = model.load.n_ctx * model.longest_piece

    def refused() -> None:
        with pytest.raises(GenerationError) as caught:
            run(model, Request(prompt, mode), SHORT)
        assert str(caught.value) == (
            f"the prompt is {len(prompt)} bytes, more than a context of {model.load.n_ctx} tokens can hold "
            f"(at most {bound} bytes of this model's text); shorten the prompt or raise n_ctx"
        )

    assert peak_while(refused) < 3 * len(prompt)  # the text and its encoding; tokenizing it held far more


def test_a_prompt_under_the_bound_still_gets_the_exact_token_count(model_path):
    with Model(model_path, LoadSettings({"n_ctx": 32})) as small:
        with pytest.raises(GenerationError, match=r"^the prompt is \d+ tokens but the context holds 32 per column"):
            run(small, Request("light " * 60, "raw"), SHORT)


def test_a_huge_old_turn_is_dropped_or_refused_without_tokenizing_it(model: Model):
    """Counting a conversation renders and tokenizes it: a turn far past the context is counted by its size."""
    huge = "light " * 200_000  # 1.2 MB, several times what a 2048-token context holds
    history = (Message("user", huge), Message("assistant", "ok"))
    dropped = run(model, Request("Say hi.", history=history, context_policy="drop_oldest"), SHORT)
    assert dropped.context["dropped"] == 1 and len(dropped.columns[0].tokens) == 2
    lower = -(-(len(huge) + len("ok") + len("Say hi.")) // model.longest_piece)
    with pytest.raises(GenerationError) as caught:
        run(model, Request("Say hi.", history=history, context_policy="error"), SHORT)
    assert str(caught.value).startswith(
        f"chat: the conversation is at least {lower} tokens but the context holds {model.load.n_ctx - 1} per column"
    )


def test_stop_acts_while_the_run_waits_for_the_model(model: Model):
    """Another run holds the model; Stop ends this one there, every column 'cancelled' with no tokens."""
    cancel, events = threading.Event(), []
    with model.lock:  # another run is on the model
        waiting = threading.Thread(target=lambda: events.extend(generate(model, Request("hi"), SHORT * 2, cancel)))
        waiting.start()
        cancel.set()
        waiting.join(timeout=30)
        assert not waiting.is_alive()  # it ended while the model was still busy
    assert [(e.column, e.result.finish_reason, e.result.tokens) for e in events] == [
        (0, "cancelled", []),
        (1, "cancelled", []),
    ]


def test_stop_acts_between_the_columns_setup(model: Model):
    """Each DRY breaker costs a pass over the vocabulary; Stop (here a timer, as a shared app's limit sets
    it) must not wait for every column's chain and the first token of each before it acts."""
    knob = KNOB_BY_NAME["dry_sequence_breakers"]
    breakers = [f"{i:02d}" + "x" * (knob.max_bytes - 2) for i in range(knob.max_items)]  # the most allowed
    settings = Settings({"dry_multiplier": 0.8, "dry_sequence_breakers": breakers, "max_tokens": 4})
    columns = [Column(str(i), settings) for i in range(4)]
    cancel = threading.Event()
    timer = threading.Timer(0.01, cancel.set)
    timer.start()
    events = list(generate(model, Request("hi"), columns, cancel))
    timer.cancel()
    assert not any(isinstance(e, TokenEvent) for e in events)
    done = [e for e in events if isinstance(e, ColumnDone)]
    assert [(e.column, e.result.finish_reason) for e in done] == [(i, "cancelled") for i in range(4)]


def test_a_model_closed_before_the_run_took_its_lock_is_refused_not_read(model_path):
    """Generating on a freed model exited with 139; the check is under the lock that closing takes."""
    closed = Model(model_path)
    runs = generate(closed, Request("hi"), SHORT)  # taken before another visitor's load closed it
    with closed.lock:
        closed.close()
    with pytest.raises(ModelClosed, match=r"^the model was unloaded before this run started"):
        next(runs)
    assert not closed.lock.locked()
