"""A re-run of the very prompt of the last run reuses its evaluation, and changes nothing.

Every comparison is against a fresh run (the held prompt forgotten first), bit for bit: texts,
token ids, raw and sampled probabilities and every candidate's logprob.
"""

from __future__ import annotations

import threading

import pytest

from samplerlab.events import PROBE_PROMPT, Column, Request
from samplerlab.llama.engine import generate, run
from samplerlab.llama.models import Model
from samplerlab.llama.prompt_reuse import CONTEXTS
from samplerlab.schema.params import Settings

POEM = Request(PROBE_PROMPT)
OTHER = Request("Name three rivers of Japan.")
COLUMNS = [
    Column("default", Settings({"max_tokens": 16, "seed": 5})),
    Column("hot", Settings({"temperature": 1.4, "max_tokens": 16, "seed": 6})),
    Column("greedy", Settings({"temperature": 0, "max_tokens": 12})),
    Column("penalized", Settings({"repeat_penalty": 1.3, "max_tokens": 16, "seed": 7})),
]


def record(result) -> list:
    return [
        [(t.token_id, t.raw_prob, t.prob, t.before, t.after, t.candidates) for t in column.tokens]
        + [column.text, column.finish_reason]
        for column in result.columns
    ]


def fresh(model: Model, request: Request, columns) -> object:
    CONTEXTS.forget(model)
    result = run(model, request, columns)
    assert not result.prompt_reused
    return result


def test_a_rerun_reuses_the_prompt_and_equals_a_fresh_run(model: Model):
    first = fresh(model, POEM, COLUMNS)
    again = run(model, POEM, COLUMNS)
    assert again.prompt_reused and again.prompt_token_ids == first.prompt_token_ids
    assert record(again) == record(first)
    assert again.prompt_seconds < first.prompt_seconds


def test_reuse_across_another_column_count(model: Model):
    """The context changes shape (its cells move to a new one as llama.cpp's state bytes)."""
    two = fresh(model, POEM, COLUMNS[:2])
    run(model, POEM, COLUMNS)  # 4 columns: another context, this prompt carried along
    reused = run(model, POEM, COLUMNS[:2])
    assert reused.prompt_reused and record(reused) == record(two)
    wider = run(model, POEM, COLUMNS * 2)
    assert wider.prompt_reused and record(wider)[:4] == record(fresh(model, POEM, COLUMNS))


def test_another_prompt_in_between_is_evaluated_and_the_first_again_too(model: Model):
    first = fresh(model, POEM, COLUMNS)
    between = run(model, OTHER, COLUMNS)
    assert not between.prompt_reused
    assert record(between) == record(fresh(model, OTHER, COLUMNS))
    back = run(model, POEM, COLUMNS)  # only the last prompt is held
    assert not back.prompt_reused and record(back) == record(first)
    assert run(model, POEM, COLUMNS).prompt_reused


def test_a_mere_prefix_is_never_reused(model: Model):
    base = Request("The three best things about light-emitting diodes are", "raw")
    longer = Request(base.prompt + " their colour,", "raw")
    fresh(model, base, COLUMNS[:1])
    extended = run(model, longer, COLUMNS[:1])
    assert not extended.prompt_reused
    assert record(extended) == record(fresh(model, longer, COLUMNS[:1]))


class StopAfter(threading.Event):
    """Stop set from the ``calls``+1-th look on: a run stopped at an exact point of its setup."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def is_set(self) -> bool:
        self.calls -= 1
        return self.calls < 0


def test_a_run_stopped_in_its_prompt_leaves_nothing_to_reuse(model: Model):
    long = Request("lamp " * 700, "raw")  # two batches of n_batch 512
    fresh(model, POEM, COLUMNS[:1])
    info: dict = {}
    events = list(generate(model, long, COLUMNS[:1], StopAfter(2), info))  # a column, a batch, then Stop
    assert [e.result.finish_reason for e in events] == ["cancelled"] and not info["prompt_reused"]
    assert not run(model, POEM, COLUMNS[:1]).prompt_reused  # its cells were overwritten
    assert not run(model, long, COLUMNS[:1]).prompt_reused  # and the long prompt's are not whole


def test_a_run_stopped_before_its_prompt_keeps_the_last_one(model: Model):
    fresh(model, POEM, COLUMNS[:1])
    cancel = threading.Event()
    cancel.set()
    info: dict = {}
    list(generate(model, OTHER, COLUMNS[:1], cancel, info))
    assert not info["prompt_reused"] and run(model, POEM, COLUMNS[:1]).prompt_reused


def test_a_stopped_generation_keeps_the_prompt_exactly(model: Model):
    whole = fresh(model, POEM, COLUMNS)
    cancel = threading.Event()
    for event in generate(model, POEM, COLUMNS, cancel):
        if getattr(event, "index", 0) >= 3:
            cancel.set()
    after = run(model, POEM, COLUMNS)
    assert after.prompt_reused and record(after) == record(whole)


@pytest.mark.parametrize("how", ["close", "another model"])
def test_closing_or_changing_the_model_invalidates_it(model_path, how):
    with Model(model_path) as first:
        kept = run(first, POEM, COLUMNS[:1])
        assert run(first, POEM, COLUMNS[:1]).prompt_reused
        if how == "another model":
            with Model(model_path) as second:
                assert not run(second, POEM, COLUMNS[:1]).prompt_reused
            assert run(first, POEM, COLUMNS[:1]).prompt_reused  # each model keeps its own
    assert CONTEXTS.shape(first) is None
    with Model(model_path) as later:  # maybe at the same address as the closed one
        rerun = run(later, POEM, COLUMNS[:1])
        assert not rerun.prompt_reused and record(rerun) == record(kept)
