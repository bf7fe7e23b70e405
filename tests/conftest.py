"""Shared fixtures: the real embedded model, loaded once per test session."""

from __future__ import annotations

import ctypes
from pathlib import Path

import llama_cpp
import pytest

from samplerlab.llama.models import Model, embedded_model_path
from samplerlab.schema.load_settings import LoadSettings


@pytest.fixture(autouse=True)
def run_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test records its runs in a store of its own, never in the user's (~/.local/share/samplerlab)."""
    path = tmp_path_factory.mktemp("store") / "runs.sqlite"
    monkeypatch.setenv("SAMPLERLAB_STORE", str(path))
    return path


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


# -- real llama-servers (built once per machine by tests/llama_server_build.py) ------------------
class LlamaServer:
    """A llama-server on 127.0.0.1 serving ``model``; ``stop``/``pause``/``resume`` for fault tests.

    Always ``--no-repack`` (llama.cpp's AMX repack crashes on AMX CPUs), and killed by the kernel
    when the test process dies, however it dies, so no crashed run leaves servers behind.
    """

    def __init__(self, model: Path, *flags: str) -> None:
        import subprocess
        import time
        import urllib.request

        from samplerlab.llama.load_guard import die_with_parent
        from tests.llama_server_build import build, server_env

        binary = build()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(binary),
                "-m",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-webui",
                "-t",
                "2",
                "--no-repack",
                *flags,
            ],
            env=server_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama-server exited with {self.process.returncode} ({' '.join(flags)})")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("llama-server did not become healthy within 120 s")

    def pause(self) -> None:
        import signal

        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        import signal

        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.resume()
            self.process.kill()
            self.process.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Flags that make a server's columns what samplerlab's local engine computes: no flash attention
# (samplerlab's default load setting), one KV stream per slot, no prompt cache reuse.
PARITY_FLAGS = ("-fa", "off", "-np", "4", "-no-kvu", "-c", "8192")


@pytest.fixture(scope="session")
def server(model_path: Path) -> LlamaServer:
    running = LlamaServer(model_path, *PARITY_FLAGS)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def second_server(model_path: Path) -> LlamaServer:
    running = LlamaServer(model_path, *PARITY_FLAGS)
    yield running
    running.stop()
