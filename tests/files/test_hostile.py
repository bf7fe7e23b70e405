"""Hostile files and input: every loader bounded, one line per problem, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import llama_cpp
import pytest
import yaml
from click.testing import CliRunner

from samplerlab.backends.local import LocalBackend
from samplerlab.cli.main import main
from samplerlab.files import safe_yaml
from samplerlab.files.model_files import ModelError, resolve_model_path
from samplerlab.llama.engine import Candidate, ColumnResult, GenerationError, TokenEvent
from samplerlab.llama.kv_plan import KvShape, padded
from samplerlab.llama.models import Model
from samplerlab.llama.prompt_reuse import _new_context
from samplerlab.presets.formats import FormatError
from samplerlab.presets.formats_import import detect_format, import_file, import_preset
from samplerlab.presets.store import Preset, PresetError, parse_preset_text, read_preset_file, save_preset
from samplerlab.runs.experiments import ExperimentError, load_experiment
from samplerlab.runs.results import Outcome, ResultError, dump, load_result, result_columns, write_new
from samplerlab.schema.assignments import process_escapes
from samplerlab.schema.load_settings import LoadSettings, check_load
from samplerlab.schema.params import Settings, SettingsError

DEEP = "[" * 200_000
SMALL_DEEP = "[" * 20_000  # within a preset's 64 KiB, and 20 times Python's recursion limit
ALIAS_LOOP = "prompt: &p [*p]\ncolumns: [{label: a}]\n"
TIMEOUT = 120  # seconds for a CLI run in a subprocess: a hang fails the test instead of stalling the suite


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def one_line_error(result, message: str) -> None:
    """A click result that failed with exactly ``Error: message`` and no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert (result.exit_code, result.output) == (1, f"Error: {message}\n")


def cli(*args: str) -> subprocess.CompletedProcess:
    """samplerlab in a child process with a timeout, for what could block forever (FIFOs)."""
    return subprocess.run(
        [sys.executable, "-c", "from samplerlab.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent.parent)},
    )


# -- safe_yaml ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, problem",
    [
        ("a: &x [*x]\n", "anchors and aliases (&name, *name) are not allowed here"),
        ("a: &x 1\n", "anchors and aliases (&name, *name) are not allowed here"),
        (DEEP, "nested more than 32 levels deep"),
        ("- " * 33 + "x\n", "nested more than 32 levels deep"),
        ("[" + "1, " * 101 + "]", "more than 100 YAML values"),
    ],
)
def test_the_parser_refuses_before_composing(text, problem):
    for loader in (yaml.SafeLoader, safe_yaml.FAST_LOADER):
        with pytest.raises(yaml.YAMLError) as caught:
            safe_yaml.load(text, max_nodes=100, loader=loader)
        libyaml_first = loader is not yaml.SafeLoader and caught.value.problem == "exceeded maximum nesting depth"
        assert (caught.value.problem == problem or libyaml_first) and safe_yaml.line_of(caught.value) == 1


def test_the_parser_takes_what_fits_exactly():
    text = "- " * 30 + "[" + "1, " * 69 + "]"  # 32 levels (the ones innermost), 100 values
    value = safe_yaml.load(text, max_nodes=100)
    for _ in range(30):
        value = value[0]
    assert value == [1] * 69


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            "a: " + "9" * 5000,
            "cannot read this value (Exceeds the limit (4300 digits) for integer string conversion: "
            "value has 5000 digits)",
        ),
        ("a: 2001-13-40\n", "cannot read this value (month must be in 1..12)"),
        ("a: !!timestamp x\n", "cannot read this value ('NoneType' object has no attribute 'groupdict')"),
    ],
)
def test_values_pyyaml_cannot_construct_are_yaml_errors(text, problem):
    with pytest.raises(yaml.constructor.ConstructorError) as caught:
        safe_yaml.load(text, max_nodes=100)
    assert caught.value.problem == problem


