"""Experiment files: validation, sweeps, batched runs, result files and reproducing them, on the real model."""

from __future__ import annotations

import datetime
import re
import threading
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from samplerlab.backends.local import LocalBackend
from samplerlab.cli.main import main
from samplerlab.llama.engine import Column, Request, run
from samplerlab.llama.machine import cpu_summary, kernel_family
from samplerlab.llama.models import Model
from samplerlab.llama.versions import system_info
from samplerlab.presets.store import PresetError, load_preset
from samplerlab.runs import comparisons
from samplerlab.runs.comparisons import (
    ExperimentStopped,
    Finished,
    result_document,
    result_path,
    run_file,
    save_comparison,
    stream_file,
)
from samplerlab.runs.experiments import ExperimentError, load_experiment, parse_experiment
from samplerlab.runs.results import ResultError, dump, load_result, write_new
from samplerlab.runs.runner import check_result, run_experiment
from samplerlab.schema.load_settings import LoadSettings
from samplerlab.schema.params import Settings

EXPERIMENTS = sorted((Path(__file__).parent.parent.parent / "experiments").glob("*.yaml"))
SMALLEST = """\
prompt: "Write a short poem praising light-emitting diodes."
seed: 0
max_tokens: 128
columns:
  - {label: default, preset: llama.cpp defaults}
  - {label: greedy, settings: {temperature: 0}}
  - {label: hot, settings: {temperature: 3.0}}
  - {label: hot top-k 100, preset: llama.cpp defaults, settings: {temperature: 3.0, top_k: 100}}
"""
TOKENS = "4"  # --max-tokens for runs through the CLI: enough to compare, short enough for CI


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Every model here, the CLI's too, on one thread: llama.cpp's threads spin while they wait, and on
    two shared, busy cores two threads ran a 4-column step up to 40 times slower than one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("samplerlab.llama.models.default_threads", lambda: 1)
        yield


