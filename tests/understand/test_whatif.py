"""What-if replays on recorded candidates, against a teacher-forced re-run on the real model."""

from __future__ import annotations

import math

import llama_cpp
import numpy as np
import pytest
from click.testing import CliRunner

from samplerlab.cli.main import main
from samplerlab.events import Column, Request
from samplerlab.llama.engine import TokenBatch, _decode_prompt, _logits, prompt_text, prompt_tokens, run
from samplerlab.llama.kv_plan import KvShape, padded
from samplerlab.llama.prompt_reuse import CONTEXTS
from samplerlab.llama.sampling import Candidates, ChainContext, build_chain
from samplerlab.runs.results import column_record, load_result
from samplerlab.schema.params import Settings
from samplerlab.understand.whatif import WhatIfError, replay_record

PROMPT = "Write a short poem praising light-emitting diodes."


@pytest.fixture(scope="module")
def recorded(model):
    column = run(model, Request(PROMPT), [Column("default", Settings({"max_tokens": 12, "seed": 0}))]).columns[0]
    return column_record(column, PROMPT, keep=64)


def test_replaying_the_same_settings_gives_the_recorded_probabilities(recorded) -> None:
    same = replay_record(recorded, {})
    assert [t.prob for t in same.tokens] == pytest.approx([t["p"] for t in recorded["tokens"]], rel=1e-3)
    assert same.impossible == 0 and same.approximate == 0


def teacher_forced(model, settings: Settings, prompt: list[int], forced: list[int]):
    """The model's full distribution at every step of a forced text, through the new chain (the real re-run)."""
    context = CONTEXTS.get(model, KvShape(1, padded(model.load.n_ctx)))
    batch = TokenBatch(max(len(prompt), 1))
    chain = build_chain(
        settings,
        ChainContext(model.vocab, model.n_vocab, lambda t: model.tokenize(t, False, False)),
        settings.seed,
        model.load.n_ctx,
        selector=False,
    )
    chain.remember(prompt)
    steps = []
    try:
        _decode_prompt(context, batch, prompt, model.load.n_batch)
        for index, token in enumerate(forced):
            candidates = Candidates(model.n_vocab)
            candidates.load(_logits(context, -1, model.n_vocab).copy())
            cut = chain.apply_traced(candidates, [token])
            view = candidates.view()
            alive = view[view["logit"] > -np.inf]
            weights = np.exp(alive["logit"].astype(np.float64) - alive["logit"].max())
            probs = dict(zip(alive["id"].tolist(), (weights / weights.sum()).tolist()))
            steps.append((probs.get(token, 0.0), len(alive), cut.get(token)))
            chain.accept(token)
            batch.fill([token], [len(prompt) + index], [0], [True])
            assert llama_cpp.llama_decode(context, batch.batch) == 0
    finally:
        batch.close()
        chain.close()
    return steps


def test_replay_equals_a_teacher_forced_rerun_token_by_token(model, recorded) -> None:
    changes = {"top_p": 0.5, "min_p": 0.0, "temperature": 0.7}
    what = replay_record(recorded, changes)
    prompt = prompt_tokens(model, Request(PROMPT), prompt_text(model, Request(PROMPT)))
    real = teacher_forced(
        model, Settings({**recorded["settings"], **changes}), prompt, [t["id"] for t in recorded["tokens"]]
    )
    for index, (prob, survivors, cut_by) in enumerate(real):
        assert what.tokens[index].approximate is None
        assert what.tokens[index].prob == pytest.approx(prob, rel=1e-4, abs=1e-7), index
        assert (what.tokens[index].survivors, what.tokens[index].cut_by) == (survivors, cut_by), index


def test_replay_flags_what_it_can_only_estimate_and_refuses_records_without_candidates(recorded) -> None:
    wide = replay_record(recorded, {"top_k": 0, "top_p": 1.0, "min_p": 0.0})
    assert wide.approximate == len(recorded["tokens"])
    assert "beyond the 64 recorded candidates" in wide.tokens[0].approximate
    bare = {**recorded, "tokens": [{k: v for k, v in t.items() if k != "candidates"} for t in recorded["tokens"]]}
    with pytest.raises(WhatIfError, match="has no kept candidates; run it with --keep-candidates"):
        replay_record(bare, {"top_p": 0.5})


def test_replay_command_prints_a_table_and_summary(tmp_path) -> None:
    experiment = tmp_path / "e.yaml"
    experiment.write_text(
        f'prompt: "{PROMPT}"\nseed: 0\nmax_tokens: 6\ncolumns:\n  - {{label: default}}\n', encoding="utf-8"
    )
    runner = CliRunner()
    ran = runner.invoke(main, ["run", str(experiment), "--keep-candidates", "64", "--out", str(tmp_path / "r.yaml")])
    assert ran.exit_code == 0, ran.output
    assert len(load_result(tmp_path / "r.yaml")["columns"][0]["tokens"][0]["candidates"]) == 64
    shown = runner.invoke(main, ["replay", str(tmp_path / "r.yaml"), "--column", "default", "--set", "top_p=0.5"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == "'default' replayed with top_p=0.5"
    assert lines[2].split() == ["token", "text", "p", "then", "p", "now", "survivors", "cut", "by"]
    assert lines[-1].startswith("6 tokens: ") and math.isfinite(float(lines[-1].split("-> ")[1].split(",")[0]))


@pytest.mark.parametrize(
    "where, key",
    [("candidates", "tokens[1].candidates[0][0]"), ("id", "tokens[1].id"), ("rendered", "prompt_token_ids[0]")],
)
def test_replay_of_ids_beyond_int32_is_one_line(tmp_path, where: str, key: str) -> None:
    import yaml

    experiment = tmp_path / "e.yaml"
    experiment.write_text(
        f'prompt: "{PROMPT}"\nseed: 0\nmax_tokens: 3\ncolumns:\n  - {{label: default}}\n', encoding="utf-8"
    )
    runner = CliRunner()
    ran = runner.invoke(main, ["run", str(experiment), "--keep-candidates", "8", "--out", str(tmp_path / "r.yaml")])
    assert ran.exit_code == 0, ran.output
    document = load_result(tmp_path / "r.yaml")
    token = document["columns"][0]["tokens"][1]
    if where == "candidates":
        token["candidates"][0][0] = 2**32
    elif where == "id":
        token["id"] = 2**31
    else:
        document["rendered"][0]["prompt_token_ids"][0] = 2**40
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    shown = runner.invoke(main, ["replay", str(tmp_path / "bad.yaml"), "--column", "default", "--set", "top_p=0.5"])
    assert shown.exit_code == 1 and "Traceback" not in shown.output, shown.output
    (line,) = shown.output.strip().splitlines()
    assert key in line and "expected a token id (-1 to 1073741823)" in line, line
