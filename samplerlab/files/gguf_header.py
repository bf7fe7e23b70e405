"""A GGUF file's metadata read in pure Python, within bounds, so hostile headers never reach llama.cpp.

llama.cpp checks some header values with ``GGML_ASSERT``, which aborts the whole process (SIGABRT)
instead of failing the load: a ``llama.block_count`` of 0 or 513 put in a shared app's
``--models-dir`` and loaded by a visitor ended the app for everyone. This module reads the
metadata (not the tensors) and ``check_hparams`` refuses, in one line naming the key, every
arch-independent value that ``llama_model_base::load_hparams`` asserts on in the llama.cpp that
llama-cpp-python 0.3.36 vendors (0c1e57098, src/llama-model.cpp and src/llama-hparams.h).

The reader itself is bounded: the file is memory-mapped, never read whole; every length is checked
against the bytes left before it is used, and only short values are kept (a vocabulary of 262,144
tokens is walked, not stored).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# src/llama-hparams.h at the vendored commit
LLAMA_MAX_LAYERS = 512
LLAMA_MAX_EXPERTS = 1024  # 1025 experts abort the vendored build, 1024 do not
ROPE_SCALING_TYPES = ("none", "linear", "yarn", "longrope")  # others become UNSPECIFIED, which is asserted on
MAX_KV = 1 << 16  # metadata pairs; real models have about 50
MAX_ARRAY = 1 << 24  # elements of one array; the largest vocabularies have 262,144 tokens
# strings in all arrays together, each walked one by one (16M empty strings took 12 s): a vocabulary
# and its merges are well under a million even for the largest tokenizers
MAX_STRINGS = 1 << 21
KEEP_TEXT = 1024  # bytes: longer strings (chat templates) are skipped, not kept
KEEP_ARRAY = LLAMA_MAX_LAYERS  # elements: per-layer arrays are kept, vocabularies are not

# GGUF value types (ggml/include/gguf.h): struct format of the fixed-size ones
SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
STRING, ARRAY = 8, 9
INTEGERS = (0, 1, 2, 3, 4, 5, 10, 11)


class HeaderError(ValueError):
    """A GGUF header that cannot be read or that llama.cpp would abort on; one line, without the path."""


@dataclass(frozen=True)
class Skipped:
    """A value too long to keep: its GGUF type and, for arrays, the element type and count."""

    kind: int
    item_kind: int | None = None
    length: int = 0


class _Cursor:
    """Little-endian reads from the mapped file, each refused if it would pass the end."""

    def __init__(self, data: mmap.mmap | bytes) -> None:
        self.data, self.at = data, 0
        self.strings = 0  # walked so far, across every array: bounded by MAX_STRINGS

    def take(self, size: int, what: str) -> int:
        if size < 0 or size > len(self.data) - self.at:
            raise HeaderError(f"the header is truncated or corrupt ({what} runs past the end of the file)")
        start, self.at = self.at, self.at + size
        return start

    def unpack(self, form: str, what: str) -> Any:
        start = self.take(struct.calcsize("<" + form), what)
        return struct.unpack_from("<" + form, self.data, start)[0]

    def text(self, what: str, keep: int) -> str | None:
        length = self.unpack("Q", what)
        start = self.take(length, what)
        if length > keep:
            return None
        return bytes(self.data[start : start + length]).decode("utf-8", "replace")


def read_metadata(path: Path) -> dict[str, Any]:
    """The file's metadata: key -> number, bool, text, list of numbers, or ``Skipped`` for long values."""
    with path.open("rb") as handle:
        try:
            data: mmap.mmap | bytes = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file cannot be mapped
            data = b""
        try:
            return _parse(_Cursor(data))
        finally:
            if isinstance(data, mmap.mmap):
                data.close()


def _parse(cursor: _Cursor) -> dict[str, Any]:
    if bytes(cursor.data[:4]) != b"GGUF":
        raise HeaderError("not a GGUF model file (expected the GGUF magic bytes at the start)")
    cursor.take(4, "the magic bytes")
    version = cursor.unpack("I", "the version")
    if version not in (2, 3):
        raise HeaderError(f"GGUF version {version} is not supported (expected 2 or 3)")
    cursor.unpack("Q", "the tensor count")
    count = cursor.unpack("Q", "the metadata count")
    if count > MAX_KV:
        raise HeaderError(f"the header claims {count} metadata keys; expected at most {MAX_KV}")
    metadata: dict[str, Any] = {}
    for index in range(count):
        key = cursor.text(f"metadata key {index}", KEEP_TEXT) or f"#{index}"
        metadata[key] = _value(cursor, cursor.unpack("I", f"the type of {key}"), key)
    return metadata


def _value(cursor: _Cursor, kind: int, key: str) -> Any:
    if kind in SCALARS:
        return cursor.unpack(SCALARS[kind], key)
    if kind == STRING:
        text = cursor.text(key, KEEP_TEXT)
        return Skipped(kind) if text is None else text
    if kind != ARRAY:
        raise HeaderError(f"{key}: unknown GGUF value type {kind}")
    item_kind, length = cursor.unpack("I", key), cursor.unpack("Q", key)
    if length > MAX_ARRAY:
        raise HeaderError(f"{key}: an array of {length} values; expected at most {MAX_ARRAY}")
    if item_kind in SCALARS:
        size = struct.calcsize("<" + SCALARS[item_kind])
        start = cursor.take(size * length, key)
        if length > KEEP_ARRAY:
            return Skipped(kind, item_kind, length)
        return list(struct.unpack_from(f"<{length}{SCALARS[item_kind]}", cursor.data, start))
    if item_kind != STRING:
        raise HeaderError(f"{key}: arrays of GGUF type {item_kind} are not supported")
    cursor.strings += length
    if cursor.strings > MAX_STRINGS:
        raise HeaderError(f"{key}: the header's string arrays hold more than {MAX_STRINGS} values together")
    for _ in range(length):  # walked, not kept: a vocabulary
        cursor.take(cursor.unpack("Q", key), key)
    return Skipped(kind, item_kind, length)


