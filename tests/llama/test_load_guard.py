"""A load that crashes llama.cpp ends a child process with one clear line, never samplerlab itself.

The crash is real: the trial child kills itself with the signal named by the test seam
(SAMPLERLAB_TRIAL_CRASH) after loading, so this path is tested on every CPU, AMX or not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.app.workbench import Workbench
from samplerlab.cli.main import main
from samplerlab.llama.load_guard import CRASH_SEAM
from samplerlab.llama.machine import cpu_summary
from samplerlab.llama.models import Model, ModelError
from samplerlab.schema.load_settings import LoadSettings


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A per-user cache with no remembered trials, so every load here is tried in a child first."""
    monkeypatch.setenv("SAMPLERLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_child_killed_by_sigsegv_becomes_one_line_naming_repack_and_the_cpu(model_path, fresh_cache, monkeypatch):
    monkeypatch.setenv(CRASH_SEAM, "SIGSEGV")
    with pytest.raises(ModelError) as raised:
        Model(model_path, LoadSettings({"repack": True}))
    message = str(raised.value)
    assert message.startswith("repack=true: llama.cpp crashed (SIGSEGV) loading SmolLM2-135M-Instruct.Q4_1.gguf")
    assert message.endswith("; load with repack off") and "\n" not in message
    assert cpu_summary() in message or "AMX" in message
    assert not (fresh_cache / "trial-loads").exists() or not any((fresh_cache / "trial-loads").iterdir())


def test_an_abort_with_the_default_settings_says_so_and_loads_nothing(model_path, fresh_cache, monkeypatch):
    monkeypatch.setenv(CRASH_SEAM, "SIGABRT")
    with pytest.raises(
        ModelError,
        match=r"llama\.cpp crashed \(SIGABRT\) loading it with the default load settings "
        r"on this CPU \(.+\); the file may be damaged",
    ):
        Model(model_path)


def test_a_passed_trial_is_remembered_until_the_file_changes(model_path, fresh_cache, tmp_path):
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(model_path.read_bytes())
    with Model(copy) as first:
        assert first.trial.ran and first.trial.seconds > 0
        assert first.trial.describe().startswith("trial load in a child process: ")
    with Model(copy) as second:
        assert not second.trial.ran
    with Model(copy, LoadSettings({"n_ctx": 512})) as other_settings:
        assert other_settings.trial.ran
    os.utime(copy, ns=(1, 1))
    with Model(copy) as touched:
        assert touched.trial.ran


def test_the_cli_answers_a_crashing_load_with_one_line(fresh_cache, monkeypatch):
    monkeypatch.setenv(CRASH_SEAM, "SIGSEGV")
    result = CliRunner().invoke(
        main, ["compare", "hi", "--load", "repack=true", "--column", "temperature=0", "--max-tokens", "2"]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "repack=true: llama.cpp crashed (SIGSEGV)" in lines[0], result.output


def test_the_app_keeps_its_model_and_serves_on_after_a_crashing_load(model, fresh_cache, monkeypatch):
    from samplerlab.backends.local import LocalBackend

    bench = Workbench(LocalBackend(model))
    monkeypatch.setenv(CRASH_SEAM, "SIGSEGV")
    with pytest.raises(ModelError, match=r"repack=true: llama\.cpp crashed \(SIGSEGV\)"):
        bench.load_model("", "", "", {"repack": True})
    assert bench.backend.model is model and model.pointer


def test_the_crash_line_reads_in_japanese_with_lang_ja(fresh_cache, monkeypatch):
    monkeypatch.setenv(CRASH_SEAM, "SIGABRT")
    result = CliRunner().invoke(
        main, ["--lang", "ja", "compare", "hi", "--column", "temperature=0", "--max-tokens", "2"]
    )
    assert result.exit_code == 1
    assert result.output.startswith(
        "エラー: SmolLM2-135M-Instruct.Q4_1.gguf: 既定の読み込み設定で読み込むと、この CPU（"
    )
    assert "llama.cpp がクラッシュしました（SIGABRT）" in result.output and result.output.endswith(
        "何も読み込んでいません\n"
    )
