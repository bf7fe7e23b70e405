"""The engine on the real embedded model: every knob alive, reproducible, independent columns."""

from __future__ import annotations

import threading

import llama_cpp
import pytest

from samplerlab.backends import check_independence
from samplerlab.backends.local import LocalBackend
from samplerlab.llama.engine import Column, ColumnDone, GenerationError, Request, TokenEvent, generate, run
from samplerlab.llama.models import Model, ModelError
from samplerlab.runs.bench import completion_llama
from samplerlab.schema.load_settings import LoadSettings
from samplerlab.schema.params import KNOBS, Settings, neutral_values
from samplerlab.words.i18n import independence

POEM = "Write a short poem praising light-emitting diodes."
REPEATING = Request("The cat sat on the mat. The cat sat on the mat. The cat sat on the mat. The cat", mode="raw")


def fingerprint(column) -> list:
    """What a column did, distribution included: every token and the probabilities it was drawn from."""
    return [(t.token_id, t.after) for t in column.tokens] + [column.text, column.finish_reason]


@pytest.mark.parametrize("knob", KNOBS, ids=lambda knob: knob.name)
def test_every_knob_is_alive(model: Model, knob):
    """Moving a knob to its example value changes what is sampled (distribution, not just text)."""
    base = Settings({**neutral_values(), "max_tokens": 16, **knob.companions})
    moved = base.replace(**{knob.name: knob.example})
    result = run(model, REPEATING, [Column("base", base), Column("moved", moved)])
    assert fingerprint(result.columns[0]) != fingerprint(result.columns[1])


COMPLETION_CASES = [
    {},
    {"temperature": 0},
    {"temperature": 1.2, "top_k": 0, "top_p": 0.9, "min_p": 0.02},
    {"typical_p": 0.8, "temperature": 1.5},
    {"repeat_penalty": 1.3, "frequency_penalty": 0.5, "presence_penalty": 0.3},
    {"mirostat": 2, "mirostat_tau": 3.0, "temperature": 1.0},
    {"mirostat": 2, "mirostat_tau": 3.0, "temperature": 0.8, "repeat_penalty": 1.2},
    {"mirostat": 1, "mirostat_tau": 4.0, "mirostat_eta": 0.2, "temperature": 0.8},
    {"logit_bias": {"13": -5.0}},
]


@pytest.fixture(scope="module")
def llama(model: Model) -> llama_cpp.Llama:
    """create_completion's Llama with the model's own load settings (Llama() would repack, which
    crashes llama.cpp on AMX CPUs and computes other logits where it does not)."""
    return completion_llama(model)


@pytest.mark.parametrize("changes", COMPLETION_CASES, ids=str)
def test_llama_cpp_python_order_reproduces_create_completion(model: Model, llama, changes):
    settings = Settings(
        {"samplers": "llama-cpp-python", "penalize_prompt": False, "max_tokens": 24, "seed": 7, **changes}
    )
    prompt = "The three best things about light-emitting diodes are"
    ours = run(model, Request(prompt, "raw"), [Column("ours", settings)]).columns[0]
    theirs = llama.create_completion(
        prompt,
        max_tokens=24,
        seed=7,
        temperature=settings.temperature,
        top_k=settings.top_k,
        top_p=settings.top_p,
        min_p=settings.min_p,
        typical_p=settings.typical_p,
        repeat_penalty=settings.repeat_penalty,
        frequency_penalty=settings.frequency_penalty,
        presence_penalty=settings.presence_penalty,
        mirostat_mode=settings.mirostat,
        mirostat_tau=settings.mirostat_tau,
        mirostat_eta=settings.mirostat_eta,
        logit_bias={int(k): v for k, v in settings.logit_bias.items()},
    )
    assert ours.text == theirs["choices"][0]["text"]
    assert len(ours.tokens) == theirs["usage"]["completion_tokens"]


