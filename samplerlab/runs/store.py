"""The run store: every run and every finished generation, on disk as it ends, in one SQLite file.

Where: ``$SAMPLERLAB_STORE`` (a file path) if set, else ``$XDG_DATA_HOME/samplerlab/runs.sqlite``,
else ``~/.local/share/samplerlab/runs.sqlite``; ``--store`` overrides all three. SQLite from the
standard library in WAL mode: each generation is committed in its own transaction the moment it
ends, so a run killed with kill -9 loses only the generations in flight and the file stays whole
(SQLite's journal, not our code, is what makes a kill at any instant safe); several processes and
threads write at once, each waiting its turn (the busy timeout) instead of failing.

Bounded: beyond ``$SAMPLERLAB_STORE_MAX_MIB`` (default 2048 MiB, ``--store-max-mib``) the oldest
runs are dropped, and the caller is told which. Every failure of the file itself (unwritable, not a
database, written by a newer samplerlab, a full disk) is a StoreError of one line.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..events import ColumnResult
from .codec import decode, encode

STORE_ENV = "SAMPLERLAB_STORE"
MAX_MIB_ENV = "SAMPLERLAB_STORE_MAX_MIB"
DEFAULT_MAX_MIB = 2048
SCHEMA = 1  # PRAGMA user_version: bumped when the tables change incompatibly
BUSY_SECONDS = 30.0  # how long a writer waits for another before giving up
PROMPT_START = 60  # characters of the prompt kept for listings
STATUSES = ("running", "stopped", "failed", "done")
Key = tuple[int, int, int]  # (prompt index, seed index, column index): one generation of a run

TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT,
    model TEXT NOT NULL,
    model_path TEXT,
    model_sha256 TEXT,
    prompt_start TEXT NOT NULL,
    columns INTEGER NOT NULL,
    seeds TEXT NOT NULL,
    prompts INTEGER NOT NULL,
    total INTEGER NOT NULL,
    owner TEXT,
    status TEXT NOT NULL,
    pid INTEGER,
    host TEXT,
    out TEXT,
    keep INTEGER NOT NULL DEFAULT 0,
    head TEXT NOT NULL,
    plan TEXT NOT NULL,
    request TEXT
);
CREATE INDEX IF NOT EXISTS runs_source ON runs (source, id);
CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner, id);
CREATE TABLE IF NOT EXISTS generations (
    run_id INTEGER NOT NULL,
    prompt_index INTEGER NOT NULL,
    seed_index INTEGER NOT NULL,
    column_index INTEGER NOT NULL,
    label TEXT NOT NULL,
    seed INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    finished TEXT NOT NULL,
    result BLOB NOT NULL,
    PRIMARY KEY (run_id, prompt_index, seed_index, column_index)
);
CREATE TABLE IF NOT EXISTS rendered (
    run_id INTEGER NOT NULL,
    prompt_index INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, prompt_index)
);
"""


class StoreError(OSError):
    """The run store cannot be used; one line naming its file and what to do."""


def store_path(override: str | Path | None = None, environ: Mapping[str, str] = os.environ) -> Path:
    """``override`` (--store), else $SAMPLERLAB_STORE, else $XDG_DATA_HOME/samplerlab, else ~/.local/share."""
    if override:
        return Path(override).expanduser()
    if environ.get(STORE_ENV):
        return Path(environ[STORE_ENV]).expanduser()
    data = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "samplerlab" / "runs.sqlite"


def max_store_bytes(override: int | None = None, environ: Mapping[str, str] = os.environ) -> int:
    """The bound in bytes: ``override`` (MiB, --store-max-mib), else $SAMPLERLAB_STORE_MAX_MIB, else 2048."""
    if override is not None:
        mib: Any = override
    else:
        mib = environ.get(MAX_MIB_ENV) or DEFAULT_MAX_MIB
    try:
        value = int(mib)
    except ValueError:
        raise StoreError(f"{MAX_MIB_ENV}: expected a whole number of MiB, got {mib!r}") from None
    if value < 1:
        raise StoreError(f"{MAX_MIB_ENV}: expected at least 1 MiB, got {value}")
    return value << 20


@dataclass(frozen=True)
class RunRow:
    """One run as listings show it."""

    id: int
    created: str  # ISO 8601, UTC
    kind: str  # "experiment" (samplerlab run, the Experiments tab) or "page" (the Compare tab's Run)
    source: str | None  # the experiment file
    model: str
    prompt_start: str
    columns: int
    seeds: tuple[int, ...]
    prompts: int
    total: int  # generations planned
    done: int  # generations stored
    owner: str | None
    status: str
    pid: int | None
    host: str | None
    out: str | None
    keep: int


@dataclass(frozen=True)
class StoredRun:
    """A run with what it needs to be resumed or exported: its document head, plan and request (YAML/JSON)."""

    row: RunRow
    head: str
    plan: str
    request: str | None


