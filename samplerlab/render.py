"""Plain-text rendering of a run for terminals: columns side by side."""

from __future__ import annotations

import shutil
import textwrap
import unicodedata
from itertools import zip_longest

from .engine import ColumnResult, RunResult

GUTTER = " │ "


def display_width(text: str) -> int:
    """Terminal cells: East Asian wide characters (Japanese) take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def wrap(text: str, width: int) -> list[str]:
    """Wrap by display width, keeping the text's own line breaks."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if display_width(paragraph) <= width:
            lines.append(paragraph)
            continue
        if paragraph.isascii():
            lines.extend(textwrap.wrap(paragraph, width, replace_whitespace=False) or [""])
            continue
        line = ""
        for char in paragraph:
            if display_width(line + char) > width:
                lines.append(line)
                line = ""
            line += char
        lines.append(line)
    return lines


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def footer(column: ColumnResult) -> list[str]:
    reason = column.finish_reason or "?"
    if column.stopped_by is not None:
        reason += f" {column.stopped_by!r}"
    mean = sum(t.prob for t in column.tokens) / len(column.tokens) if column.tokens else 0.0
    return [f"[{reason}] {len(column.tokens)} tokens", f"{column.tokens_per_second:.1f} tok/s, mean p {mean:.2f}"]


def clip(text: str, width: int) -> str:
    while display_width(text) > width:
        text = text[:-1]
    return text


def side_by_side(result: RunResult, width: int | None = None) -> str:
    """Labels, texts and footers each aligned across the columns."""
    total = width or shutil.get_terminal_size((120, 24)).columns
    count = len(result.columns)
    cell = max(12, (total - len(GUTTER) * (count - 1)) // count)
    sections = [
        [[clip(c.label, cell)] for c in result.columns],
        [["─" * cell] for _ in result.columns],
        [wrap(c.text, cell) for c in result.columns],
        [["─" * cell] for _ in result.columns],
        [[clip(line, cell) for line in footer(c)] for c in result.columns],
    ]
    lines = []
    for blocks in sections:
        for row in zip_longest(*blocks, fillvalue=""):
            lines.append(GUTTER.join(pad(part, cell) for part in row).rstrip())
    return "\n".join(lines)
