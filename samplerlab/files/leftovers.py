"""Removing the temporary files an interrupted atomic write leaves behind.

Presets and result files are written to a hidden temporary file beside the target and then
renamed (or linked) into place. A process killed between the two leaves the temporary file,
and nothing else would ever remove it. Before writing into a folder, samplerlab removes such
leftovers there, but only files that are certainly its own: the exact name pattern its
writers use, a regular file (never a link), owned by this user, and untouched for
``STALE_SECONDS``, so a write still in progress in another process is never disturbed.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from pathlib import Path

STALE_SECONDS = 10 * 60  # a write takes seconds; its file's mtime moves with every write
# files.atomic.create_beside (presets): .<stem>.yaml.<8 hex>.tmp; results.write_new: .<name>.<12 hex>.tmp
PRESET_TEMP = re.compile(r"\.[^/\\]+\.yaml\.[0-9a-f]{8}\.tmp")
RESULT_TEMP = re.compile(r"\.[^/\\]+\.[0-9a-f]{12}\.tmp")


def is_stale_leftover(path: Path, pattern: re.Pattern[str], now: float | None = None) -> bool:
    """Whether ``path`` is one of samplerlab's own temporary files, old enough to be abandoned."""
    if not pattern.fullmatch(path.name):
        return False
    try:
        info = path.lstat()
    except OSError:
        return False
    owner = os.geteuid() if hasattr(os, "geteuid") else info.st_uid
    return (
        stat.S_ISREG(info.st_mode)
        and info.st_uid == owner
        and (now if now is not None else time.time()) - info.st_mtime > STALE_SECONDS
    )


def remove_leftovers(directory: Path, pattern: re.Pattern[str]) -> list[Path]:
    """Remove stale leftovers matching ``pattern`` in ``directory``; what was removed is returned.

    Never fails: a folder that cannot be listed, or a file that vanished or cannot be removed,
    is simply skipped, since the write that follows matters more than the cleaning.
    """
    removed: list[Path] = []
    now = time.time()
    with contextlib.suppress(OSError):
        with os.scandir(directory) as entries:
            candidates = [Path(entry.path) for entry in entries if entry.name.startswith(".")]
        for path in candidates:
            if is_stale_leftover(path, pattern, now):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed
