"""What a llama-server's model is, in the fields a local model fills (``BackendInfo``).

llama-server (tools/server/server-context.cpp of the vendored llama.cpp) reports the model's path
and llama.cpp's name for its file type in ``GET /props`` (``model_path``, ``model_ftype``), and
its vocabulary, trained context, embedding width, parameters and tensor bytes in ``GET /v1/models``
(``meta``). No endpoint reports the architecture or the model's own name (``general.architecture``,
``general.name``): ``/props``, ``/v1/models`` and ``/slots`` have no such field. When the server runs
on this machine its ``model_path`` is readable here, so the file's GGUF header (read in pure Python,
bounded: ``files.gguf_header``) supplies them, and the line a server's model gets is the line the
same file loaded locally gets. The header is used only if it agrees with what the server says of the
model it loaded (vocabulary, trained context, embedding width), so another file at the same path on
another machine never lends its name. Otherwise the architecture stays unreported ("").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from ..files.gguf_header import HeaderError, Skipped, read_metadata
from ..llama.models import quantization_name

MAX_VOCAB = 1 << 20  # no model comes near (Gemma's is 262,144); a server claiming more is clamped


@dataclass(frozen=True)
class ServerModel:
    name: str
    file_name: str
    file_size: int
    architecture: str  # "" when the server's file is not readable here (a server on another machine)
    parameters: int
    quantization: str
    context_length: int
    vocab_size: int


def describe_model(props: Mapping[str, Any], meta: Mapping[str, Any]) -> ServerModel:
    """The server's model: from its own reports, completed by the file's header when it is the same file."""
    path = str(props.get("model_path") or "")
    file_name = PurePath(path).name if path else "unknown model"
    header = same_file_header(path, meta)
    reported_type = str(props.get("model_ftype") or meta.get("ftype") or "")
    quantization = reported_type or _quantization(file_name)
    if header:
        quantization = _header_quantization(header) or quantization
    return ServerModel(
        name=str(header.get("general.name") or "") or PurePath(file_name).stem,
        file_name=file_name,
        file_size=_file_size(path) if header else _int(meta.get("size")),
        architecture=str(header.get("general.architecture", "")) if header else "",
        parameters=_int(meta.get("n_params")),
        quantization=quantization,
        context_length=_int(meta.get("n_ctx_train")),
        vocab_size=min(_int(meta.get("n_vocab")), MAX_VOCAB),
    )


def same_file_header(path: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The GGUF metadata of ``path`` if it is readable here and describes the model the server loaded, else {}."""
    if not path or not PurePath(path).is_absolute():
        return {}
    file = Path(path)
    try:
        if not file.is_file():
            return {}
        header = read_metadata(file)
    except (OSError, HeaderError):
        return {}
    return header if _agrees(header, meta) else {}


def _agrees(header: Mapping[str, Any], meta: Mapping[str, Any]) -> bool:
    """The header's vocabulary, trained context and embedding width are the server's (all three reported)."""
    arch = header.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        return False
    tokens = header.get("tokenizer.ggml.tokens")
    vocab = tokens.length if isinstance(tokens, Skipped) else len(tokens) if isinstance(tokens, list) else None
    pairs = (
        (vocab, meta.get("n_vocab")),
        (header.get(f"{arch}.context_length"), meta.get("n_ctx_train")),
        (header.get(f"{arch}.embedding_length"), meta.get("n_embd")),
    )
    return all(_int(reported) > 0 and _int(found) == _int(reported) for found, reported in pairs)


def _header_quantization(header: Mapping[str, Any]) -> str:
    """llama.cpp's name for general.file_type ('Q4_K_M'), as a local model shows it; '' when the header has none."""
    name = quantization_name(str(header.get("general.file_type", "")), "")
    return "" if name == "unknown" else name


def _file_size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _quantization(file_name: str) -> str:
    """'Q4_K_M' from 'model.Q4_K_M.gguf': for a server that reports no file type."""
    parts = PurePath(file_name).stem.replace("-", ".").split(".")
    return next(
        (part.upper() for part in reversed(parts) if part[:1] in "QqFfIi" and any(c.isdigit() for c in part)), "unknown"
    )
