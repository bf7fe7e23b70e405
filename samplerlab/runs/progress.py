"""How far a long run is: generations done of the total, tokens per second and the time left.

Arithmetic only; the CLI prints it on a terminal and the app in its Experiments tab. The rate counts
the generations finished by this process since it started, so a resumed run's estimate is not
flattered by the generations an earlier process did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..events import ColumnResult
from ..words.i18n import t

SHOW_FROM = 5  # the app shows the line for runs of at least this many generations


@dataclass
class Progress:
    total: int
    done: int = 0  # including those done before (a resumed run)
    tokens: int = 0  # tokens of the generations finished here
    finished_here: int = 0
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()

    def add(self, result: ColumnResult) -> None:
        self.done += 1
        self.finished_here += 1
        self.tokens += len(result.tokens)

    @property
    def elapsed(self) -> float:
        return max(self.clock() - self.started, 1e-9)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.elapsed

    @property
    def seconds_left(self) -> float | None:
        """None until a generation has finished here: before that there is nothing to estimate from."""
        if not self.finished_here:
            return None
        return self.elapsed / self.finished_here * max(self.total - self.done, 0)

    def line(self, lang: str = "en") -> str:
        left = self.seconds_left
        return t("progress_line", lang).format(
            done=self.done,
            total=self.total,
            tps=self.tokens_per_second,
            left=duration(left, lang) if left is not None else "?",
        )


def duration(seconds: float, lang: str = "en") -> str:
    """'45 s', '3 min 05 s', '2 h 07 min'."""
    whole = round(seconds)
    if whole < 60:
        return t("duration_s", lang).format(s=whole)
    if whole < 3600:
        return t("duration_min", lang).format(m=whole // 60, s=whole % 60)
    return t("duration_h", lang).format(h=whole // 3600, m=whole % 3600 // 60)
