"""Backends: where columns are generated. Everything above this seam sees events, never llama.cpp.

A backend has an ``info`` (what model, where, how many columns at once, whether it traces the
stages itself) and ``generate(request, columns, cancel, info) -> events``. The local backend runs
llama.cpp in this process (``backends.local``); the server backend sends each column to a
llama-server (``backends.server``) and replays the chain on its top candidates (``replay``).
This module is pure: opening a local backend imports llama.cpp only then.

May import: llama (opening a local backend loads it then), chats, presets, events and below; never runs or anything above, never gradio.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ..events import PROBE_PROMPT, Column, Event, GenerationError, Independence, Mode, Request, TokenEvent, collect
from ..schema.params import Settings

API_KEY_ENV = "SAMPLERLAB_API_KEY"


class BackendError(GenerationError):
    """A backend that cannot be reached or used (a server down, unauthorised, not a llama-server ...)."""


@dataclass(frozen=True)
class BackendInfo:
    """What the model bar shows and what a result file records, for any backend.

    The first fields are what a local GGUF reveals; a server reports what its /props and
    /v1/models say, and leaves unknown what it does not (sha256 of a file on another machine).
    """

    name: str
    file_name: str
    file_size: int
    architecture: str
    parameters: int
    quantization: str
    context_length: int  # trained
    chat_template: bool
    vocab_size: int
    kind: str = "local"  # or "llama-server"
    location: str = ""  # a path, or a URL without credentials
    context_per_column: int = 0
    llama_cpp_build: str = ""
    parallel: int = 8  # columns it generates at once; more queue
    traces_stages: str = "exact"  # "exact": the chain runs here; "replayed": on the server's top candidates
    sha256: str | None = None

    def record(self) -> dict[str, Any]:
        """As a result file writes it."""
        return {key: value for key, value in asdict(self).items() if value not in (None, "")}


MODEL_FIELDS = (
    "name", "file_name", "file_size", "architecture", "parameters", "quantization", "context_length", "vocab_size"
)  # fmt: skip


def model_fields(model: Any) -> dict[str, Any]:
    """The fields a model's own description fills, read from a local model's or a server's model alike
    (both have these attributes), so each backend names only what is its own."""
    return {name: getattr(model, name) for name in MODEL_FIELDS}


class Backend(Protocol):
    info: BackendInfo
    lock: threading.Lock  # held for one generation; not reentrant

    def generate(
        self,
        request: Request,
        columns: Sequence[Column],
        cancel: threading.Event | None = None,
        info: dict | None = None,
    ) -> Iterator[Event]: ...

    def refuse(self, settings: Settings) -> str | None:
        """Why this backend cannot run these settings (one line), or None."""

    def close(self) -> None: ...

    def __enter__(self) -> Backend: ...

    def __exit__(self, *exc: object) -> None: ...


def chat_mode_for(backend: Backend) -> Mode:
    return "chat" if backend.info.chat_template else "raw"


def check_independence(
    backend: Backend, tokens: int = 16, wide_tokens: int = 3, widest: int | None = None
) -> Independence:
    """Generate a probe alone and beside others, and compare every raw probability bit for bit.

    A probe can show that columns depend on each other, never prove that they don't: the
    CPU kernels that break independence do so only for some activations and batch sizes (a matrix
    product may take another path for 64 rows than for 4), so this probe uses a real chat prompt,
    where they showed up at the first step on a Q4_K_M model. Locally it runs beside 3 others and
    then among as many columns as the engine runs at once (64 on a CPU; ``widest`` sets it), for
    ``wide_tokens`` tokens only (a wide step costs as much as many narrow ones; every column's first
    token comes from the one prompt evaluation, so it takes 2 or more to probe a batch). On a server,
    the probe runs beside as many columns as it has slots (at most 64), sent at once so its slots
    decode them in one batch; in a pool, on every server, and the servers' lone probes must agree
    too (a server on another CPU kind or build computes other texts).
    """
    request = Request(PROBE_PROMPT, mode=chat_mode_for(backend))
    members: list[Any] = list(getattr(backend, "backends", None) or [backend])
    try:
        probes = [_probe(member, request, tokens, wide_tokens, widest) for member in members]
    except BackendError as error:
        if backend.info.kind == "local":
            raise
        raise BackendError(
            f"{error}; this was samplerlab's first probe of it: if llama-server crashed there, "
            "start it with --no-repack (with repack on llama.cpp crashes on AMX CPUs, "
            "llama.cpp#20824) and read its log"
        ) from None
    verdicts = [compare_tokens(alone[: len(beside)], beside) for alone, besides in probes for beside in besides]
    verdicts += [compare_tokens(probes[0][0], alone) for alone, _ in probes[1:]]
    return Independence(all(v.independent for v in verdicts), max(v.max_difference for v in verdicts))


def _probe(
    backend: Backend, request: Request, tokens: int, wide_tokens: int, widest: int | None
) -> tuple[list[TokenEvent], list[list[TokenEvent]]]:
    """Column 0's tokens alone, and beside the others: 4 columns then the engine's widest batch locally,
    every slot of a server."""
    local = backend.info.kind == "local"
    count = 4 if local else min(max(4, backend.info.parallel), 64)
    wide = (widest or min(backend.info.parallel, 64)) if local else count
    columns = [
        Column(str(i), Settings({"temperature": 0.7 + 0.3 * (i % 4), "seed": i, "max_tokens": tokens}))
        for i in range(max(wide, count))
    ]
    alone = collect(backend.generate(request, columns[:1]), 1)[0].tokens
    besides = [collect(backend.generate(request, columns[:count]), count)[0].tokens]
    if wide > count:
        short = [Column(c.label, c.settings.replace(max_tokens=wide_tokens)) for c in columns[:wide]]
        besides.append(collect(backend.generate(request, short), wide)[0].tokens)
    return alone, besides


def compare_tokens(alone: Sequence[TokenEvent], beside: Sequence[TokenEvent]) -> Independence:
    pairs = list(zip(alone, beside))
    difference = max((abs(a.raw_prob - b.raw_prob) for a, b in pairs), default=0.0)
    same = len(alone) == len(beside) and all(a.token_id == b.token_id and a.before == b.before for a, b in pairs)
    return Independence(same, difference)


def open_backend(
    model: str | None = None,
    hf_repo: str | None = None,
    hf_file: str | None = None,
    load: Any = None,
    servers: Sequence[str] = (),
    api_key: str | None = None,
) -> Backend:
    """A local model (path, Hugging Face, or the embedded one) or llama-server(s) at ``servers``."""
    if servers:
        if model or hf_repo or hf_file:
            raise BackendError("--server runs the server's own model; drop --model/--hf-repo/--hf-file")
        from .pool import ServerPool
        from .server import ServerBackend

        backends = [ServerBackend(url, api_key) for url in dict.fromkeys(servers)]
        return backends[0] if len(backends) == 1 else ServerPool(backends)
    from ..files.model_files import resolve_model_path
    from ..llama.models import Model
    from .local import LocalBackend

    return LocalBackend(Model(resolve_model_path(model, hf_repo, hf_file), load))