def test_json_nesting_is_bounded():
    assert safe_yaml.load_json("[" * 32 + "]" * 32) is not None
    for text in ("[" * 33 + "]" * 33, "[" * 200_000 + "]" * 200_000):
        with pytest.raises(safe_yaml.JsonTooDeep, match="^nested more than 32 levels deep$"):
            safe_yaml.load_json(text)


def test_the_reader_refuses_special_files_without_opening_them(tmp_path):
    fifo = tmp_path / "p.yaml"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(
        safe_yaml.ReadError,
        match=r"p\.yaml: a FIFO \(named pipe\), not a regular file; only "
        r"regular files are read$",
    ):
        safe_yaml.read_text(fifo, 100)
    with pytest.raises(safe_yaml.ReadError, match=r": a directory, not a regular file"):
        safe_yaml.read_text(tmp_path, 100)
    with pytest.raises(safe_yaml.ReadError, match=r"null: a character device, not a regular file"):
        safe_yaml.read_text("/dev/null", 100)
    assert time.monotonic() - started < 5


def test_the_reader_bounds_bytes_and_decodes_strictly(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a" * 101)
    with pytest.raises(safe_yaml.TooLarge, match=r"x\.yaml: larger than 100 bytes$") as caught:
        safe_yaml.read_text(path, 100)
    assert caught.value.size == 101
    path.write_bytes("あ".encode()[:2])
    with pytest.raises(safe_yaml.ReadError, match=r"x\.yaml: not UTF-8 text \(byte 0\)$"):
        safe_yaml.read_text(path, 100)
    with pytest.raises(safe_yaml.ReadError, match=r"'a\\x00b': not a usable path \(it contains a NUL byte\)$"):
        safe_yaml.read_text("a\0b", 100)
    path.write_text("ユーザー: おはよう\n", encoding="utf-8")
    assert safe_yaml.read_text(path, 100) == "ユーザー: おはよう\n"


# -- experiments -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, message",
    [
        (ALIAS_LOOP, "{path}:1: anchors and aliases (&name, *name) are not allowed here"),
        ("prompt: " + DEEP, "{path}:1: nested more than 32 levels deep"),
        ("prompts: [" + "a, " * 100_001 + "]\n", "{path}:1: more than 100000 YAML values"),
        ("prompt: 2001-13-40\n", "{path}:1: not valid YAML: cannot read this value (month must be in 1..12)"),
    ],
)
def test_run_refuses_hostile_experiments_in_one_line(text, message, runner, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = runner.invoke(main, ["run", str(path), "--out", str(tmp_path / "out.yaml")])
    one_line_error(result, message.format(path=path))
    assert not (tmp_path / "out.yaml").exists()


def test_an_experiment_fifo_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "fifo.yaml")
    with pytest.raises(ExperimentError, match=r"fifo\.yaml: a FIFO \(named pipe\), not a regular file"):
        load_experiment(tmp_path / "fifo.yaml")


# -- presets and imports -------------------------------------------------------------------------
HEAD = "name: x\nschema_version: 1\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (HEAD + "stop: &p [*p]\n", "x.yaml: line 3: anchors and aliases (&name, *name) are not allowed here"),
        (HEAD + "stop: " + SMALL_DEEP, "x.yaml: line 3: nested more than 32 levels deep"),
        (HEAD + "stop: [" + "a," * 20_000 + "]\n", "x.yaml: line 3: more than 20000 YAML values"),
    ],
)
def test_presets_refuse_bombs_deep_nesting_and_floods(text, message):
    with pytest.raises(PresetError) as caught:
        parse_preset_text(text, "x.yaml")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("deep.json", SMALL_DEEP + "]" * 20_000, "{path}: JSON nested more than 32 levels deep"),
        (
            "deep.json",
            '{"temp": ' + SMALL_DEEP + "]" * 20_000 + "}",
            "{path}: SillyTavern preset: nested more than 32 levels deep",
        ),
        (
            "deep.yaml",
            "top_k: " + SMALL_DEEP,
            "{path}: text-generation-webui preset: line 1: nested more than 32 levels deep",
        ),
    ],
)
def test_imports_refuse_deep_nesting_in_one_line(name, text, message, tmp_path):
    path = tmp_path / name
    path.write_text(text)
    fmt = {".json": None, ".yaml": "tgw"}[path.suffix] if not text.startswith("{") else "sillytavern"
    with pytest.raises(FormatError) as caught:
        import_file(path, fmt)
    assert str(caught.value) == message.format(path=path)


