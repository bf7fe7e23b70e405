"""Hostile GGUF headers: refused in one line before llama.cpp sees them, or caught by the trial child.

Every hostile file is a copy of the real embedded model with some metadata edited (gguf_edit), so
llama.cpp reads it as it reads the original except for the edit. Without the checks, each of
these aborts the process that loads it (GGML_ASSERT: SIGABRT), which in a shared app is every
visitor's session.
"""

from __future__ import annotations

import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.cli.main import main
from samplerlab.files.gguf_header import LLAMA_MAX_EXPERTS, HeaderError, check_hparams, read_metadata
from samplerlab.files.model_files import ModelError, check_gguf, resolve_model_path
from samplerlab.llama.models import Model
from samplerlab.words.errors_ja import localize
from tests.files.gguf_edit import edited

L = "llama."
ABORTS = "; llama.cpp would abort on it (expected "


@pytest.fixture(scope="module")
def hostile(model_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """``hostile(name, changes)``: a copy of the embedded model with ``changes`` in its metadata."""
    folder = tmp_path_factory.mktemp("hostile-gguf")
    return lambda name, changes: edited(model_path, folder / f"{name}.gguf", changes)


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SAMPLERLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_edited_copy_of_an_unchanged_model_is_the_model(model_path, tmp_path):
    assert edited(model_path, tmp_path / "same.gguf", {}).read_bytes() == model_path.read_bytes()


def test_without_the_check_llama_cpp_aborts_the_process_that_loads_it(hostile):
    """The attack as reported: block_count 513 ends the loading process with SIGABRT."""
    path = hostile("layers-513", {L + "block_count": 513})
    child = "import sys, llama_cpp; llama_cpp.llama_model_load_from_file(sys.argv[1].encode(), llama_cpp.llama_model_default_params())"
    ended = subprocess.run(
        [sys.executable, "-c", child, str(path)], capture_output=True, env={"GGML_NO_BACKTRACE": "1"}, timeout=120
    )
    assert ended.returncode == -signal.SIGABRT and b"LLAMA_MAX_LAYERS" in ended.stderr


@pytest.mark.parametrize(
    "changes, message",
    [
        ({L + "block_count": 0}, "llama.block_count is 0" + ABORTS + "1 to 512 layers (llama.cpp's LLAMA_MAX_LAYERS))"),
        (
            {L + "block_count": 513},
            "llama.block_count is 513" + ABORTS + "1 to 512 layers (llama.cpp's LLAMA_MAX_LAYERS))",
        ),
        ({L + "block_count": 100_000}, "llama.block_count is 100000" + ABORTS + "1 to 512 layers"),
        ({L + "nextn_predict_layers": 31}, "llama.nextn_predict_layers is 31" + ABORTS + "at most block_count (30))"),
        (
            {L + "expert_count": LLAMA_MAX_EXPERTS + 1, L + "expert_used_count": 1},
            f"llama.expert_count is {LLAMA_MAX_EXPERTS + 1}" + ABORTS + f"at most {LLAMA_MAX_EXPERTS}",
        ),
        ({L + "expert_used_count": 1}, "llama.expert_used_count is 1" + ABORTS + "0 in a model without experts"),
        (
            {L + "expert_count": 4, L + "expert_used_count": 5},
            "llama.expert_used_count is 5" + ABORTS + "1 to expert_count (4))",
        ),
        ({L + "expert_group_count": 1}, "llama.expert_group_count is 1" + ABORTS + "0 in a model without experts"),
        (
            {L + "rope.scaling.type": "bogus"},
            "llama.rope.scaling.type is 'bogus'" + ABORTS + "one of none, linear, yarn, longrope)",
        ),
        (
            {L + "attention.head_count_kv": [3] * 29 + [2]},
            "llama.attention.head_count_kv is 2" + ABORTS + "a divisor of attention.head_count (9) (layer 29))",
        ),
    ],
)
def test_values_llama_cpp_asserts_on_are_refused_in_one_line_before_it_loads(hostile, changes, message):
    """Each of these aborts the vendored llama.cpp (checked by hand with a raw load, as in the test above)."""
    path = hostile("bad", changes)
    with pytest.raises(ModelError) as caught:
        Model(path)  # check_gguf refuses it before the trial child or llama.cpp run
    assert str(caught.value).startswith(f"{path}: {message}") and "\n" not in str(caught.value)


def test_the_limits_themselves_pass(hostile):
    for changes in (
        {L + "block_count": 512},
        {L + "expert_count": LLAMA_MAX_EXPERTS, L + "expert_used_count": 1},
        {L + "attention.head_count_kv": [3] * 29 + [0]},  # hybrid models have layers without K/V heads
    ):
        check_hparams(read_metadata(hostile("edge", changes)))


def test_a_shared_app_keeps_serving_after_a_visitor_loads_a_hostile_file(model, hostile, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    hostile("x", {L + "block_count": 0}).rename(models / "layers-0.gguf")
    bench = Workbench(LocalBackend(model), models_dir=models, shared=True)
    with pytest.raises(ModelError) as caught:
        bench.load_model("layers-0.gguf")
    assert bench.message(caught.value).startswith("models/layers-0.gguf: llama.block_count is 0; llama.cpp would abort")
    assert bench.backend.model is model and model.pointer
    ja = localize(bench.message(caught.value), "ja")
    assert "llama.block_count が 0 です。llama.cpp はこの値で異常終了します" in ja


def test_a_hostile_file_the_header_check_lets_through_is_caught_by_the_trial_child(model, hostile, fresh_cache):
    """The second line of defence: K/V heads that do not match the tensors of one layer pass every header
    rule (a hybrid model may have such layers) but abort llama.cpp in its first graph; the trial child
    dies instead of this process, and the app keeps its model."""
    path = hostile("kv-heads", {L + "attention.head_count_kv": [3] * 29 + [0]})
    check_gguf(path)  # nothing in the header alone says it is wrong
    bench = Workbench(LocalBackend(model))
    with pytest.raises(ModelError) as caught:
        bench.load_model(str(path))
    message = str(caught.value)
    assert message.startswith("kv-heads.gguf: llama.cpp crashed (SIGABRT) loading it with the default load settings")
    assert "(ggml.c:" in message and "GGML_ASSERT" in message and "/tmp" not in message and "\n" not in message
    assert bench.backend.model is model and model.pointer


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"", "not a GGUF model file"),
        (b"GGUF", "the header is truncated or corrupt (the version runs past the end of the file)"),
        (b"GGUF" + struct.pack("<IQQ", 4, 0, 0), "GGUF version 4 is not supported (expected 2 or 3)"),
        (
            b"GGUF" + struct.pack("<IQQ", 3, 0, 2**62),
            f"the header claims {2**62} metadata keys; expected at most 65536",
        ),
        (
            b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 2**60),
            "the header is truncated or corrupt (metadata key 0 runs past",
        ),
        (b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 1) + b"k" + struct.pack("<I", 99), "k: unknown GGUF value type 99"),
        (
            b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 1) + b"k" + struct.pack("<IIQ", 9, 8, 2**40),
            f"k: an array of {2**40} values; expected at most {2**24}",
        ),
        (  # the red-team round's slow file: two arrays of empty strings, 2^21 + 1 values together (16 MiB)
            b"GGUF"
            + struct.pack("<IQQ", 3, 0, 2)
            + b"".join(
                struct.pack("<Q", 1) + name + struct.pack("<IIQ", 9, 8, count) + b"\0" * 8 * count
                for name, count in ((b"a", 2**20), (b"b", 2**20 + 1))
            ),
            "b: the header's string arrays hold more than 2097152 values together",
        ),
        (
            b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 1) + b"k" + struct.pack("<IIQ", 9, 8, 2) + struct.pack("<Q", 2**50),
            "the header is truncated or corrupt (k runs past the end of the file)",
        ),
    ],
)
def test_the_header_reader_is_bounded_and_says_what_is_wrong(data, problem, tmp_path):
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with pytest.raises(HeaderError) as caught:
        read_metadata(path)
    assert str(caught.value).startswith(problem)
    with pytest.raises(ModelError, match=rf"^{path}: "):
        check_gguf(path)


