"""The pure parts import without llama.cpp: exporting a preset, reading a result, writing a report."""

from __future__ import annotations

import subprocess
import sys

PURE = (
    "samplerlab.schema.params",
    "samplerlab.schema.chains",
    "samplerlab.events",
    "samplerlab.presets.store",
    "samplerlab.presets.formats",
    "samplerlab.presets.formats_import",
    "samplerlab.chats.chat_files",
    "samplerlab.runs.experiments",
    "samplerlab.runs.results",
    "samplerlab.report.page",
    "samplerlab.backends",
    "samplerlab.files.model_files",
)


def test_pure_modules_do_not_import_llama_cpp() -> None:
    code = f"import sys\nfor name in {PURE!r}: __import__(name)\nprint('llama_cpp' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "False"
