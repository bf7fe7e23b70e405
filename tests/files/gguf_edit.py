"""Hostile copies of a real GGUF file: the same tensors, some metadata values changed, added or removed.

For tests only. The metadata section is rebuilt and the tensor data copied unchanged after the
same alignment, so llama.cpp reads the copy exactly as it reads the original except for the edits.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

UINT32, INT32, FLOAT32, STRING, ARRAY = 4, 5, 6, 8, 9
FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
DELETE = object()


def _skip_value(data: bytes, at: int, kind: int) -> int:
    if kind in FIXED:
        return at + FIXED[kind]
    if kind == STRING:
        return at + 8 + struct.unpack_from("<Q", data, at)[0]
    item, count = struct.unpack_from("<IQ", data, at)
    at += 12
    if item in FIXED:
        return at + FIXED[item] * count
    for _ in range(count):
        at = _skip_value(data, at, item)
    return at


def _encode(value: Any) -> bytes:
    """A value as GGUF bytes (type first): int -> uint32, float -> float32, str, list of ints -> uint32 array."""
    if isinstance(value, bool):
        raise TypeError("bools are not needed here")
    if isinstance(value, int):
        return struct.pack("<Ii" if value < 0 else "<II", INT32 if value < 0 else UINT32, value)
    if isinstance(value, float):
        return struct.pack("<If", FLOAT32, value)
    if isinstance(value, str):
        raw = value.encode()
        return struct.pack("<IQ", STRING, len(raw)) + raw
    return struct.pack("<IIQ", ARRAY, UINT32, len(value)) + struct.pack(f"<{len(value)}I", *value)


def _key(name: str) -> bytes:
    raw = name.encode()
    return struct.pack("<Q", len(raw)) + raw


def edited(source: Path, target: Path, changes: dict[str, Any]) -> Path:
    """Write ``source`` to ``target`` with metadata ``changes`` (a value, or DELETE to drop the key)."""
    data = source.read_bytes()
    _, n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    at, pairs, alignment = 24, [], 32
    for _ in range(n_kv):
        start = at
        length = struct.unpack_from("<Q", data, at)[0]
        name = data[at + 8 : at + 8 + length].decode()
        kind = struct.unpack_from("<I", data, at + 8 + length)[0]
        at = _skip_value(data, at + 12 + length, kind)
        if name == "general.alignment":
            alignment = struct.unpack_from("<I", data, at - 4)[0]
        pairs.append((name, data[start:at]))
    infos_start = at
    for _ in range(n_tensors):
        at += 8 + struct.unpack_from("<Q", data, at)[0]
        n_dims = struct.unpack_from("<I", data, at)[0]
        at += 4 + 8 * n_dims + 4 + 8
    tensor_infos = data[infos_start:at]
    data_start = -(-at // alignment) * alignment
    kept = [(name, raw) for name, raw in pairs if changes.get(name, None) is not DELETE]
    out = [raw if name not in changes else _key(name) + _encode(changes[name]) for name, raw in kept]
    out += [
        _key(name) + _encode(value)
        for name, value in changes.items()
        if value is not DELETE and name not in dict(pairs)
    ]
    header = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(out)) + b"".join(out) + tensor_infos
    header += b"\0" * (-len(header) % alignment)
    target.write_bytes(header + data[data_start:])
    return target