# -- item 13: paths no file can have -------------------------------------------------------------
LONG = "a" * 5000 + ".gguf"
TOO_LONG = "not a usable model path (too long: a file name holds at most 255 bytes and a path 4095)"


@pytest.mark.parametrize("path", [LONG, "/tmp/" + ("b" * 200 + "/") * 30 + "x.gguf"])
def test_a_path_longer_than_the_system_allows_is_one_short_line(path, model, tmp_path):
    for call in (lambda: resolve_model_path(path), lambda: Model(path)):
        with pytest.raises(ModelError) as caught:
            call()
        message = str(caught.value)
        assert message.endswith(TOO_LONG) and len(message) < 200 and "…" in message
    result = CliRunner().invoke(main, ["compare", "hi", "--model", path, "--max-tokens", "2"])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and TOO_LONG in result.output, result.output
    shared = Workbench(LocalBackend(model), models_dir=tmp_path, shared=True)
    with pytest.raises(ModelError) as caught:
        shared.load_model(path.lstrip("/"))
    assert str(tmp_path) not in shared.message(caught.value) and TOO_LONG in shared.message(caught.value)
    assert "長すぎます" in localize(shared.message(caught.value), "ja")


def test_a_long_path_inside_the_models_dir_is_named_as_the_visitor_typed_it(model, tmp_path):
    """The visitor's path fits, the models folder plus it does not: the message shows what they typed."""
    typed = "/".join(["c" * 252] * 16) + ".gguf"  # 4,052 characters, the folder adds the rest
    shared = Workbench(LocalBackend(model), models_dir=tmp_path, shared=True)
    with pytest.raises(ModelError) as caught:
        shared.load_model(typed)
    assert str(tmp_path) not in shared.message(caught.value) and str(caught.value).startswith("'cccc")
