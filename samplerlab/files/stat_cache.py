"""What was read from a file, kept until the file changes: one parse per edit, not one per request.

A shared app lists every preset on each page load, preset choice and comparison; re-parsing them all
each time let 30 large presets make every request take 15 s. An entry is keyed by the file's identity
as ``stat`` reports it (device, inode, size, modification and change times), so an edit, an atomic
replace (a new inode) or a touch reads the file again; failures are kept too, so a broken file is not
re-parsed on every request either. Bounded: the least recently used entries go first.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
MAX_ENTRIES = 4096


class StatCache:
    """``get(path, read)``: ``read(path)``'s value (or exception) from the last read if the file is unchanged."""

    def __init__(self, limit: int = MAX_ENTRIES, keep: tuple[type[BaseException], ...] = (ValueError,)) -> None:
        self._entries: OrderedDict[Hashable, tuple[tuple, Any, BaseException | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._limit, self._keep = limit, keep

    def get(self, path: Path, read: Callable[[Path], T], variant: Hashable = None) -> T:
        try:
            info = os.stat(path)
        except OSError:
            return read(path)  # missing or unreadable: ``read`` says so in its own words
        identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        key = (str(path), variant)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == identity:
                self._entries.move_to_end(key)
                if entry[2] is not None:
                    raise entry[2]
                return entry[1]
        try:
            value = read(path)
        except self._keep as error:
            self._store(key, (identity, None, error))
            raise
        self._store(key, (identity, value, None))
        return value

    def _store(self, key: Hashable, entry: tuple[tuple, Any, BaseException | None]) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)
