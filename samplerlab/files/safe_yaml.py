"""Untrusted files read and parsed within fixed bounds: size, nesting depth and node count.

Every file samplerlab reads (presets, experiments, result files, imported presets) may come
from anywhere, and each naive step has a way to fail badly: ``open()`` on a FIFO blocks
forever, ``read()`` of a huge file fills memory, PyYAML expands aliases (a few hundred bytes
become gigabytes: ``a: &a [*a]`` style bombs) and recurses once per nesting level, so
``[[[[...`` ends in a RecursionError traceback. This module is the one place all of that is
refused, before any of it happens, with a reason short enough for one line.

No llama.cpp here: everything is pure Python, so it is cheap to import and to test.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

MAX_DEPTH = 32  # the deepest real file (a result's token alternatives) nests 8 levels
# libyaml's parser when PyYAML was built with it: a result file of 100,000 values loads in 3 s instead of 13.
# Its error messages differ from PyYAML's, so it serves result files, whose messages do not quote them.
FAST_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FILE_TYPES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


# -- reading ---------------------------------------------------------------------------------
class ReadError(ValueError):
    """A file that cannot be read as bounded text; ``str()`` is one line naming the file."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


class TooLarge(ReadError):
    """Larger than the caller's limit; ``size`` is what was found (at least the limit plus one)."""

    def __init__(self, path: Path | str, size: int, limit: int) -> None:
        super().__init__(path, f"larger than {_bytes(limit)}")
        self.size, self.limit = size, limit


def _bytes(count: int) -> str:
    return next(
        f"{count / unit:g} {name}"
        for unit, name in ((1 << 20, "MiB"), (1 << 10, "KiB"), (1, "bytes"))
        if count >= unit or unit == 1
    )


def read_text(path: Path | str, max_bytes: int) -> str:
    """A regular file's UTF-8 text, never more than ``max_bytes`` read.

    Anything else (a FIFO, a device, a directory) is refused after a stat, without opening
    it, since opening a FIFO waits for a writer. The open is non-blocking anyway and the
    descriptor checked again, in case the path was swapped between the stat and the open.
    """
    try:
        _require_regular(path, os.stat(path).st_mode)
        descriptor = os.open(
            path,
            os.O_RDONLY
            | os.O_NONBLOCK
            | getattr(os, "O_NOCTTY", 0)
            | getattr(os, "O_CLOEXEC", 0)
            | getattr(os, "O_BINARY", 0),
        )
        try:
            info = os.fstat(descriptor)
            _require_regular(path, info.st_mode)
            if info.st_size > max_bytes:
                raise TooLarge(path, info.st_size, max_bytes)
            data = _read_at_most(descriptor, max_bytes + 1)
        finally:
            os.close(descriptor)
    except OSError as error:
        raise ReadError(path, f"cannot read it ({error.strerror or error})") from None
    except ValueError as error:
        if isinstance(error, ReadError):
            raise
        raise ReadError(repr(str(path)), "not a usable path (it contains a NUL byte)") from None
    if len(data) > max_bytes:  # it grew, or the file system reports no size (/proc)
        raise TooLarge(path, len(data), max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ReadError(path, f"not UTF-8 text (byte {error.start})") from None


def _require_regular(path: Path | str, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in FILE_TYPES if test(mode)), "not a regular file")
        raise ReadError(path, f"{kind}, not a regular file; only regular files are read")