def test_format_detection_refuses_deep_json():
    with pytest.raises(FormatError, match="^JSON nested more than 32 levels deep$"):
        detect_format(SMALL_DEEP + "]" * 20_000)
    with pytest.raises(FormatError, match="^SillyTavern preset: nested more than 32 levels deep$"):
        import_preset('{"a": ' + SMALL_DEEP + "]" * 20_000 + "}", "sillytavern", "x")


def test_a_preset_fifo_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "p.yaml")
    with pytest.raises(
        PresetError,
        match=r"p\.yaml: a FIFO \(named pipe\), not a regular file; only regular files "
        r"are read$",
    ):
        read_preset_file(tmp_path / "p.yaml")


def test_validate_refuses_a_fifo_and_a_folder_holding_one_without_hanging(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "good.yaml").write_text(HEAD)
    os.mkfifo(folder / "pipe.yaml")
    os.mkfifo(tmp_path / "alone.yaml")
    result = cli("presets", "validate", str(tmp_path / "alone.yaml"), str(folder))
    assert result.returncode == 1 and result.stderr == ""
    kind = "a FIFO (named pipe), not a regular file; only regular files are read"
    assert result.stdout == f"{tmp_path / 'alone.yaml'}: {kind}\n{folder / 'pipe.yaml'}: {kind}\n"


# -- result files --------------------------------------------------------------------------------
def _column(label: str, texts: list[str]) -> ColumnResult:
    tokens = [
        TokenEvent(
            0, i, 100 + i, text, 0.5, 0.25, (Candidate(100 + i, text, 0.25),), (Candidate(100 + i, text, 0.5),), 3, 0.5
        )
        for i, text in enumerate(texts)
    ]
    return ColumnResult(label, Settings(), 0, "chain", "".join(texts), "length", None, tokens, seconds=1.0)


def result_document() -> dict:
    """A small, valid result document, shaped as comparisons.result_document writes one."""
    outcomes = [Outcome(0, "hi", _column("a", ["x", "y"])), Outcome(0, "hi", _column("b", ["z"]))]
    return {
        "samplerlab_result": 1,
        "experiment": {"file": "e.yaml", "description": ""},
        "overrides": {},
        "model": {"spec": "embedded", "file_name": "m.gguf", "file_size": 1, "sha256": "0" * 64},
        "load": {},
        "versions": {},
        "mode": "chat",
        "system": None,
        "prompts": ["hi"],
        "seeds": [0],
        "sweep": [],
        "columns": result_columns(outcomes),
    }


def test_a_valid_result_loads(tmp_path):
    document = result_document()
    assert load_result(write_new(tmp_path / "r.yaml", dump(document))) == document


def _set(*keys, value):
    def tamper(document: dict) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return tamper


def _drop(*keys):
    def tamper(document: dict) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return tamper