# -- what llama.cpp asserts on --------------------------------------------------------------


def check_hparams(metadata: dict[str, Any]) -> None:
    """Raise HeaderError for a value that load_hparams would GGML_ASSERT on (abort), naming the key.

    Values that llama.cpp refuses by throwing (a missing key, a wrong type, a too-long per-layer
    array) are left to it: those become an ordinary load error, not a crash."""
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str):
        return  # llama.cpp refuses a file without an architecture by itself
    value = _reader(metadata, arch)
    layers = value("block_count")
    if layers is not None and not 0 < layers <= LLAMA_MAX_LAYERS:
        _refuse(arch, "block_count", layers, f"1 to {LLAMA_MAX_LAYERS} layers (llama.cpp's LLAMA_MAX_LAYERS)")
    _check_counts_within(arch, value, layers or 0)
    _check_experts(arch, value)
    _check_heads(arch, metadata, layers or 0)
    scaling = metadata.get(f"{arch}.rope.scaling.type")
    if isinstance(scaling, str) and scaling not in ROPE_SCALING_TYPES:
        _refuse(arch, "rope.scaling.type", scaling, "one of " + ", ".join(ROPE_SCALING_TYPES))


def _reader(metadata: dict[str, Any], arch: str) -> Callable[[str], Any]:
    """``value(name)``: the integer (or the largest of a per-layer array) under ``arch.name``, else None."""

    def value(name: str) -> int | None:
        found = metadata.get(f"{arch}.{name}")
        if isinstance(found, list) and all(isinstance(item, int) for item in found):
            return max(found, default=0)
        return found if isinstance(found, int) and not isinstance(found, bool) else None

    return value


def _check_counts_within(arch: str, value: Callable[[str], Any], layers: int) -> None:
    """Layer counts that must not exceed the block count: next-token layers, WavTokenizer's stacks."""
    for name in ("nextn_predict_layers", "posnet.block_count", "convnext.block_count"):
        count = value(name)
        if count is not None and count > layers:
            _refuse(arch, name, count, f"at most block_count ({layers})")


def _check_experts(arch: str, value: Callable[[str], Any]) -> None:
    experts, used = value("expert_count") or 0, value("expert_used_count") or 0
    groups, groups_used = value("expert_group_count") or 0, value("expert_group_used_count") or 0
    if experts > LLAMA_MAX_EXPERTS:
        _refuse(arch, "expert_count", experts, f"at most {LLAMA_MAX_EXPERTS} (llama.cpp's LLAMA_MAX_EXPERTS)")
    if experts == 0:
        for name, count in (("expert_used_count", used), ("expert_group_count", groups)):
            if count:
                _refuse(arch, name, count, "0 in a model without experts (expert_count 0)")
        return
    if not 0 < used <= experts:
        _refuse(arch, "expert_used_count", used, f"1 to expert_count ({experts})")
    if groups >= experts:
        _refuse(arch, "expert_group_count", groups, f"fewer than expert_count ({experts})")
    if groups > 1 and experts % groups:
        _refuse(arch, "expert_group_count", groups, f"a divisor of expert_count ({experts})")
    if groups > 1 and not 0 < groups_used < groups:
        _refuse(arch, "expert_group_used_count", groups_used, f"1 to {groups - 1} (below expert_group_count)")


def _check_heads(arch: str, metadata: dict[str, Any], layers: int) -> None:
    """Per layer, K/V heads are shared by a whole number of query heads: ggml asserts on it while it
    builds the first graph (ggml_mul_mat, a->ne[0] == b->ne[0]). A layer without K/V heads
    (0: a recurrent layer in a hybrid model) is left alone."""
    heads = _per_layer(metadata.get(f"{arch}.attention.head_count"), layers)
    kv_heads = _per_layer(metadata.get(f"{arch}.attention.head_count_kv"), layers)
    for layer, (count, kv_count) in enumerate(zip(heads, kv_heads)):
        if count and kv_count and count % kv_count:
            where = f" (layer {layer})" if len(set(kv_heads)) > 1 or len(set(heads)) > 1 else ""
            _refuse(arch, "attention.head_count_kv", kv_count, f"a divisor of attention.head_count ({count}){where}")


def _per_layer(found: Any, layers: int) -> list[int]:
    """A scalar or per-layer count as one value per layer; anything else (llama.cpp refuses it) as none."""
    if isinstance(found, int) and not isinstance(found, bool):
        return [found] * layers
    if isinstance(found, list) and len(found) == layers and all(isinstance(item, int) for item in found):
        return found
    return []


def _refuse(arch: str, name: str, found: Any, expected: str) -> None:
    raise HeaderError(f"{arch}.{name} is {found!r}; llama.cpp would abort on it (expected {expected})")
