"""The layout's promises at run time: the CLI loads llama.cpp and Gradio only for the commands that need them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# a finder that refuses llama_cpp and gradio, so the command fails if anything imports them
BLOCK = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("llama_cpp", "gradio", "gradio_client"):
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, Refuse())
sys.argv = ["samplerlab", *sys.argv[1:]]
from samplerlab.cli.main import main
main()
"""


def without_llama_or_gradio(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "", "HOME": str(home), "LANG": "C.UTF-8"},
    )


def test_help_loads_neither_llama_cpp_nor_gradio(tmp_path: Path) -> None:
    answer = without_llama_or_gradio(tmp_path, "--help")
    assert answer.returncode == 0, answer.stderr
    assert "Usage:" in answer.stdout


def test_a_preset_exports_without_llama_cpp(tmp_path: Path) -> None:
    answer = without_llama_or_gradio(tmp_path, "presets", "export", "greedy", "--to", "ollama")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith("# samplerlab preset 'greedy' for Ollama")


def test_the_import_contracts_hold() -> None:
    """pyproject.toml's [tool.importlinter] contracts: layers, llama_cpp and gradio each in their place."""
    pytest.importorskip("importlinter")
    answer = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr


def test_python_dash_m_samplerlab_is_the_cli() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "samplerlab", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "", "LANG": "C.UTF-8"},
    )
    assert answer.returncode == 0 and "Usage:" in answer.stdout, answer.stderr