@pytest.mark.parametrize(
    "tamper, message",
    [
        (_set("columns", value=[1, 2]), "columns[0]: expected a mapping, got 1"),
        (_set("columns", 1, "tokens", value=5), "columns[1].tokens: expected a list, got 5"),
        (_set("columns", 0, "tokens", 1, value="x"), "columns[0].tokens[1]: expected a mapping, got 'x'"),
        (_set("columns", 0, "tokens", 0, "p", value="high"), "columns[0].tokens[0].p: expected a number, got 'high'"),
        (
            _set("columns", 0, "tokens", 0, "p", value=10**400),
            "columns[0].tokens[0].p: expected a number, got an integer of 401 digits",
        ),
        (
            _set("columns", 0, "tokens", 0, "after", 0, value=[]),
            "columns[0].tokens[0].after[0]: expected a mapping, got list",
        ),
        (_drop("columns", 1, "text"), "columns[1]: missing key 'text'"),
        (_drop("columns", 0, "stats", "mean_prob"), "columns[0].stats: missing key 'mean_prob'"),
        (_set("columns", 0, "label", value=["a"]), "columns[0].label: expected a string, got list"),
        (_set("columns", 0, "seed", value=True), "columns[0].seed: expected a whole number, got True"),
        (
            _set("columns", 0, "settings", value={"temperature": "hot"}),
            "columns[0].settings: temperature: expected a number, got 'hot'",
        ),
        (
            _set("columns", 0, "sweep", value={"temperature": {"a": 1}}),
            "columns[0].sweep.temperature: expected a value or a list of values, got dict",
        ),
        (_set("sweep", value=["top_k"]), None),  # no record has a sweep: nothing to chart
        (_drop("mode"), "missing key 'mode'"),
        (_set("mode", value="chatty"), "mode: expected chat or raw, got 'chatty'"),
        (_set("model", value="embedded"), "model: expected a mapping, got 'embedded'"),
        (_set("model", "spec", value={"hf_repo": "a"}), "model.spec: missing key 'hf_file'"),
        (_set("load", value={"n_ctx": 1}), "load: n_ctx: 1 is out of range; expected 16 to 1048576"),
        (_set("seed_summary", value=[{"label": "a"}]), "seed_summary[0]: missing key 'seeds'"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_report_and_check_refuse_malformed_results_in_one_line(tamper, message, runner, tmp_path):
    document = result_document()
    tamper(document)
    path = write_new(tmp_path / "bad.yaml", dump(document))
    if message is None:
        assert load_result(path) == document
        return
    for args in (["report", str(path), "--out", str(tmp_path / "r.html")], ["run", "--check", str(path)]):
        one_line_error(runner.invoke(main, args), f"{path}: {message}")
    assert not (tmp_path / "r.html").exists()


def test_a_record_sweeping_other_knobs_than_the_result_is_refused(tmp_path):
    document = result_document()
    document["sweep"] = ["temperature"]
    document["columns"][0]["sweep"] = {"top_k": 1}
    with pytest.raises(
        ResultError,
        match=r"bad\.yaml: columns\[0\]\.sweep: missing 'temperature', which the result "
        r"sweeps$",
    ):
        load_result(write_new(tmp_path / "bad.yaml", dump(document)))


@pytest.mark.parametrize(
    "text, message",
    [
        ("samplerlab_result: 1\ncolumns: " + DEEP, "{path}:2: nested more than 32 levels deep"),
        (
            "samplerlab_result: 1\ncolumns: &c [*c]\n",
            "{path}:2: anchors and aliases (&name, *name) are not allowed here",
        ),
        ("samplerlab_result: 1\ncolumns: [1, 2]\n", "{path}: missing key 'mode'"),
    ],
)
def test_report_and_check_refuse_hostile_yaml_in_one_line(text, message, runner, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    for args in (["report", str(path), "--out", str(tmp_path / "r.html")], ["run", "--check", str(path)]):
        result = runner.invoke(main, args)
        assert result.exit_code == 1 and result.output.startswith("Error: "), result.output
        assert result.output[len("Error: ") :] in (
            message.format(path=path) + "\n",  # libyaml stops at 1000 levels
            f"{path}:2: not valid YAML: exceeded maximum nesting depth\n",
        )


def test_result_files_are_written_without_anchors(tmp_path):
    shared = {"temperature": 1.0}
    text = dump({"a": shared, "b": shared, "c": [shared]})
    assert "&" not in text and "*" not in text
    assert yaml.safe_load(text) == {"a": shared, "b": shared, "c": [shared]}


@pytest.mark.parametrize(
    "text", ["\x85", "\u2028", "\t", "\r", "one\r\ntwo\n", "ユーザー: おはよう\n", "\ufeff", " lead"]
)
def test_token_texts_survive_the_fast_loader(text, tmp_path):
    """Result files are read with libyaml when PyYAML has it; every text PyYAML writes must come back."""
    document = result_document()
    document["columns"][0]["tokens"][0]["text"] = text
    document["columns"][0]["text"] = f"poem\n{text}\nend\n"
    assert load_result(write_new(tmp_path / "r.yaml", dump(document))) == document


# -- leftovers of killed writes ------------------------------------------------------------------
KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
import {module} as target
os.{step} = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # killed between writing and {step}
{write}
"""


def kill_a_write(folder: Path, module: str, step: str, write: str) -> Path:
    """Run one write in a child killed between writing the temporary file and renaming it: the leftover."""
    code = KILLED_WRITE.format(module=module, step=step, write=write)
    before = set(folder.iterdir()) if folder.exists() else set()
    child = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder.parent,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent.parent)},
    )
    assert child.returncode == -9
    [leftover] = set(folder.iterdir()) - before
    return leftover


def age(*paths: Path, seconds: float = 11 * 60) -> None:
    for path in paths:
        old = time.time() - seconds
        os.utime(path, (old, old), follow_symlinks=False)


def foreign_files(folder: Path) -> list[Path]:
    """Hidden files that are not samplerlab's, or not certainly abandoned: none may be removed."""
    files = [
        folder / ".notes.tmp",
        folder / ".x.yaml.tmp",
        folder / ".x.yaml.0123abcd.tmp.bak",
        folder / ".x.yaml.0123ABCD.tmp",
        folder / ".x.json.0123abcd.tmp",
        folder / "x.yaml.0123abcd.tmp",
    ]
    for file in files:
        file.write_text("mine")
    link = folder / ".link.yaml.0123abcd.tmp"
    link.symlink_to(folder / ".notes.tmp")
    age(*files, link)
    fresh = folder / ".fresh.yaml.89abcdef.tmp"  # a write in progress elsewhere
    fresh.write_text("in progress")
    return [*files, link, fresh]


def test_a_killed_preset_write_leaves_a_file_the_next_save_removes(tmp_path):
    folder = tmp_path / "presets"
    leftover = kill_a_write(
        folder, "samplerlab.presets.store", "link", "target.save_preset(target.Preset('mine'), Path('presets'))"
    )  # a new preset is published by a hard link (an existing one by os.replace)
    assert re.fullmatch(r"\.mine\.yaml\.[0-9a-f]{8}\.tmp", leftover.name)
    others = foreign_files(folder)
    save_preset(Preset("other"), folder)
    assert leftover.exists()  # ten minutes have not passed: it may be a write still going on
    age(leftover)
    save_preset(Preset("third"), folder)
    assert not leftover.exists() and all(path.is_symlink() or path.exists() for path in others)
    assert sorted(p.name for p in folder.glob("*.yaml")) == ["other.yaml", "third.yaml"]


def test_a_killed_result_write_leaves_a_file_the_next_write_removes(tmp_path):
    folder = tmp_path / "runs"
    leftover = kill_a_write(folder, "samplerlab.runs.results", "link", "target.write_new(Path('runs/r.yaml'), 'text')")
    assert re.fullmatch(r"\.r\.yaml\.[0-9a-f]{12}\.tmp", leftover.name)
    others = foreign_files(folder)
    age(leftover)
    write_new(folder / "s.yaml", "text")
    assert not leftover.exists() and all(path.is_symlink() or path.exists() for path in others)


# -- messages that named the wrong thing ---------------------------------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (["--stop", ""], "--stop: empty strings are not allowed"),
        (["--stop", "\n", "--stop", ""], "--stop: empty strings are not allowed"),
        (["--seed", "-7"], "--seed: -7 is out of range; expected -1 to 4294967294"),
        (["--max-tokens", "-1"], "--max-tokens: -1 is out of range; expected 0 to 1000000"),
        (
            ["--column", "top_k=-1e9"],
            "--column 'top_k=-1e9': top_k: -1000000000 is out of range; expected 0 to 1000000",
        ),
        (["--column", "top_k=1.5"], "--column 'top_k=1.5': top_k: expected a whole number, got 1.5"),
        (
            ["--column", "stop=\\xff"],
            "--column 'stop=\\\\xff': stop: not UTF-8 text once its escapes are processed "
            "(byte 0); \\xHH escapes must spell whole UTF-8 characters",
        ),
    ],
)
def test_compare_names_the_option_at_fault(args, message, runner):
    one_line_error(runner.invoke(main, ["compare", "hi", *args]), message)


@pytest.mark.parametrize("width", ["-5", "0", "10001"])
def test_compare_refuses_a_width_out_of_range(width, runner):
    result = runner.invoke(main, ["compare", "hi", "--width", width])
    assert (
        result.exit_code == 2
        and f"Invalid value for '--width': {width} is not in the range 1<=x<=10000" in result.output
    )


def test_the_api_names_a_bad_column_once(model):
    """Settings(source='columns[0]') already begins its message with where it is; the API said it twice."""
    import gradio as gr

    from samplerlab.app.ui import Callbacks
    from samplerlab.app.workbench import Workbench

    callbacks = Callbacks(Workbench(LocalBackend(model)))
    bad = json.dumps([{"label": "x"}, {"label": "y", "settings": {"temperature": -1}}])
    with pytest.raises(gr.Error) as caught:
        list(callbacks.compare_api("hi", 0, 4, bad, request=SimpleNamespace(session_hash="s")))
    assert caught.value.message == "columns[1]: temperature: -1.0 is out of range; expected 0 to 100"
    with pytest.raises(gr.Error) as caught:
        list(
            callbacks.compare_api(
                "hi", 0, 4, json.dumps([{"preset": "nope"}]), request=SimpleNamespace(session_hash="s")
            )
        )
    assert caught.value.message.startswith("columns[0]: unknown preset 'nope'")
    with pytest.raises(gr.Error) as caught:
        list(
            callbacks.compare_api("hi", 0, 4, "[" * 100_000 + "]" * 100_000, request=SimpleNamespace(session_hash="s"))
        )
    assert caught.value.message == "columns: nested more than 32 levels deep"


@pytest.mark.parametrize(
    "load, message",
    [
        (
            {"type_v": "q8_0"},
            "type_v q8_0 needs flash_attn on (llama.cpp cannot quantize the V cache without flash attention)",
        ),
        (
            {"type_v": "q4_0", "type_k": "q4_0"},
            "type_v q4_0 needs flash_attn on (llama.cpp cannot quantize the V cache without flash attention)",
        ),
        ({"type_k": "q8_0"}, None),
        ({"type_v": "q8_0", "flash_attn": "on"}, None),
        ({"type_v": "q8_0", "flash_attn": "auto"}, None),  # llama.cpp turns flash attention on for it
        ({"type_v": "f32"}, None),
    ],
)
def test_check_load_refuses_exactly_what_llama_cpp_refuses(load, message, model_path):
    settings = LoadSettings({**load, "n_ctx": 256})
    if message is None:
        check_load(settings)
    else:
        with pytest.raises(SettingsError) as caught:
            check_load(settings)
        assert str(caught.value) == message
    with Model(model_path, LoadSettings({"n_ctx": 256})) as loaded:  # and llama.cpp agrees
        loaded.load = settings  # past the check Model itself makes, to ask llama.cpp
        try:
            llama_cpp.llama_free(_new_context(loaded, KvShape(1, padded(loaded.load.n_ctx))))
            created = True
        except GenerationError:
            created = False
    assert created == (message is None)


def test_a_nul_byte_in_a_model_path_is_one_line(runner, tmp_path, model):
    message = "'a\\x00b.gguf': not a usable model path (it contains a NUL byte)"
    for call in (lambda: resolve_model_path("a\0b.gguf"), lambda: Model("a\0b.gguf")):
        with pytest.raises(ModelError) as caught:
            call()
        assert str(caught.value) == message
    path = tmp_path / "nul.yaml"
    path.write_text('prompt: hi\nmodel: "a\\0b.gguf"\ncolumns: [{label: a}]\n')
    one_line_error(runner.invoke(main, ["run", str(path)]), f"{path}:2: model: {message}")
    from samplerlab.app.workbench import Workbench

    shared = Workbench(LocalBackend(model), models_dir=tmp_path, allow_any_path=False)
    with pytest.raises(ModelError, match=r"^'a\\x00b.gguf': not a usable model path"):
        shared.load_model("a\0b.gguf")


# -- one escape rule for text typed in a terminal -------------------------------------------------
@pytest.mark.parametrize(
    "typed, meant",
    [
        ("ユーザー: おはよう\\n魔理沙: ", "ユーザー: おはよう\n魔理沙: "),
        ("\\n", "\n"),
        ("a\\r\\tb\\'c\\\"d\\\\e", "a\r\tb'c\"d\\e"),
        ("\\x41\\x7a\\xe3\\x81\\x82", "Azあ"),  # \xHH is a byte, as in llama.cpp, so UTF-8 may be spelled out
        ("C:\\Users\\u3042\\q", "C:\\Users\\u3042\\q"),  # unknown escapes stay as written
        ("\\x4\\x\\xg1\\", "\\x4\\x\\xg1\\"),  # an incomplete \x and a trailing backslash too
        ("\\\\n", "\\n"),
        ("\\x 9\\x+a\\x-f\\x80\\x80\\x80", "\t\n\U00040000"),  # strtol skips a space or sign; -f is 0xf1
    ],
)
def test_escapes_are_llama_clis(typed, meant):
    assert process_escapes(typed) == meant


@pytest.mark.parametrize("typed", ["\\xff", "\\xe3\\x81", "\udcff"])
def test_escapes_that_do_not_make_utf8_are_refused(typed):
    with pytest.raises(ValueError, match=r"^not UTF-8 text"):
        process_escapes(typed)


def test_compare_sends_the_model_what_llama_cli_would(runner, monkeypatch):
    """The raw prompt and --stop of the character dialogue, typed as in a shell: the model gets newlines."""
    seen = {}
    real = LocalBackend.generate

    def spy(backend, request, columns, *args, **kwargs):
        seen.update(request=request, columns=columns)
        yield from real(backend, request, columns, *args, **kwargs)

    monkeypatch.setattr(LocalBackend, "generate", spy)
    result = runner.invoke(
        main,
        [
            "compare",
            "ユーザー: おはよう\\n魔理沙: ",
            "--mode",
            "raw",
            "--stop",
            "\\n",
            "--stop",
            "ユーザー:",
            "--column",
            "temperature=0,stop=\\n|END",
            "--max-tokens",
            "8",
            "--width",
            "60",
        ],
    )
    assert result.exit_code == 0, result.output
    assert seen["request"].prompt == "ユーザー: おはよう\n魔理沙: " and seen["request"].mode == "raw"
    assert seen["columns"][0].settings.stop == ("\n", "END")  # the column's own stop replaces --stop
    result = runner.invoke(
        main,
        ["compare", "a\\tb", "--system", "be \\x22brief\\x22", "--stop", "\\n", "--max-tokens", "1", "--width", "60"],
    )
    assert result.exit_code == 0, result.output
    assert (seen["request"].prompt, seen["request"].system) == ("a\tb", 'be "brief"')
    assert seen["columns"][0].settings.stop == ("\n",)


def test_a_bad_escape_in_the_prompt_is_one_line(runner):
    one_line_error(
        runner.invoke(main, ["compare", "\\xff"]),
        "PROMPT: not UTF-8 text once its escapes are "
        "processed (byte 0); \\xHH escapes must spell whole "
        "UTF-8 characters",
    )
