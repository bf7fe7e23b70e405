"""Plain-text rendering of a run for terminals: columns side by side."""

from __future__ import annotations

import shutil
import textwrap
import time
import unicodedata
from itertools import zip_longest
from typing import TextIO

from ..events import ColumnResult, RunResult
from ..runs.metrics import mean_probability, shown
from ..words.cli_words import say
from ..words.i18n import finish_reason

GUTTER = " │ "
# Control characters as symbols: ESC starts sequences that retitle the window, move the cursor or rewrite
# what is shown, CR overwrites a line; text from a model, a server or a file must not do that. Line
# breaks and tabs stay; C0 becomes its Control Picture (ESC ␛), DEL ␡, C1 an escape (\x9b).
_VISIBLE = {
    **{code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)},
    0x7F: "\u2421",
    **{code: f"\\x{code:02x}" for code in range(0x80, 0xA0)},
}


def visible(text: str) -> str:
    """``text`` as it may reach a terminal: every control character but line break and tab shown as a symbol."""
    return text.translate(_VISIBLE)


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


def footer(column: ColumnResult, lang: str = "en") -> list[str]:
    # English keeps the reason's own name ('length'), which --check and result files use too
    reason: str = (column.finish_reason if lang == "en" else finish_reason(column.finish_reason, lang)) or "?"
    if column.stopped_by is not None:
        reason += f" {column.stopped_by!r}"
    mean = shown(mean_probability([t.prob for t in column.tokens]), "{:.2f}")  # "?": none known
    # a drawn seed is shown so the run can be repeated
    drawn = [say("footer_drawn", lang, seed=column.seed)] if column.settings.seed == -1 else []
    return [
        say("footer_tokens", lang, reason=reason, n=len(column.tokens)),
        say("footer_speed", lang, tps=column.tokens_per_second, mean=mean),
        *drawn,
    ]


def clip(text: str, width: int) -> str:
    while display_width(text) > width:
        text = text[:-1]
    return text


def side_by_side(result: RunResult, width: int | None = None, lang: str = "en") -> str:
    """Labels, texts and footers each aligned across the columns; the footers in ``lang``."""
    return table(
        [c.label for c in result.columns],
        [c.text for c in result.columns],
        [footer(c, lang) for c in result.columns],
        width,
    )


def table(labels: list[str], texts: list[str], footers: list[list[str]], width: int | None = None) -> str:
    total = width or shutil.get_terminal_size((120, 24)).columns
    labels, texts = [visible(label) for label in labels], [visible(text) for text in texts]
    footers = [[visible(line) for line in lines] for lines in footers]
    count = len(labels)
    cell = max(12, (total - len(GUTTER) * (count - 1)) // count)
    sections = [
        [[clip(label, cell)] for label in labels],
        [["─" * cell] for _ in labels],
        [wrap(text, cell) for text in texts],
        [["─" * cell] for _ in labels],
        [[clip(line, cell) for line in lines] for lines in footers],
    ]
    lines = []
    for blocks in sections:
        for row in zip_longest(*blocks, fillvalue=""):
            lines.append(GUTTER.join(pad(part, cell) for part in row).rstrip())
    return "\n".join(lines)


class LiveTable:
    """The side-by-side table redrawn in place while columns stream: only the last screenful is
    redrawn, so a long output scrolls instead of filling the terminal with copies."""

    def __init__(
        self, labels: list[str], stream: TextIO, width: int | None = None, every: float = 0.1, lang: str = "en"
    ) -> None:
        self.lang = lang
        self.labels, self.stream, self.width, self.every = labels, stream, width, every
        self.texts = [""] * len(labels)
        self.counts = [0] * len(labels)
        self._drawn = 0
        self._last = 0.0

    def add(self, column: int, text: str, first: bool = False) -> None:
        """``text`` streamed into ``column``; ``first``: its first token again (a column retried on another server)."""
        if first:
            self.texts[column], self.counts[column] = "", 0
        self.texts[column] += text
        self.counts[column] += 1
        if time.monotonic() - self._last >= self.every:
            self.draw()

    def draw(self) -> None:
        self._last = time.monotonic()
        height = shutil.get_terminal_size((120, 24)).lines - 1
        footers = [[say("live_tokens", self.lang, n=n)] for n in self.counts]
        lines = table(self.labels, self.texts, footers, self.width).split("\n")[-height:]
        self.clear()
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def clear(self) -> None:
        """Move to the first drawn line and erase to the end of the screen."""
        if self._drawn:
            self.stream.write(f"\033[{self._drawn}F\033[J")
            self._drawn = 0
