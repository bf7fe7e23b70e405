"""Shared fixtures: the real embedded model, loaded once per test session."""

from __future__ import annotations

import ctypes
from pathlib import Path

import llama_cpp
import pytest

from samplerlab.models import Model, embedded_model_path
from samplerlab.load_settings import LoadSettings


@pytest.fixture(scope="session")
def model_path() -> Path:
    return embedded_model_path()


@pytest.fixture(scope="session")
def model(model_path: Path) -> Model:
    loaded = Model(model_path)
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def q4km_path(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded model requantized to Q4_K_M, whose CPU repack kernels break batch independence."""
    target = tmp_path_factory.mktemp("q4km") / "SmolLM2-135M-Instruct.Q4_K_M.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    params.allow_requantize = True
    status = llama_cpp.llama_model_quantize(str(model_path).encode(), str(target).encode(), ctypes.byref(params))
    assert status == 0, "llama_model_quantize failed"
    return target


@pytest.fixture(scope="session")
def q4km_model(q4km_path: Path) -> Model:
    loaded = Model(q4km_path, LoadSettings({"repack": False}))
    yield loaded
    loaded.close()