@pytest.fixture(scope="module")
def model(one_thread, model_path) -> Model:
    with Model(model_path) as loaded:
        yield loaded


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run_and_check(runner: CliRunner, experiment: Path, out: Path, *options: str) -> dict:
    """``samplerlab run`` then ``run --check`` on its result, which must reproduce; the result."""
    result = runner.invoke(main, ["run", str(experiment), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    checked = runner.invoke(main, ["run", "--check", str(out)])
    document = load_result(out)
    assert (checked.exit_code, checked.stdout) == (0, f"reproduced {len(document['columns'])} columns\n")
    return document


def test_the_smallest_file_resolves_exactly():
    experiment = parse_experiment(SMALLEST, "led.yaml")
    defaults = load_preset("llama.cpp defaults").settings
    run_level = {"seed": 0, "max_tokens": 128}
    assert experiment.prompts == ("Write a short poem praising light-emitting diodes.",)
    assert (experiment.seeds, experiment.mode, experiment.model) == ((0,), "chat", "embedded")
    assert [(c.label, c.settings) for c in experiment.columns] == [
        ("default", defaults.replace(**run_level)),
        ("greedy", Settings({**run_level, "temperature": 0})),
        ("hot", Settings({**run_level, "temperature": 3.0})),
        ("hot top-k 100", defaults.replace(**run_level, temperature=3.0, top_k=100)),
    ]


def test_a_columns_own_settings_beat_run_level_values_which_beat_its_preset():
    experiment = parse_experiment(
        "prompt: p\nseed: 3\nmax_tokens: 9\nstop: ['.']\ncolumns:\n"
        "  - {label: own, preset: greedy, settings: {max_tokens: 5, seed: 7}}\n"
        "  - {label: shared, preset: greedy}\n",
        "order.yaml",
    )
    own, shared = experiment.columns
    assert (own.settings.max_tokens, own.settings.stop, own.settings.temperature) == (5, (".",), 0.0)
    assert own.for_seed(3).settings.seed == 7 and shared.for_seed(3).settings.seed == 3
    assert shared.settings.max_tokens == 9


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda path: path.stem)
def test_every_shipped_experiment_validates_and_says_what_it_shows(path):
    experiment = load_experiment(path)
    assert len(experiment.description) > 80
    assert experiment.model == "embedded"


def test_the_shipped_experiments_cover_the_issue():
    stems = {path.stem for path in EXPERIMENTS}
    assert {
        "led-poem",
        "led-poem-ja",
        "temperature-sweep",
        "top-p-min-p-grid",
        "repetition-vs-dry",
        "character-dialogue",
    } <= stems
    folder = EXPERIMENTS[0].parent
    led = dict(load_experiment(folder / "led-poem.yaml").spec)
    assert led.pop("description") and led == yaml.safe_load(SMALLEST)
    japanese = dict(load_experiment(folder / "led-poem-ja.yaml").spec)
    assert "writes English" in japanese.pop("description")
    assert japanese == led | {"prompt": "発光ダイオードを讃える詩をつくってください"}
    dialogue = load_experiment(folder / "character-dialogue.yaml")
    assert dialogue.prompts == ("ユーザー: おはよう\n魔理沙: ",) and dialogue.mode == "raw"
    assert dialogue.columns[0].settings.changed() == {
        "temperature": 0.1,
        "top_k": 20,
        "top_p": 0.9,
        "repeat_penalty": 1.05,
        "max_tokens": 64,
        "stop": ("\n",),
    }


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda path: path.stem)
def test_every_shipped_experiment_runs_and_reproduces(runner, tmp_path, path):
    out = tmp_path / "result.yaml"
    result = runner.invoke(main, ["run", str(path), "--max-tokens", TOKENS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    experiment = load_experiment(path)
    table = result.stdout.splitlines()
    assert table[0].split() == ["column", "finish", "tokens", "tok/s", "mean", "p", "distinct-2"]
    assert len(table) == 1 + experiment.runs + 1 and table[-1] == f"wrote {out}"
    checked = runner.invoke(main, ["run", "--check", str(out)])
    assert (checked.exit_code, checked.stdout) == (0, f"reproduced {experiment.runs} columns\n")


def test_the_character_dialogue_at_its_own_max_tokens_stops_at_the_newline(runner, tmp_path):
    path = next(path for path in EXPERIMENTS if path.stem == "character-dialogue")
    document = run_and_check(runner, path, tmp_path / "dialogue.yaml")
    assert len(document["columns"]) == 9 and {c["settings"]["max_tokens"] for c in document["columns"]} == {64}
    assert {(c["finish_reason"], c["stopped_by"]) for c in document["columns"]} == {("stop", "\n")}
    assert all("\n" not in c["text"] and c["token_count"] < 64 for c in document["columns"])


def test_a_random_seed_is_recorded_as_drawn_and_reproduces(runner, tmp_path):
    path = tmp_path / "random.yaml"
    path.write_text(
        "prompt: hi\nseed: -1\nmax_tokens: 4\n"
        "columns: [{label: warm, temperature: 1.5}, {label: hot, temperature: 3}]\n"
    )
    document = run_and_check(runner, path, tmp_path / "random-result.yaml")
    [seed] = document["seeds"]
    assert seed != -1 and document["experiment"]["as_given"]["seed"] == -1
    assert [(c["seed"], c["settings"]["seed"]) for c in document["columns"]] == [(seed, seed)] * 2


def test_several_prompts_run_end_to_end_with_their_load_settings(runner, tmp_path):
    path = tmp_path / "prompts.yaml"
    path.write_text(
        "prompts: [hi, Name a colour.]\nseed: 2\nmax_tokens: 4\nload: {n_ctx: 512}\n"
        "columns: [{label: warm, temperature: 1.5}, {label: greedy, temperature: 0}]\n"
    )
    document = run_and_check(runner, path, tmp_path / "prompts-result.yaml")
    assert document["load"] == {**LoadSettings(), "n_ctx": 512}
    assert [(c["prompt_index"], c["prompt"], c["label"], c["token_count"]) for c in document["columns"]] == [
        (0, "hi", "warm", 4),
        (0, "hi", "greedy", 4),
        (1, "Name a colour.", "warm", 4),
        (1, "Name a colour.", "greedy", 4),
    ]
    assert document["columns"][1]["text"] != document["columns"][3]["text"]
    assert runner.invoke(main, ["report", str(tmp_path / "prompts-result.yaml")]).exit_code == 0
    page = (tmp_path / "prompts-result.html").read_text()
    assert "<h2>Prompt 2 · seed 2</h2>" in page and "<th>p2 greedy</th>" in page


P = "prompt: hi\n"
C = "columns: [{temperature: 0}]\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("promt: hi\n" + C, "bad.yaml:1: promt: unknown key (did you mean 'prompt'?)"),
        (P + "sead: 1\n" + C, "bad.yaml:2: sead: unknown key (did you mean 'seed'?)"),
        ("prompt: 3\n" + C, "bad.yaml:1: prompt: expected a string, got 3"),
        (P + "columns: {a: 1}\n", "bad.yaml:2: columns: expected a list of columns, got {'a': 1}"),
        (
            P + "columns:\n  - label: x\n    settings: {top_p: 2}\n",
            "bad.yaml:4: columns[0].settings: top_p: 2.0 is out of range; expected 0 to 1",
        ),
        (
            P + "columns:\n  - label: x\n    settings:\n      temprature: 1\n",
            "bad.yaml:5: columns[0].settings: unknown setting 'temprature' (did you mean 'temperature'?)",
        ),
        (
            P + "columns:\n  - {label: x, temprature: 1}\n",
            "bad.yaml:3: columns[0].temprature: unknown key (did you mean 'temperature'?)",
        ),
        (
            P + "columns:\n  - {label: x, settings: [1]}\n",
            "bad.yaml:3: columns[0].settings: expected a mapping of setting names to values, got [1]",
        ),
        (
            P + "columns:\n  - {label: x, temperature: 1, settings: {temperature: 2}}\n",
            "bad.yaml:3: columns[0].temperature: set both here and under settings; keep one",
        ),
        (
            P + "columns:\n  - {label: x}\n  - {label: x, temperature: 0}\n",
            "bad.yaml:4: columns[1]: label 'x' is used twice; labels tell columns apart",
        ),
        (P + "columns: []\n", "bad.yaml:2: columns: expected 1 to 64 columns, got 0"),
        (P + "seeds: [0, x]\n" + C, "bad.yaml:2: seeds: seed: expected a number, got 'x'"),
        (P + "max_tokens: -1\n" + C, "bad.yaml:2: max_tokens: -1 is out of range; expected 0 to 1000000"),
        (P + "stop: 3\n" + C, "bad.yaml:2: stop: expected a list of strings, got 3"),
        (P + "prompts: [a]\n" + C, "bad.yaml:2: prompts: give prompt or prompts, not both"),
        (C, "bad.yaml:1: no prompt: give prompt (a string) or prompts (a list of strings)"),
        (P, "bad.yaml:1: no columns: give columns (a list) or sweep (one or two knobs with value lists)"),
        (P + "mode: chatty\n" + C, "bad.yaml:2: mode: expected chat or raw, got 'chatty'"),
        (P + "system: [a]\n" + C, "bad.yaml:2: system: expected a string, got ['a']"),
        (
            P + "mode: raw\nsystem: be brief\n" + C,
            "bad.yaml:3: system: only applies in chat mode; remove it, or use mode: chat",
        ),
        (P + "model: /nowhere/model.gguf\n" + C, "bad.yaml:2: model: /nowhere/model.gguf: no such file"),
        (
            P + "seeds: [0, 1]\ncolumns:\n  - {label: x, seed: 5}\n",
            "bad.yaml:4: columns[0].seed: a column's own seed cannot go with 2 seeds; remove it or give one seed",
        ),
        (
            P + "seeds: [0, 1, 2]\ncolumns:\n  - label: x\n    settings: {seed: 5}\n",
            "bad.yaml:5: columns[0].settings.seed: a column's own seed cannot go with 3 seeds; remove it or give one seed",
        ),
        (
            P + "seeds: [0, 1]\nsweep:\n  seed: [5, 6]\n",
            "bad.yaml:4: sweep.seed: a column's own seed cannot go with 2 seeds; remove it or give one seed",
        ),
        (P + "prompt: b\n" + C, "bad.yaml:2: top level: duplicate key 'prompt'"),
        ("prompt: [unclosed\n", "bad.yaml:2: not valid YAML: expected ',' or ']', but got '<stream end>'"),
        (
            "prompt: !!python/object/apply:os.system [echo hi]\n" + C,
            "bad.yaml:1: not valid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'",
        ),
        (
            "- a\n",
            "bad.yaml:1: expected a mapping of experiment keys (description, model, load, mode, system, messages, "
            "chat, chat_select, context_policy, prefix, prompt, prompts, seed, seeds, max_tokens, stop, columns, base, sweep), "
            "got ['a']",
        ),
        ("", "bad.yaml: the file is empty; an experiment needs at least a prompt and columns"),
        (
            P + "sweep:\n  temperature: [1]\n  top_k: [1]\n  top_p: [1]\n",
            "bad.yaml:2: sweep: expected one or two knobs, got 3",
        ),
        (
            P + "sweep:\n  temprature: [1]\n",
            "bad.yaml:3: sweep.temprature: unknown setting 'temprature' (did you mean 'temperature'?)",
        ),
        (P + "sweep:\n  temperature: 1\n", "bad.yaml:3: sweep.temperature: expected a list of values, got 1"),
        (
            P + "sweep:\n  temperature: [0, x]\n",
            "bad.yaml:3: sweep.temperature: temperature: expected a number, got 'x'",
        ),
        (
            P + "sweep:\n  temperature: [0, 1, 2, 3, 4, 5, 6, 7, 8]\n  top_k: [1, 2, 3, 4, 5, 6, 7, 8]\n",
            "bad.yaml:2: sweep: the grid has 72 columns; the limit is 64",
        ),
        (
            P + "base: {label: b}\nsweep:\n  temperature: [0]\n",
            "bad.yaml:2: base.label: sweep columns are labelled by their values; remove the label",
        ),
        (
            P + "base: {top_k: 1}\n" + C,
            "bad.yaml:2: base: base only applies to a sweep; put the settings in columns instead",
        ),
        (
            P + "model: {hf_repo: a}\n" + C,
            "bad.yaml:2: model: expected 'embedded', a .gguf path, {hf_repo: ..., hf_file: ...}, {server: URL} or {servers: [URL, ...]} (at most 16), got {'hf_repo': 'a'}",
        ),
        (P + "load: {n_ctx: 1}\n" + C, "bad.yaml:2: load: n_ctx: 1 is out of range; expected 16 to 1048576"),
        (P + "load:\n  n_ctxx: 1\n" + C, "bad.yaml:3: load: unknown setting 'n_ctxx' (did you mean 'n_ctx'?)"),
        (
            "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
            + "".join(f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcde", "bcdef")),
            "bad.yaml:1: anchors and aliases (&name, *name) are not allowed here",
        ),
        (P + "prompts: [" + "a, " * 100_000 + "]\n" + C, "bad.yaml:2: more than 100000 YAML values"),
    ],
    ids=lambda value: value.splitlines()[0][:40] if isinstance(value, str) and value else None,
)
def test_bad_experiment_files_get_one_line_naming_file_line_and_key(text, message):
    with pytest.raises(ExperimentError) as caught:
        parse_experiment(text, "bad.yaml")
    assert str(caught.value) == message


def test_a_bad_preset_is_named_with_the_presets_own_message():
    with pytest.raises(ExperimentError, match=r"^bad\.yaml:3: columns\[0\]\.preset: .*'nope'") as caught:
        parse_experiment(P + "columns:\n  - {label: x, preset: nope}\n", "bad.yaml")
    assert "\n" not in str(caught.value)


def test_enormous_and_binary_files_are_refused_before_parsing(tmp_path):
    big, binary = tmp_path / "big.yaml", tmp_path / "binary.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    binary.write_bytes(b"prompt: \xff\xfe\n")
    with pytest.raises(
        ExperimentError, match=r"big\.yaml: 1\.0 MiB is too large for an experiment file \(limit 1 MiB\)$"
    ):
        load_experiment(big)
    with pytest.raises(ExperimentError, match=r"binary\.yaml: not UTF-8 text \(byte 8\)$"):
        load_experiment(binary)


def test_the_cli_prints_one_line_and_no_traceback(runner, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(P + "columns:\n  - {label: x, top_p: 2}\n")
    result = runner.invoke(main, ["run", str(path), "--out", str(tmp_path / "out.yaml")])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {path}:3: columns[0]: top_p: 2.0 is out of range; expected 0 to 1\n",
    )
    assert not (tmp_path / "out.yaml").exists()


# -- sweeps and batches -----------------------------------------------------------------
def test_a_one_knob_sweep_labels_and_settings():
    experiment = parse_experiment(
        P + "max_tokens: 8\nbase: {preset: greedy, settings: {top_k: 5}}\nsweep: {temperature: [0, 0.4, 1]}\n", "s.yaml"
    )
    greedy = load_preset("greedy").settings
    assert experiment.sweep == ("temperature",)
    assert [(c.label, c.sweep, c.settings) for c in experiment.columns] == [
        (
            f"temperature={t}",
            {"temperature": float(t)},
            greedy.replace(seed=0, max_tokens=8, top_k=5, temperature=float(t)),
        )
        for t in ("0", "0.4", "1")
    ]


def test_a_two_knob_sweep_is_the_grid_first_knob_outermost_after_the_columns():
    experiment = parse_experiment(
        P + "columns: [{label: reference}]\nsweep:\n  temperature: [0.4, 0.8]\n  top_p: [0.9, 1]\n", "s.yaml"
    )
    assert [c.label for c in experiment.columns] == [
        "reference",
        "temperature=0.4, top_p=0.9",
        "temperature=0.4, top_p=1",
        "temperature=0.8, top_p=0.9",
        "temperature=0.8, top_p=1",
    ]
    assert [(c.settings.temperature, c.settings.top_p) for c in experiment.columns[1:]] == [
        (0.4, 0.9),
        (0.4, 1.0),
        (0.8, 0.9),
        (0.8, 1.0),
    ]


def test_a_grid_over_eight_columns_gives_the_same_texts_in_any_batching(model):
    experiment = parse_experiment(
        P + "max_tokens: 6\nseed: 1\nsweep:\n  temperature: [0.5, 1, 1.5]\n  top_k: [0, 5, 40]\n", "grid.yaml"
    )
    assert len(experiment.columns) == 9
    texts = {
        batch: [
            (o.result.seed, o.result.label, o.result.text, [t.token_id for t in o.result.tokens])
            for o in run_experiment(LocalBackend(model), experiment, batch=batch)
        ]
        for batch in (8, 5, 1)
    }
    assert texts[8] == texts[5] == texts[1]
    # how many of the nine differ depends on the CPU's arithmetic; that they are not all alike does not
    assert len(texts[8]) == 9 and len({text for _, _, text, _ in texts[8]}) >= 2
    for column, batched in zip(experiment.columns, texts[8]):
        alone = run(model, Request("hi"), [column.for_seed(1)]).columns[0]
        assert batched[2:] == (alone.text, [t.token_id for t in alone.tokens])


# -- result files ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def led_document(model) -> dict:
    experiment = parse_experiment(SMALLEST, "led.yaml").with_settings(max_tokens=8)
    return result_document(
        experiment, LocalBackend(model), run_experiment(LocalBackend(model), experiment), {"max_tokens": 8}
    )


def test_the_result_file_loads_back_with_everything_to_reproduce_it(led_document, tmp_path):
    path = write_new(tmp_path / "r.yaml", dump(led_document))
    loaded = load_result(path)
    assert loaded == led_document
    assert loaded["experiment"]["as_given"] == yaml.safe_load(SMALLEST)
    assert loaded["model"]["spec"] == "embedded" and len(loaded["model"]["sha256"]) == 64
    assert set(loaded["versions"]) == {"samplerlab", "llama_cpp_python", "llama_cpp", "ggml_commit", "llama_cpp_system"}
    assert "unknown" not in loaded["versions"].values()  # this build has every version function
    assert (loaded["prompts"], loaded["seeds"], loaded["mode"]) == ([yaml.safe_load(SMALLEST)["prompt"]], [0], "chat")
    first = loaded["columns"][0]
    assert Settings(first["settings"]) == load_preset("llama.cpp defaults").settings.replace(seed=0, max_tokens=8)
    assert {
        "label",
        "settings",
        "text",
        "finish_reason",
        "tokens",
        "seed",
        "prompt",
        "token_count",
        "seconds",
        "tokens_per_second",
        "stats",
    } <= set(first)
    assert "".join(t["text"] for t in first["tokens"]) == first["text"] and first["token_count"] == 8
    assert set(first["tokens"][0]) == {"id", "text", "p", "raw_p", "entropy", "survivors", "after", "before"}
    for token in first["tokens"]:  # what the chain cut is named, and never among what it kept
        cut = [c for c in token["before"] if "cut_by" in c]
        assert {c["cut_by"] for c in cut} <= {"top_k", "top_p", "min_p"}
        assert not {c["id"] for c in cut} & {c["id"] for c in token["after"]}
    assert any("cut_by" in c for token in first["tokens"] for c in token["before"])


def test_results_are_never_overwritten(led_document, runner, tmp_path):
    path = write_new(tmp_path / "r.yaml", "first\n")
    with pytest.raises(ResultError, match="already exists; results are never overwritten"):
        write_new(path, dump(led_document))
    assert path.read_text() == "first\n" and [p.name for p in tmp_path.iterdir()] == ["r.yaml"]
    result = runner.invoke(main, ["run", str(EXPERIMENTS[0]), "--out", str(path)])
    assert result.exit_code == 1 and "already exists" in result.output and path.read_text() == "first\n"


def test_default_result_paths_are_beside_the_experiment_and_numbered(runner, tmp_path):
    experiment = tmp_path / "poem.yaml"
    experiment.write_text(SMALLEST)
    output = runner.invoke(main, ["run", str(experiment), "--max-tokens", "2"])
    assert output.exit_code == 0, output.output
    [written] = (tmp_path / "runs").iterdir()
    assert re.fullmatch(r"poem-\d{8}T\d{6}Z\.yaml", written.name) and output.stdout.endswith(f"wrote {written}\n")
    stamp = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    first = result_path(experiment, stamp)
    assert first == tmp_path / "runs" / "poem-20250102T030405Z.yaml"
    first.write_text("taken")
    assert result_path(experiment, stamp).name == "poem-20250102T030405Z-2.yaml"


@pytest.mark.parametrize(
    "tamper, message",
    [
        (
            lambda d: d["columns"][2]["tokens"][3].update(text="LED"),
            r"column 'hot' \(prompt 0, seed 0\) differs at token 3: recorded 'LED', now '.+'",
        ),
        (
            lambda d: d["columns"][2]["tokens"][5].update(id=0),
            r"column 'hot' \(prompt 0, seed 0\) differs at token 5: recorded '.+', now '.+'",
        ),
        (
            lambda d: d["columns"][1].update(text=d["columns"][1]["text"] + "!"),
            r"column 'greedy' \(prompt 0, seed 0\) differs at text at character \d+: recorded '!', now ''",
        ),
        (
            lambda d: d["columns"][3]["tokens"].pop(),
            r"column 'hot top-k 100' \(prompt 0, seed 0\) differs at token 7: recorded \(end\), now '.+'",
        ),
        (
            lambda d: d["columns"][0]["settings"].update(temperature=3.0),
            r"column 'default' \(prompt 0, seed 0\) differs at token \d: recorded '.*', now '.*'",
        ),
        (
            lambda d: d["model"].update(sha256="0" * 64),
            r"the model file differs from the recorded one \(SmolLM2-135M-Instruct.Q4_1.gguf: sha256 000000000000... recorded\)",
        ),
    ],
)
def test_check_finds_the_first_difference_in_a_tampered_result(led_document, model, tamper, message):
    document = yaml.safe_load(dump(led_document))
    tamper(document)
    assert re.fullmatch(message, check_result(LocalBackend(model), document).mismatch)


def test_check_exits_1_naming_the_column_and_token(led_document, runner, tmp_path):
    document = yaml.safe_load(dump(led_document))
    document["columns"][2]["tokens"][3]["text"] = "LED"
    path = write_new(tmp_path / "tampered.yaml", dump(document))
    result = runner.invoke(main, ["run", "--check", str(path)])
    assert result.exit_code == 1
    assert re.fullmatch(
        r"NOT reproduced: column 'hot' \(prompt 0, seed 0\) differs at token 3: "
        r"recorded 'LED', now '.+'\n",
        result.stdout,
    )


def test_the_result_records_its_machine(led_document):
    machine = led_document["machine"]
    assert machine["kernels"] == kernel_family(system_info()) and machine["cpu_features"] == cpu_summary()
    assert set(machine) == {"cpu", "cpu_features", "kernels", "gpu_offload"}


def test_check_on_other_kernels_says_why_the_text_parts(led_document, runner, tmp_path):
    document = yaml.safe_load(dump(led_document))
    elsewhere = "AVX2" if document["machine"]["kernels"] != "AVX2" else "AVX-512"
    document["machine"]["kernels"] = elsewhere
    document["columns"][2]["tokens"][3]["text"] = "LED"
    path = write_new(tmp_path / "elsewhere.yaml", dump(document))
    result = runner.invoke(main, ["run", "--check", str(path)])
    assert result.exit_code == 1
    here = kernel_family(system_info())
    assert result.stdout == (
        f"NOT reproduced here: recorded on {elsewhere} kernels, this machine runs {here}: "
        "llama.cpp's arithmetic differs, so texts can part; re-record on this machine "
        f"(column 'hot' (prompt 0, seed 0) differs at token 3: recorded 'LED', now "
        f"{led_document['columns'][2]['tokens'][3]['text']!r})\n"
    )
    document["columns"][2]["tokens"][3]["text"] = led_document["columns"][2]["tokens"][3]["text"]
    path = write_new(tmp_path / "elsewhere-intact.yaml", dump(document))
    assert (
        runner.invoke(main, ["run", "--check", str(path)]).stdout
        == f"reproduced 4 columns (recorded on {elsewhere} kernels, this machine runs {here}: llama.cpp's arithmetic "
        "differs, so texts can part)\n"
    )


def test_check_refuses_what_is_not_a_result(runner, tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(SMALLEST)
    result = runner.invoke(main, ["run", "--check", str(path)])
    assert (result.exit_code, result.output) == (1, f"Error: {path}: not a samplerlab result file (format 1 or 2)\n")


def test_versions_a_build_lacks_are_unknown_not_a_crash(monkeypatch):
    import llama_cpp

    monkeypatch.delattr(llama_cpp, "llama_version")
    monkeypatch.delattr(llama_cpp, "llama_print_system_info")
    monkeypatch.setattr("llama_cpp._ggml.libggml", object())
    versions = comparisons.environment()
    assert (versions["llama_cpp"], versions["ggml_commit"], versions["llama_cpp_system"]) == ("unknown",) * 3
    assert versions["llama_cpp_python"] == llama_cpp.__version__


@pytest.mark.parametrize("text", ["\x85", "\u2028", "\u2029", "\t", "\r", "a\x85b\nc\n", "one\r\ntwo\n"])
def test_token_texts_survive_the_yaml_round_trip(text):
    document = {"columns": [{"text": f"poem\n{text}\nend\n", "tokens": [{"id": 1, "text": text, "p": 0.5}]}]}
    assert yaml.safe_load(dump(document)) == document


# -- running files: reusing the app's model, stopping, streaming ------------------------------
TWO = P + "max_tokens: 2\ncolumns: [{label: warm, temperature: 1.5}, {label: greedy, temperature: 0}]\n"


def experiment_file(folder: Path, text: str, name: str = "e.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_run_file_reuses_an_open_model_of_the_same_file_and_load_without_deadlock(model, tmp_path, monkeypatch):
    def refuse(*_):
        raise AssertionError("loaded the model a second time")

    monkeypatch.setattr(comparisons, "opened_backend", refuse)
    path, finished = experiment_file(tmp_path, TWO), []
    worker = threading.Thread(
        target=lambda: finished.append(run_file(path, tmp_path / "r.yaml", loaded=LocalBackend(model)))
    )
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "deadlock: run_file held the model lock that generate() takes"
    assert finished and finished[0][1].exists() and not model.lock.locked()


def test_run_file_opens_another_model_beside_an_open_one_under_its_lock(model, tmp_path):
    path = experiment_file(tmp_path, TWO + "load: {n_ctx: 256}\n")
    held: list[bool] = []
    document, _ = run_file(
        path, tmp_path / "r.yaml", loaded=LocalBackend(model), on_done=lambda _: held.append(model.lock.locked())
    )
    assert held == [True, True] and not model.lock.locked() and document["load"]["n_ctx"] == 256


def test_a_stopped_run_writes_no_result(model, tmp_path):
    # one batch of 6 runs: the warm three end at 2 tokens, which stops the greedy three on their way to 40
    staggered = TWO.replace("{label: greedy, temperature: 0}", "{label: greedy, temperature: 0, max_tokens: 40}")
    path, out, cancel = (
        experiment_file(tmp_path, staggered + "seeds: [0, 1, 2]\n"),
        tmp_path / "r.yaml",
        threading.Event(),
    )
    with pytest.raises(ExperimentStopped, match=r"e\.yaml: stopped after 3 of 6 columns; no result file is written"):
        run_file(path, out, loaded=LocalBackend(model), cancel=cancel, on_done=lambda _: cancel.set())
    assert not out.exists()


def test_stream_file_hands_over_each_column_then_the_result(model, tmp_path):
    path, out = experiment_file(tmp_path, TWO + "seeds: [0, 1]\n"), tmp_path / "r.yaml"
    *columns, finished = stream_file(path, threading.Event(), out=out, loaded=LocalBackend(model))
    assert isinstance(finished, Finished) and finished.path == out and load_result(out) == finished.document
    assert sorted((c.seed, c.label, c.text) for c in columns) == sorted(
        (r["seed"], r["label"], r["text"]) for r in finished.document["columns"]
    )
    with pytest.raises(ExperimentError, match="unknown key"):
        list(
            stream_file(
                experiment_file(tmp_path, "promt: x\n", "bad.yaml"), threading.Event(), loaded=LocalBackend(model)
            )
        )


def test_leaving_a_stream_early_stops_its_run(model, tmp_path):
    path, cancel = experiment_file(tmp_path, TWO + "seeds: [0, 1, 2, 3, 4, 5]\n"), threading.Event()
    stream = stream_file(path, cancel, out=tmp_path / "r.yaml", loaded=LocalBackend(model))
    next(stream)
    stream.close()
    assert cancel.is_set() and not any(t.name == "samplerlab-experiment" for t in threading.enumerate())
    assert not model.lock.locked()


# -- saving the app's comparisons -----------------------------------------------------------
CLOCK = {"date", "seconds", "tokens_per_second"}


def without_clock(value):
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in CLOCK}
    return [without_clock(v) for v in value] if isinstance(value, list) else value


def test_a_saved_comparison_names_its_model_load_and_drawn_seed_and_reruns_the_same(runner, model_path, tmp_path):
    columns = [
        Column("Column 1", Settings({"seed": -1, "max_tokens": 4, "temperature": 1.5})),
        Column("Column 2", Settings({"seed": -1, "max_tokens": 3, "top_k": 3})),
    ]
    with Model(model_path, LoadSettings({"n_ctx": 512})) as small:
        result = run(small, Request("hi"), columns)
        ran = result.columns
        experiment, saved = save_comparison(
            "random one", Request("hi"), ran, LocalBackend(small), tmp_path, result.rendered()
        )
    spec, seed = yaml.safe_load(experiment.read_text()), ran[0].seed
    assert seed != -1
    assert (spec["model"], spec["load"], spec["seed"], spec["max_tokens"]) == ("embedded", {"n_ctx": 512}, seed, 4)
    assert [(c["label"], c["settings"]) for c in spec["columns"]] == [
        ("Column 1", {"temperature": 1.5}),
        ("Column 2", {"top_k": 3, "max_tokens": 3}),
    ]
    again = run_and_check(runner, experiment, tmp_path / "again.yaml")
    assert without_clock(again) == without_clock(load_result(saved))


def test_a_comparison_with_a_stopped_column_or_a_nameless_name_is_not_saved(model, tmp_path):
    stopped = threading.Event()
    stopped.set()
    ran = run(model, Request("hi"), [Column("a", Settings({"max_tokens": 4}))], cancel=stopped).columns
    assert ran[0].finish_reason == "cancelled"
    with pytest.raises(
        ExperimentError,
        match=r"^column 'a' was stopped before its end, so the comparison would not "
        r"reproduce; run it to the end to save it$",
    ):
        save_comparison("mine", Request("hi"), ran, LocalBackend(model), tmp_path)
    with pytest.raises(PresetError, match=r"'\?!' needs at least one letter or digit$"):
        save_comparison("?!", Request("hi"), ran, LocalBackend(model), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_reads_the_experiment_once(runner, tmp_path, monkeypatch):
    def refuse(*_):
        raise AssertionError("run_file read the experiment file again")

    monkeypatch.setattr(comparisons, "load_experiment", refuse)
    result = runner.invoke(main, ["run", str(experiment_file(tmp_path, TWO)), "--out", str(tmp_path / "r.yaml")])
    assert result.exit_code == 0, result.output
