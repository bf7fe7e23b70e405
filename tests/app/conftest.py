"""The app tests' own files: the embedded model without its chat template."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.files.gguf_edit import DELETE, edited


@pytest.fixture(scope="session")
def untemplated_path(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded model with its tokenizer.chat_template key removed: a base model, as far as chat mode knows."""
    return edited(
        model_path, tmp_path_factory.mktemp("untemplated") / "no-template.gguf", {"tokenizer.chat_template": DELETE}
    )
