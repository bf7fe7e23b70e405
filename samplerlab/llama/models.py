"""Loading GGUF models into llama.cpp, and what they are (the local backend's model).

Where model files come from (the embedded model, paths, Hugging Face) is ``model_files``: pure,
so experiment and result files can name models without importing llama.cpp.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import llama_cpp

from ..files.model_files import (
    ModelError,
    available_memory,
    check_gguf,
    embedded_model_path,  # noqa: F401
)
from ..schema.load_settings import KV_CACHE_TYPES, LoadSettings, check_load
from .load_guard import TrialLoad, guard_load
from .templates import TemplateError, render_chat
from .versions import llama_build

GGML_LOG_LEVEL_ERROR = 4  # ggml.h; llama-cpp-python does not export it
# general.file_type -> llama.cpp's name for it (LLAMA_FTYPE_MOSTLY_Q4_K_M -> 'Q4_K_M'), from the bindings
# so that new types arrive with a new llama-cpp-python
FILE_TYPES = {
    value: name.removeprefix("LLAMA_FTYPE_").removeprefix("MOSTLY_").removeprefix("ALL_")
    for name, value in vars(llama_cpp).items()
    if name.startswith("LLAMA_FTYPE_") and name != "LLAMA_FTYPE_GUESSED"
}


@dataclass(frozen=True)
class ModelInfo:
    """What the model bar shows and what a result file records."""

    path: str
    file_name: str
    file_size: int
    name: str
    architecture: str
    parameters: int
    quantization: str
    context_length: int
    chat_template: bool
    vocab_size: int


class _LlamaLog:
    """Keeps llama.cpp quiet and remembers its last errors so a failure can be explained."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.callback = llama_cpp.llama_log_callback(self._log)

    def _log(self, level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        if level == GGML_LOG_LEVEL_ERROR:
            self.errors = (self.errors + [text.decode("utf-8", "replace").strip()])[-5:]

    def clear(self) -> None:
        """Forget earlier errors, so a failure is explained by its own lines only."""
        self.errors = []

    def load_error(self) -> str:
        """The most specific reason llama.cpp gave for a failed load, without its function names.

        llama.cpp logs the cause first ("tensor ... data is not within the file bounds, model is
        corrupted or incomplete", "gguf_init_from_reader: failed to read key-value pairs"), then
        generic "failed to load model" lines, which are skipped.
        """
        causes = [_LOG_PREFIX.sub("", e) for e in self.errors if e and "failed to load model" not in e]
        if not causes:
            return "the file may be truncated or of an unsupported architecture"
        cause = causes[0]
        if "failed to read" in cause:  # the GGUF header or metadata ends early or is garbled
            cause += " (the file is corrupted or incomplete)"
        return cause


_LOG_PREFIX = re.compile(r"^(?:[a-z_]+: |error loading model: )+")


@lru_cache(maxsize=1)
def _backend() -> _LlamaLog:
    llama_cpp.llama_backend_init()
    log = _LlamaLog()
    if not os.environ.get("SAMPLERLAB_LLAMA_LOG"):
        llama_cpp.llama_log_set(log.callback, ctypes.c_void_p(0))
    return log


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Model:
    """A GGUF model loaded into llama.cpp; contexts are made per run by the engine.

    ``trial`` first loads the file in a child process (``load_guard``) unless the same file and
    settings passed such a trial on this machine before, so that a crash in llama.cpp cannot take
    this process with it; only the trial's own child loads with ``trial=False``.
    """

    def __init__(self, path: str | os.PathLike, load: LoadSettings | None = None, trial: bool = True) -> None:
        self.path = Path(path)
        self.load = load or LoadSettings()
        check_load(self.load)
        check_gguf(self.path)
        self._check_memory()
        self.trial = (
            guard_load(self.path, self.load, llama_build()) if trial else TrialLoad(False, 0.0, "not asked for")
        )
        log = _backend()
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = self.load.n_gpu_layers if self.load.n_gpu_layers >= 0 else 10_000
        params.load_mode = load_mode(self.load.use_mmap, self.load.use_mlock)
        params.use_extra_bufts = self.load.repack
        log.clear()
        pointer = llama_cpp.llama_model_load_from_file(str(self.path).encode("utf-8"), params)
        if not pointer:
            raise ModelError(f"{self.path}: llama.cpp could not load it: {log.load_error()}")
        self.pointer = pointer
        self.vocab = llama_cpp.llama_model_get_vocab(pointer)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.n_threads = self.load.n_threads or default_threads()
        self.lock = threading.Lock()  # one generation at a time per model
        self.info = self._read_info()
        self._piece_cache: dict[int, bytes] = {}
        self._close_hooks: list[Callable[[], None]] = []
        self._text_cache: dict[int, str] = {}

    def _check_memory(self) -> None:
        size = self.path.stat().st_size
        free = available_memory()
        if free is not None and size > free and not self.load.use_mmap:
            raise ModelError(
                f"{self.path}: needs about {size / 2**30:.1f} GiB of memory but only "
                f"{free / 2**30:.1f} GiB is available (try use_mmap, or a smaller quantization)"
            )

    def meta(self, key: str) -> str | None:
        buffer = ctypes.create_string_buffer(65536)
        length = llama_cpp.llama_model_meta_val_str(self.pointer, key.encode(), buffer, len(buffer))
        if length < 0:
            return None
        if length >= len(buffer):
            buffer = ctypes.create_string_buffer(length + 1)
            llama_cpp.llama_model_meta_val_str(self.pointer, key.encode(), buffer, len(buffer))
        return buffer.value.decode("utf-8", "replace")

    def _read_info(self) -> ModelInfo:
        buffer = ctypes.create_string_buffer(256)
        llama_cpp.llama_model_desc(self.pointer, buffer, len(buffer))
        description = buffer.value.decode("utf-8", "replace")
        architecture = self.meta("general.architecture") or description.split(" ")[0]
        return ModelInfo(
            path=str(self.path),
            file_name=self.path.name,
            file_size=self.path.stat().st_size,
            name=self.meta("general.name") or self.path.stem,
            architecture=architecture,
            parameters=int(llama_cpp.llama_model_n_params(self.pointer)),
            quantization=quantization_name(self.meta("general.file_type"), description),
            context_length=int(llama_cpp.llama_model_n_ctx_train(self.pointer)),
            chat_template=self.chat_template() is not None,
            vocab_size=self.n_vocab,
        )

    def chat_template(self) -> str | None:
        return self.meta("tokenizer.chat_template")

    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 16
        tokens = (llama_cpp.llama_token * capacity)()
        count = llama_cpp.llama_tokenize(self.vocab, data, len(data), tokens, capacity, add_special, parse_special)
        if count < 0:
            tokens = (llama_cpp.llama_token * -count)()
            count = llama_cpp.llama_tokenize(self.vocab, data, len(data), tokens, -count, add_special, parse_special)
        return list(tokens[:count])

    def piece(self, token: int) -> bytes:
        """The bytes of one token (special tokens render as nothing), cached: pieces never change."""
        cached = self._piece_cache.get(token)
        if cached is None:
            buffer = ctypes.create_string_buffer(256)
            length = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, len(buffer), 0, False)
            cached = buffer.raw[: max(length, 0)]
            self._piece_cache[token] = cached
        return cached

    def token_text(self, token: int) -> str:
        """How a token reads in a candidate list: special tokens by name, partial bytes escaped."""
        cached = self._text_cache.get(token)
        if cached is None:
            buffer = ctypes.create_string_buffer(256)
            length = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, len(buffer), 0, True)
            cached = buffer.raw[: max(length, 0)].decode("utf-8", "backslashreplace")
            self._text_cache[token] = cached
        return cached

    @property
    def closed(self) -> bool:
        """Freed by ``close``: its vocabulary and weights are gone, so nothing may read them any more."""
        return not getattr(self, "pointer", None)

    @functools.cached_property
    def longest_piece(self) -> int:
        """The most bytes one token stands for (special tokens by their text, as prompts parse them).

        A text of n bytes is at least n / longest_piece tokens, so a prompt far larger than a
        context can be refused without tokenizing it (tokenizing 60 MB took 39 s and 3.9 GB)."""
        buffer = ctypes.create_string_buffer(256)
        longest = 1
        for token in range(self.n_vocab):
            length = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, len(buffer), 0, True)
            longest = max(longest, length if length >= 0 else -length)
        return longest

    def is_end(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def chat_prompt(self, messages: Sequence[dict[str, Any]]) -> str:
        """The conversation rendered with the model's own chat template, ready for the reply: in a child
        process with bounded memory and time (``templates``), since the template is the file's code."""
        template = self.chat_template()
        if template is None:
            raise ModelError(f"{self.info.file_name} has no chat template; use raw completion mode")
        special = lambda token: self.token_text(token) if token >= 0 else ""  # noqa: E731
        eos = special(llama_cpp.llama_vocab_eos(self.vocab))
        bos = special(llama_cpp.llama_vocab_bos(self.vocab))
        try:
            return render_chat(template, messages, eos, bos)
        except TemplateError as error:
            raise ModelError(f"{self.info.file_name}: its chat template failed: {error}") from None

    def on_close(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` before the model is freed: contexts made on it must go first."""
        self._close_hooks.append(hook)

    def close(self) -> None:
        if getattr(self, "pointer", None):
            for hook in self._close_hooks:
                hook()
            llama_cpp.llama_model_free(self.pointer)
            self.pointer = None

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def quantization_name(file_type: str | None, description: str) -> str:
    """llama.cpp's name for the file type in the GGUF metadata ('Q4_K_M'); the description
    ('llama 256M Q4_K - Medium') names K-quants only in words, so it is the fallback."""
    try:
        return FILE_TYPES[int(file_type or "") & ~llama_cpp.LLAMA_FTYPE_GUESSED]
    except (ValueError, KeyError):
        parts = description.split(" ", 2)
        return parts[2] if len(parts) == 3 else "unknown"


def load_mode(use_mmap: bool, use_mlock: bool) -> int:
    """llama.cpp's one load_mode for the two switches (a ctypes struct takes a misspelt field silently,
    so ``params.use_mmap = ...`` would be ignored: this llama.cpp has no such field)."""
    return {
        (True, True): llama_cpp.LLAMA_LOAD_MODE_MMAP_MLOCK,
        (False, True): llama_cpp.LLAMA_LOAD_MODE_MLOCK,
        (True, False): llama_cpp.LLAMA_LOAD_MODE_MMAP,
        (False, False): llama_cpp.LLAMA_LOAD_MODE_NONE,
    }[(use_mmap, use_mlock)]


def kv_type(name: str) -> int:
    return KV_CACHE_TYPES[name]