def _read_at_most(descriptor: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(descriptor, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


# -- YAML --------------------------------------------------------------------------------------
class Refused(yaml.composer.ComposerError):
    """Valid YAML that samplerlab does not accept (aliases, anchors, too deep, too many values).

    A YAMLError with ``problem`` and ``problem_mark`` like PyYAML's own, so a caller reports it
    with the same code as a syntax error; ``isinstance(error, Refused)`` tells the two apart.
    """

    def __init__(self, problem: str, mark: Any) -> None:  # yaml.error.Mark, or the C parser's own Mark
        super().__init__(None, None, problem, mark)


def check_events(text: str, *, max_nodes: int, max_depth: int = MAX_DEPTH, loader: type = yaml.SafeLoader) -> int:
    """Refuse aliases, anchors, deep nesting and floods of values by scanning the parser's events; the
    number of values (nodes) the text has.

    The scan is a loop over a flat stream, so it never recurses and stops at the first event over
    a limit: ``[`` repeated 200,000 times costs 33 events, ``a: &a [*a]`` one. Only a document that
    passed can reach the composer, which recurses once per level and expands aliases.
    """
    return _scan(text, max_nodes, max_depth, loader, first=False)[0]


def _scan(text: str, max_nodes: int, max_depth: int, loader: type, first: bool) -> tuple[int, int]:
    """check_events' loop; with ``first``, it stops at the end of the first document, whose end it gives
    (a character index: the parser never reads the documents after it)."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.events.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise Refused("anchors and aliases (&name, *name) are not allowed here", event.start_mark)
        if isinstance(event, yaml.events.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.events.NodeEvent):
            nodes += 1
            if nodes > max_nodes:
                raise Refused(f"more than {max_nodes} YAML values", event.start_mark)
            if depth >= max_depth:
                raise Refused(f"nested more than {max_depth} levels deep", event.start_mark)
            depth += isinstance(event, yaml.events.CollectionStartEvent)
        elif first and isinstance(event, yaml.events.DocumentEndEvent) and event.end_mark is not None:
            return nodes, event.end_mark.index  # the parsers always mark it
    return nodes, len(text)


@contextlib.contextmanager
def paused_collection() -> Iterator[None]:
    """No cyclic garbage collection while a large tree is built: the collector walks every object alive each
    time allocations pile up, a third of the time of loading a 1,000-generation result, and finds nothing
    (a loaded document has no cycles). It runs again after, as it did before."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def compose(
    text: str, *, max_nodes: int, max_depth: int = MAX_DEPTH, loader: type = yaml.SafeLoader
) -> yaml.Node | None:
    """The document's node tree (None for an empty document), once ``check_events`` passed.

    Raises ``Refused`` for what the limits exclude, PyYAML's own YAMLError for bad syntax.
    """
    check_events(text, max_nodes=max_nodes, max_depth=max_depth, loader=loader)
    return yaml.compose(text, Loader=loader)


def construct(node: yaml.Node | None, loader: type = yaml.SafeLoader) -> Any:
    """Plain Python data from a composed node, with ``loader``'s (safe) constructors."""
    return None if node is None else _guarded(loader)("").construct_document(node)


def load(text: str, *, max_nodes: int, max_depth: int = MAX_DEPTH, loader: type = yaml.SafeLoader) -> Any:
    """``yaml.load`` with a safe ``loader``, once ``check_events`` passed."""
    return load_counted(text, max_nodes=max_nodes, max_depth=max_depth, loader=loader)[0]


def load_counted(
    text: str, *, max_nodes: int, max_depth: int = MAX_DEPTH, loader: type = yaml.SafeLoader
) -> tuple[Any, int]:
    """``load``'s value and its number of YAML values, for a caller that decodes more within the same limit."""
    nodes = check_events(text, max_nodes=max_nodes, max_depth=max_depth, loader=loader)
    with paused_collection():
        return yaml.load(text, Loader=_guarded(loader)), nodes  # noqa: S506 - SafeLoader or its relatives


def load_first(
    text: str, *, max_nodes: int, max_depth: int = MAX_DEPTH, loader: type = yaml.SafeLoader
) -> tuple[Any, int, int]:
    """The first document of a YAML stream (``load``'s checks and value), its number of values, and where
    it ends in ``text``: the documents after it are neither checked nor even scanned, so a reader that
    does not need them does not pay for them (``load_counted(text[end:])`` reads them)."""
    nodes, end = _scan(text, max_nodes, max_depth, loader, first=True)
    with paused_collection():
        return yaml.load(text[:end], Loader=_guarded(loader)), nodes, end  # noqa: S506 - as in load_counted


@functools.cache
def _guarded(loader: type) -> type:
    """``loader`` whose constructors' own exceptions become a ConstructorError at the value's line.

    PyYAML's scalar constructors raise plain ValueErrors and worse for hostile values: an int of
    5,000 digits (Python's int() limit), ``2001-13-40`` (a 13th month), ``!!timestamp x``
    (AttributeError). Those would escape every ``except yaml.YAMLError``.
    """

    class Guarded(loader):
        def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep)
            except (ValueError, TypeError, AttributeError, OverflowError) as error:
                reason = str(error).split(";")[0].splitlines()[0][:100] if str(error) else type(error).__name__
                raise yaml.constructor.ConstructorError(
                    None, None, f"cannot read this value ({reason})", node.start_mark
                ) from None

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{loader.__name__}"
    return Guarded


def line_of(error: yaml.YAMLError) -> int | None:
    """The 1-based line a YAML error points at, if it points anywhere."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return None if mark is None else mark.line + 1


# -- JSON --------------------------------------------------------------------------------------
class JsonTooDeep(ValueError):
    """JSON nested beyond ``MAX_DEPTH`` (or beyond what the json module can decode at all)."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"nested more than {max_depth} levels deep")


def load_json(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that reports deep nesting as JsonTooDeep instead of a RecursionError.

    The depth is also checked afterwards (iteratively), so later code that walks or prints
    the value (repr, json.dumps) cannot recurse deeply either. Bad syntax stays a
    json.JSONDecodeError.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(max_depth) from None
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:  # counted as YAML's are: every value, scalars too
            raise JsonTooDeep(max_depth)
        if isinstance(item, (dict, list)):
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return value