COLUMNS = [
    Column("default", Settings({"max_tokens": 24})),
    Column("greedy", Settings({"temperature": 0, "max_tokens": 24})),
    Column("hot", Settings({"temperature": 3.0, "max_tokens": 24})),
    Column("hot top-k 100", Settings({"temperature": 3.0, "top_k": 100, "max_tokens": 24})),
]


def test_same_settings_and_seed_give_the_same_text(model: Model):
    first, second = (run(model, Request(POEM), COLUMNS) for _ in range(2))
    assert [fingerprint(c) for c in first.columns] == [fingerprint(c) for c in second.columns]
    assert len({c.text for c in first.columns}) == len(COLUMNS)


@pytest.mark.parametrize("which", ["embedded", "q4km"])
def test_a_column_alone_equals_the_column_in_a_batch_of_four(request, which):
    model = request.getfixturevalue("model" if which == "embedded" else "q4km_model")
    together = run(model, Request(POEM), COLUMNS)
    for index, column in enumerate(COLUMNS):
        alone = run(model, Request(POEM), [column]).columns[0]
        assert [(t.token_id, t.raw_prob, t.before) for t in alone.tokens] == [
            (t.token_id, t.raw_prob, t.before) for t in together.columns[index].tokens
        ]


def test_one_row_per_decode_gives_the_same_text(model_path):
    with Model(model_path, LoadSettings({"batched": False})) as unbatched, Model(model_path) as batched:
        assert [c.text for c in run(unbatched, Request(POEM), COLUMNS).columns] == [
            c.text for c in run(batched, Request(POEM), COLUMNS).columns
        ]


def test_independence_probe_reports_repack_breaking_it(q4km_path, q4km_model):
    # Among 4 columns Q4_K_M without repack is independent; among 64 this CPU's kernels part it from
    # the column alone (the probe at the engine's full width reports that, at every load).
    assert check_independence(LocalBackend(q4km_model), widest=4).independent
    try:
        repacked = Model(q4km_path, LoadSettings({"repack": True}))
    except ModelError as error:  # the trial load crashed: AMX CPUs (llama.cpp#20824)
        assert "load with repack off" in str(error)
        pytest.skip(f"repack cannot load on this CPU, so its independence cannot be probed: {error}")
    with repacked:
        verdict = check_independence(LocalBackend(repacked))
    assert not verdict.independent and verdict.max_difference > 0
    assert "NOT independent" in independence(verdict.independent, verdict.max_difference, "en")
    assert "独立していません" in independence(verdict.independent, verdict.max_difference, "ja")


def test_japanese_streams_whole_characters(model: Model):
    """Byte-level tokens split Japanese characters; events must never carry half of one."""
    settings = Settings({"temperature": 0, "max_tokens": 40})
    events = [
        e
        for e in generate(model, Request("日本語で自己紹介してください。こんにちは、私は"), [Column("ja", settings)])
        if isinstance(e, TokenEvent)
    ]
    streamed = "".join(e.text for e in events)
    result = run(model, Request("日本語で自己紹介してください。こんにちは、私は"), [Column("ja", settings)]).columns[0]
    assert streamed == result.text and "\ufffd" not in streamed
    assert any(e.text == "" for e in events), "expected at least one token ending inside a character"
    assert any(ord(ch) > 0x3000 for ch in streamed)


def test_stop_string_cuts_the_text_and_says_why(model: Model):
    settings = Settings({"temperature": 0, "max_tokens": 60, "stop": ["\n"]})
    result = run(model, Request("ユーザー: おはよう\n魔理沙: ", "raw"), [Column("chat", settings)]).columns[0]
    assert result.finish_reason == "stop" and result.stopped_by == "\n"
    assert "\n" not in result.text and result.text


def test_each_column_stops_on_its_own(model: Model):
    columns = [Column("short", Settings({"max_tokens": 3})), Column("long", Settings({"max_tokens": 9}))]
    done = [e for e in generate(model, Request(POEM), columns) if isinstance(e, ColumnDone)]
    assert [(d.column, d.result.finish_reason, len(d.result.tokens)) for d in done] == [
        (0, "length", 3),
        (1, "length", 9),
    ]


