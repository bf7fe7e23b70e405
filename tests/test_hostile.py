"""Hostile files and input: every loader bounded, one line per problem, never a traceback or a hang."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from samplerlab import safe_yaml
from samplerlab.cli import main
from samplerlab.engine import Candidate, ColumnResult, TokenEvent
from samplerlab.experiments import ExperimentError, load_experiment, parse_experiment
from samplerlab.formats import FormatError
from samplerlab.formats_import import detect_format, import_file, import_preset
from samplerlab.params import Settings
from samplerlab.presets import Preset, PresetError, parse_preset_text, read_preset_file, save_preset
from samplerlab.results import Outcome, ResultError, dump, load_result, result_columns, write_new

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
    return subprocess.run([sys.executable, "-c", "from samplerlab.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=TIMEOUT,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})


# -- safe_yaml ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, problem", [
    ("a: &x [*x]\n", "anchors and aliases (&name, *name) are not allowed here"),
    ("a: &x 1\n", "anchors and aliases (&name, *name) are not allowed here"),
    (DEEP, "nested more than 32 levels deep"),
    ("- " * 33 + "x\n", "nested more than 32 levels deep"),
    ("[" + "1, " * 101 + "]", "more than 100 YAML values"),
])
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


@pytest.mark.parametrize("text, problem", [
    ("a: " + "9" * 5000, "cannot read this value (Exceeds the limit (4300 digits) for integer string conversion: "
                         "value has 5000 digits)"),
    ("a: 2001-13-40\n", "cannot read this value (month must be in 1..12)"),
    ("a: !!timestamp x\n", "cannot read this value ('NoneType' object has no attribute 'groupdict')"),
])
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
    with pytest.raises(safe_yaml.ReadError, match=r"p\.yaml: a FIFO \(named pipe\), not a regular file; only "
                                                  r"regular files are read$"):
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
@pytest.mark.parametrize("text, message", [
    (ALIAS_LOOP, "{path}:1: anchors and aliases (&name, *name) are not allowed here"),
    ("prompt: " + DEEP, "{path}:1: nested more than 32 levels deep"),
    ("prompts: [" + "a, " * 100_001 + "]\n", "{path}:1: more than 100000 YAML values"),
    ("prompt: 2001-13-40\n", "{path}:1: not valid YAML: cannot read this value (month must be in 1..12)"),
])
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


@pytest.mark.parametrize("text, message", [
    (HEAD + "stop: &p [*p]\n", "x.yaml: line 3: anchors and aliases (&name, *name) are not allowed here"),
    (HEAD + "stop: " + SMALL_DEEP, "x.yaml: line 3: nested more than 32 levels deep"),
    (HEAD + "stop: [" + "a," * 20_000 + "]\n", "x.yaml: line 3: more than 20000 YAML values"),
])
def test_presets_refuse_bombs_deep_nesting_and_floods(text, message):
    with pytest.raises(PresetError) as caught:
        parse_preset_text(text, "x.yaml")
    assert str(caught.value) == message


@pytest.mark.parametrize("name, text, message", [
    ("deep.json", SMALL_DEEP + "]" * 20_000, "{path}: JSON nested more than 32 levels deep"),
    ("deep.json", '{"temp": ' + SMALL_DEEP + "]" * 20_000 + "}",
     "{path}: SillyTavern preset: nested more than 32 levels deep"),
    ("deep.yaml", "top_k: " + SMALL_DEEP, "{path}: text-generation-webui preset: line 1: nested more than 32 "
                                               "levels deep"),
])
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
    with pytest.raises(PresetError, match=r"p\.yaml: a FIFO \(named pipe\), not a regular file; only regular files "
                                          r"are read$"):
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
