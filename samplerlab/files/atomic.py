"""Writes that a crash, a full disk or a concurrent writer cannot leave half done.

A preset is written beside its target, synced, then renamed over it (or, when it is new, hard-linked
to it, so that of two saves of one name exactly one wins). Pure: no llama.cpp, no YAML.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path


def atomic_write(path: Path, text: str, exclusive: bool = False) -> None:
    """Write beside the target, fsync, then os.replace: a crash or full disk never leaves half a file.

    ``exclusive`` (a new preset): the temporary file is hard-linked to the target instead, which fails
    with FileExistsError if another save created it meanwhile, so of two saves of one name exactly one
    wins and the other hears so; replace would let the second silently overwrite the first.

    The file gets the mode a plain write would give it (the existing file's, else 0644 less the umask),
    not a private temporary file's 0600, so replacing a shared preset does not lock others out.
    """
    descriptor, temp_name = create_beside(path)
    try:
        try:
            if path.exists() and hasattr(os, "fchmod"):
                os.fchmod(descriptor, stat.S_IMODE(path.stat().st_mode))
            view = memoryview(text.encode("utf-8"))
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if exclusive:
            link_new(temp_name, path)
        else:
            os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    fsync_directory(path.parent)


def link_new(temp: Path, path: Path) -> None:
    """Publish ``temp`` as ``path`` only if ``path`` does not exist (FileExistsError otherwise).

    A file system without hard links falls back to an exclusive create and copy: still exactly one
    winner, though a crash mid-copy could leave a short file (the next read reports it in one line)."""
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError:  # EPERM, ENOTSUP, EXDEV: no hard links here
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
        try:
            view = memoryview(temp.read_bytes())
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    os.unlink(temp)


def create_beside(path: Path) -> tuple[int, Path]:
    """A new hidden file next to ``path``, created 0644 so the kernel applies the umask (mkstemp uses 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temp, flags, 0o644), temp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(path.parent))


def fsync_directory(directory: Path) -> None:
    """Make the rename itself survive a crash; platforms that cannot open or sync a directory skip it."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
