"""Recent runs as a listing shows them (the CLI's `history`, the app's History tab): cells of text."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from .store import RunRow, alive

HEADINGS = ("id", "time (UTC)", "status", "done", "columns", "seeds", "model", "prompt")
PROMPT_WIDTH = 40  # characters of the prompt's start shown


def status_of(row: RunRow) -> str:
    """'running' only while its process lives; a killed run shows as 'killed' (and can be resumed)."""
    return "killed" if row.status == "running" and not alive(row) else row.status


def history_rows(rows: Sequence[RunRow], width: int = PROMPT_WIDTH) -> list[list[str]]:
    """Per run: id, time (UTC), status, done/total, columns, seeds (the first four), model, prompt start."""
    cells = []
    for row in rows:
        when = datetime.datetime.fromisoformat(row.created).strftime("%Y-%m-%d %H:%M:%S")
        seeds = ",".join(map(str, row.seeds[:4])) + (f",+{len(row.seeds) - 4}" if len(row.seeds) > 4 else "")
        prompt = row.prompt_start if len(row.prompt_start) <= width else row.prompt_start[: width - 1] + "…"
        cells.append(
            [str(row.id), when, status_of(row), f"{row.done}/{row.total}", str(row.columns), seeds, row.model, prompt]
        )
    return cells
