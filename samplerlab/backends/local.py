"""The local backend: llama.cpp in this process, one batched run for all columns (``engine``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from ..events import Column, Event, Request
from ..files.model_files import file_sha256, known_sha256
from ..llama import engine
from ..llama.kv_plan import max_columns
from ..llama.models import Model
from ..schema.params import Settings
from . import BackendInfo, model_fields


class LocalBackend:
    """A GGUF model loaded here; ``model`` stays reachable for what only a local model has (bench)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.lock = model.lock  # one generation at a time per model
        self._sha256: str | None = None
        self.info = self._describe()  # once: it reads llama.cpp's version, and the model never changes

    def _describe(self) -> BackendInfo:
        model = self.model.info
        return BackendInfo(
            **model_fields(model),
            chat_template=model.chat_template,
            kind="local",
            location=model.path,
            context_per_column=self.model.load.n_ctx,
            llama_cpp_build=_llama_version(),
            parallel=max_columns(self.model),
            traces_stages="exact",
        )

    @property
    def load(self):
        return self.model.load

    def sha256(self) -> str:
        """The model file's sha256, computed once (a multi-GB file takes seconds)."""
        if self._sha256 is None:
            self._sha256 = file_sha256(self.model.path)
        return self._sha256

    def known_sha256(self) -> str | None:
        """The sha256 if it is known without reading the file: hashed already, here or by an earlier run."""
        if self._sha256 is None:
            self._sha256 = known_sha256(self.model.path)
        return self._sha256

    def hash_in_background(self) -> threading.Thread:
        """Hash the model file between generations, so the app's runs can record it (``known_sha256``)."""

        def work() -> None:
            try:
                self._sha256 = file_sha256(self.model.path, between_blocks=lambda: self.lock)
            except OSError:
                pass  # the run records the sha256 as unknown, as before

        thread = threading.Thread(target=work, name="samplerlab-sha256", daemon=True)
        thread.start()
        return thread

    def generate(
        self,
        request: Request,
        columns: Sequence[Column],
        cancel: threading.Event | None = None,
        info: dict | None = None,
    ) -> Iterator[Event]:
        return engine.generate(self.model, request, columns, cancel, info)

    def refuse(self, settings: Settings) -> str | None:
        return None

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _llama_version() -> str:
    from ..llama.versions import environment

    return environment()["llama_cpp"]
