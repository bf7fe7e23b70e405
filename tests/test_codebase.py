"""The code's own checks as tests: ruff's lint and format, and mypy (config in pyproject.toml); the tools are in
the test extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT)


def test_ruff_finds_nothing_to_fix() -> None:
    answer = tool("ruff", "check", "samplerlab", "tests")
    assert answer.returncode == 0, answer.stdout + answer.stderr


def test_the_code_is_formatted_as_ruff_formats_it() -> None:
    answer = tool("ruff", "format", "--check", "samplerlab", "tests")
    assert answer.returncode == 0, answer.stdout + answer.stderr


def test_mypy_finds_no_type_errors() -> None:
    answer = tool("mypy")
    assert answer.returncode == 0, answer.stdout + answer.stderr