@dataclass(frozen=True)
class Dropped:
    """A run dropped to keep the store within its bound."""

    id: int
    created: str
    bytes: int


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def alive(row: RunRow) -> bool:
    """Whether a 'running' run's process still runs (on this machine; elsewhere it is taken as alive)."""
    if row.status != "running" or row.pid is None:
        return False
    if row.host != socket.gethostname():
        return True
    try:
        os.kill(row.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    """One store file; every call opens its own connection, so threads and processes never share one."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes

    @classmethod
    def open(cls, path: str | Path | None = None, max_mib: int | None = None) -> RunStore:
        """The store at ``path`` (see ``store_path``), created if missing; StoreError if it cannot be used."""
        store = cls(store_path(path), max_store_bytes(max_mib))
        store._create()
        return store

    # -- connections and errors ------------------------------------------------------------
    def _message(self, error: BaseException) -> str:
        text = str(error)
        if isinstance(error, sqlite3.DatabaseError) and "not a database" in text:
            return f"{self.path}: not a samplerlab run store (not an SQLite database); move it away or set {STORE_ENV}"
        if "unable to open" in text:
            return f"{self.path}: cannot open the run store (is its folder writable?)"
        if "readonly" in text or "read-only" in text:
            return f"{self.path}: the run store is read-only"
        if "disk is full" in text or "No space" in text:
            return f"{self.path}: the disk is full; the run store cannot grow"
        if "locked" in text or "busy" in text:
            return f"{self.path}: the run store stayed locked by another process for {BUSY_SECONDS:g} s"
        if "malformed" in text:
            return f"{self.path}: the run store is damaged ({text}); move it away or set {STORE_ENV}"
        return f"{self.path}: run store: {text}"

    @contextlib.contextmanager
    def _connection(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for one call; ``write`` holds the write lock (BEGIN IMMEDIATE) until it commits."""
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(self._message(error)) from None
        try:
            connection.execute("PRAGMA synchronous=FULL")
            if write:
                connection.execute("BEGIN IMMEDIATE")
            yield connection
            if write:
                connection.execute("COMMIT")
        except sqlite3.Error as error:
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            raise StoreError(self._message(error)) from None
        finally:
            connection.close()

    def _create(self) -> None:
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise StoreError(f"{self.path.parent}: a file, not a folder; the run store cannot be made in it")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # prompts are private
        except OSError as error:
            raise StoreError(f"{self.path.parent}: cannot create the run store's folder ({error.strerror})") from None
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder; {STORE_ENV} names the store's file")
        with self._connection() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA:
                raise StoreError(
                    f"{self.path}: written by a newer samplerlab (store schema {version}, this one reads "
                    f"{SCHEMA}); upgrade samplerlab or set {STORE_ENV} to another file"
                )
            if version == SCHEMA:
                return
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # before the first table: dropped runs give space back
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            if db.execute("PRAGMA user_version").fetchone()[0] == 0:  # another process may have just made it
                tables = db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
                if tables and not {"runs", "generations"} <= {name for (name,) in tables}:
                    db.execute("ROLLBACK")
                    raise StoreError(f"{self.path}: an SQLite file of another program; set {STORE_ENV} to another file")
                for statement in filter(str.strip, TABLES.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={SCHEMA}")
            db.execute("COMMIT")

    # -- writing -----------------------------------------------------------------------------
    def begin(
        self,
        *,
        kind: str,
        model: str,
        prompt_start: str,
        columns: int,
        seeds: list[int],
        prompts: int,
        total: int,
        head: str,
        plan: str,
        source: str | None = None,
        model_path: str | None = None,
        model_sha256: str | None = None,
        owner: str | None = None,
        request: str | None = None,
        out: str | None = None,
        keep: int = 0,
    ) -> int:
        """A new run, status 'running' under this process; its id."""
        with self._connection(write=True) as db:
            cursor = db.execute(
                "INSERT INTO runs (created, kind, source, model, model_path, model_sha256, prompt_start, columns, "
                "seeds, prompts, total, owner, status, pid, host, out, keep, head, plan, request) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                (
                    now(),
                    kind,
                    source,
                    model,
                    model_path,
                    model_sha256,
                    prompt_start[:PROMPT_START],
                    columns,
                    json.dumps(seeds),
                    prompts,
                    total,
                    owner,
                    os.getpid(),
                    socket.gethostname(),
                    out,
                    keep,
                    head,
                    plan,
                    request,
                ),
            )
            return int(cursor.lastrowid or 0)

    def add(self, run_id: int, key: Key, result: ColumnResult, rendered: Mapping[str, Any] | None = None) -> None:
        """One finished generation (and its prompt as sent, once per prompt), committed before returning."""
        blob = encode(result)
        with self._connection(write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, *key, result.label, result.seed, len(result.tokens), now(), blob),
            )
            if rendered:
                db.execute(
                    "INSERT OR IGNORE INTO rendered VALUES (?, ?, ?)", (run_id, key[0], json.dumps(dict(rendered)))
                )

    def set_rendered(self, run_id: int, prompt_index: int, rendered: Mapping[str, Any]) -> None:
        with self._connection(write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO rendered VALUES (?, ?, ?)", (run_id, prompt_index, json.dumps(dict(rendered)))
            )

    def set_status(self, run_id: int, status: str, out: str | None = None) -> None:
        """A run's new status; 'running' claims it for this process (a resume)."""
        with self._connection(write=True) as db:
            db.execute(
                "UPDATE runs SET status = ?, pid = ?, host = ?, out = COALESCE(?, out) WHERE id = ?",
                (status, os.getpid(), socket.gethostname(), out, run_id),
            )

    # -- reading -----------------------------------------------------------------------------
    _ROW = (
        "SELECT id, created, kind, source, model, prompt_start, columns, seeds, prompts, total, "
        "(SELECT COUNT(*) FROM generations g WHERE g.run_id = runs.id), owner, status, pid, host, out, keep FROM runs"
    )

    @staticmethod
    def _row(values: tuple) -> RunRow:
        fields = list(values)
        fields[7] = tuple(json.loads(fields[7]))
        return RunRow(*fields)

    def runs(self, limit: int = 50, owner: str | None = None) -> list[RunRow]:
        """The most recent runs first; with ``owner``, only that session's."""
        where, arguments = ("WHERE owner = ?", (owner,)) if owner is not None else ("", ())
        with self._connection() as db:
            rows = db.execute(f"{self._ROW} {where} ORDER BY id DESC LIMIT ?", (*arguments, limit)).fetchall()
        return [self._row(row) for row in rows]

    def run(self, run_id: int) -> StoredRun:
        with self._connection() as db:
            row = db.execute(f"{self._ROW} WHERE id = ?", (run_id,)).fetchone()
            rest = db.execute("SELECT head, plan, request FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None or rest is None:
            raise StoreError(f"{self.path}: no run {run_id} (see samplerlab history)")
        return StoredRun(self._row(row), *rest)

    def latest_unfinished(self, source: str) -> RunRow | None:
        """The last run of this experiment file that did not end with its result written."""
        with self._connection() as db:
            row = db.execute(
                f"{self._ROW} WHERE kind = 'experiment' AND source = ? AND status != 'done' ORDER BY id DESC LIMIT 1",
                (source,),
            ).fetchone()
        return None if row is None else self._row(row)

    def generations(self, run_id: int) -> dict[Key, ColumnResult]:
        """Every stored generation of a run, by key, exactly as it was added."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT prompt_index, seed_index, column_index, result FROM generations WHERE run_id = ? "
                "ORDER BY prompt_index, seed_index, column_index",
                (run_id,),
            ).fetchall()
        return {(p, s, c): decode(blob) for p, s, c, blob in rows}

    def rendered(self, run_id: int) -> dict[int, dict[str, Any]]:
        with self._connection() as db:
            rows = db.execute("SELECT prompt_index, value FROM rendered WHERE run_id = ?", (run_id,)).fetchall()
        return {index: json.loads(value) for index, value in rows}

    def integrity(self) -> str:
        """SQLite's own check of the whole file: 'ok' when it is whole."""
        with self._connection() as db:
            return "; ".join(row[0] for row in db.execute("PRAGMA integrity_check").fetchall())

    # -- the size bound ------------------------------------------------------------------------
    def used_bytes(self) -> int:
        with self._connection() as db:
            pages = db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]
            return int(pages * db.execute("PRAGMA page_size").fetchone()[0])

    def trim(self, keep: int | None = None) -> list[Dropped]:
        """Drop the oldest runs until the store is within its bound; never ``keep`` nor a run still running."""
        dropped: list[Dropped] = []
        if self.used_bytes() <= self.max_bytes:
            return dropped
        candidates = (row for row in reversed(self.runs(limit=1 << 30)) if row.id != keep and not alive(row))
        while self.used_bytes() > self.max_bytes and (victim := next(candidates, None)) is not None:
            dropped.append(Dropped(victim.id, victim.created, self._drop(victim.id)))
        if dropped:
            with self._connection() as db:
                db.execute("PRAGMA incremental_vacuum")
        return dropped

    def _drop(self, run_id: int) -> int:
        with self._connection(write=True) as db:
            size = db.execute(
                "SELECT COALESCE(SUM(LENGTH(result)), 0) FROM generations WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            row = db.execute("SELECT LENGTH(head) + LENGTH(plan) FROM runs WHERE id = ?", (run_id,)).fetchone()
            size += row[0] if row else 0  # another process may have dropped it first
            for table, column in (("generations", "run_id"), ("rendered", "run_id"), ("runs", "id")):
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (run_id,))
            return int(size)


def dropped_line(dropped: list[Dropped], store: RunStore) -> str:
    """What the bound dropped, in one line for stderr or the page."""
    size = sum(d.bytes for d in dropped) / 2**20
    ids = ", ".join(str(d.id) for d in dropped)
    return (
        f"run store: dropped the {len(dropped)} oldest run(s) ({ids}; {size:.1f} MiB) to stay within "
        f"{store.max_bytes >> 20} MiB ({MAX_MIB_ENV})"
    )