def test_max_tokens_zero_runs_until_the_context_is_full(model_path):
    with Model(model_path, LoadSettings({"n_ctx": 64})) as small:
        settings = Settings(
            {"max_tokens": 0, "logit_bias": {t: False for t in range(small.n_vocab) if small.is_end(t)}}
        )
        result = run(small, Request("Count: 1, 2, 3,", "raw"), [Column("all", settings)])
    assert result.columns[0].finish_reason == "context"
    assert result.prompt_tokens + len(result.columns[0].tokens) == 64


def test_a_banned_token_never_appears(model: Model):
    greedy = run(model, Request(POEM), [Column("g", Settings({"temperature": 0, "max_tokens": 8}))]).columns[0]
    first = greedy.tokens[0].token_id
    banned = Settings({"temperature": 0, "max_tokens": 8, "logit_bias": {first: False}})
    result = run(model, Request(POEM), [Column("b", banned)]).columns[0]
    assert first not in [t.token_id for t in result.tokens]


def test_random_seed_is_drawn_once_and_reported(model: Model):
    columns = [Column(str(t), Settings({"seed": -1, "temperature": t, "max_tokens": 2})) for t in (0.5, 1.5)]
    result = run(model, Request(POEM), columns)
    seeds = {c.seed for c in result.columns}
    assert len(seeds) == 1 and seeds != {-1}
    again = run(model, Request(POEM), [Column("x", columns[0].settings.replace(seed=seeds.pop()))])
    assert again.columns[0].text == result.columns[0].text


def test_token_events_explain_the_chain(model: Model):
    settings = Settings({"top_k": 3, "temperature": 1.0, "max_tokens": 4})
    result = run(model, Request(POEM), [Column("k3", settings)]).columns[0]
    for token in result.tokens:
        assert 1 <= token.survivors <= 3 and len(token.after) == token.survivors
        assert len(token.before) == 10 and token.before[0].prob >= token.before[-1].prob
        assert sum(c.prob for c in token.after) == pytest.approx(1.0, abs=1e-5)
        assert token.token_id in [c.token_id for c in token.after]
    assert result.chain == "logits -> top_k -> top_p -> min_p -> dist"


def test_cancel_stops_between_steps(model: Model):
    cancel = threading.Event()
    counted = 0
    for event in generate(model, Request(POEM), COLUMNS[:2], cancel=cancel):
        if isinstance(event, TokenEvent):
            counted += 1
            if counted == 4:
                cancel.set()
        else:
            assert event.result.finish_reason == "cancelled"
            assert len(event.result.tokens) <= 3


def test_prompt_longer_than_the_context_is_a_clear_error(model_path):
    with Model(model_path, LoadSettings({"n_ctx": 32})) as small:
        with pytest.raises(GenerationError, match=r"the prompt is \d+ tokens but the context holds 32 per column"):
            run(small, Request("light " * 60, "raw"), [Column("x", Settings())])


def test_column_count_is_checked(model: Model):
    with pytest.raises(GenerationError, match="expected 1 to 64 columns, got 65"):
        run(model, Request(POEM), [Column(str(i), Settings()) for i in range(65)])


def test_each_cut_alternative_names_the_stage_that_cut_it(model: Model):
    """top-k 3 then min-p: the raw top 10 beyond the first 3 go to top_k, the rest that min-p drops to min_p."""
    settings = Settings({**neutral_values(), "top_k": 3, "min_p": 0.5, "max_tokens": 2})
    first = run(model, Request(POEM), [Column("x", settings)]).columns[0].tokens[0]
    ranked = [c.token_id for c in first.before]
    kept = {c.token_id for c in first.after}
    assert {t: s for t, s in first.cut_by.items() if s == "top_k"} == dict.fromkeys(ranked[3:], "top_k")
    assert set(ranked[:3]) - kept == {t for t, s in first.cut_by.items() if s == "min_p"}
    assert first.token_id in kept and first.token_id not in first.cut_by
