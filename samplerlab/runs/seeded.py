"""One comparison on many seeds: every column on the same seeds, generated columns x seeds in batches as large as
the backend runs (runner.run_columns), recorded as a result file records columns. The app's "seeds per column"
and `compare --seeds` both run through here."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..backends import Backend
from ..events import Column, ColumnResult, Request
from .experiments import RANDOM_SEED, SEED
from .results import column_record
from .runner import run_columns


def seed_list(first: int, count: int) -> list[int]:
    """``count`` seeds from ``first`` on; ``first`` -1 draws them all at random."""
    if first == RANDOM_SEED:
        return [secrets.randbelow(2**31) for _ in range(count)]
    return [first + i for i in range(count)]


def on_seeds(columns: Sequence[Column], seeds: Sequence[int]) -> list[Column]:
    """Every column once per seed, seed by seed: the order a result file records them in."""
    return [Column(c.label, c.settings.replace(**{SEED: seed})) for seed in seeds for c in columns]


def run_on_seeds(
    backend: Backend,
    request: Request,
    columns: Sequence[Column],
    seeds: Sequence[int],
    cancel: threading.Event | None = None,
    on_done: Callable[[ColumnResult], None] | None = None,
    info: dict | None = None,
) -> tuple[list[ColumnResult], list[dict[str, Any]]]:
    """The finished columns (seed by seed) and their records, as the statistics read them."""
    results = run_columns(backend, request, on_seeds(columns, seeds), on_done=on_done, cancel=cancel, info=info)
    return results, [{"prompt_index": 0, **column_record(result, request.prompt)} for result in results]
