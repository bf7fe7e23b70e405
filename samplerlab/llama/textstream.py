"""Turning a column's token bytes into text: whole characters only, cut at stop strings."""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class TextStream:
    """Incremental UTF-8 decoding that never splits a character, plus stop-string detection.

    ``push`` returns only text that is certain to stay in the final text, so what was streamed
    always adds up to ``text``. Two things are held back until they are settled:

    - the bytes of an unfinished multi-byte character (common in Japanese), until the next
      token completes it;
    - the longest tail that could be the start of a stop string (with stop "o th", "Hello"
      streams as "Hell"), until the next text shows it is not one.

    ``finish`` releases whatever is still held back when generation ends.
    """

    def __init__(self, stop: Sequence[str] = ()) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._stop = tuple(stop)
        self._longest_stop = max((len(s) for s in self._stop), default=0)
        self.text = ""
        self.stopped_by: str | None = None
        self._released = 0  # text[:_released] has been returned; no stop string can start in it

    def push(self, piece: bytes) -> str:
        """Add a token's bytes; returns the newly certain text (may be '')."""
        self._add(self._decoder.decode(piece))
        return self._release(len(self.text) - self._held())

    def finish(self) -> str:
        """End of generation: nothing can complete a character or a stop string any more, so release
        the rest. The bytes of an unfinished character (a run cut by max_tokens inside it) are dropped, not
        turned into U+FFFD: the text ends on whole characters, as streaming promised, and its tokens keep
        the text '' (the token view shows them as a partial character)."""
        self._decoder.reset()
        return self._release(len(self.text))

    def _add(self, new: str) -> None:
        if not new or self.stopped_by is not None:
            return
        self.text += new
        hits = [(self.text.find(stop, self._released), stop) for stop in self._stop]
        hits = [(index, stop) for index, stop in hits if index >= 0]
        if hits:
            index, self.stopped_by = min(hits)
            self.text = self.text[:index]

    def _held(self) -> int:
        """Length of the longest unreleased tail that some stop string starts with."""
        if self.stopped_by is not None:
            return 0
        pending = self.text[self._released :]
        for size in range(min(len(pending), self._longest_stop - 1), 0, -1):
            if any(stop.startswith(pending[-size:]) for stop in self._stop):
                return size
        return 0

    def _release(self, end: int) -> str:
        shown = self.text[self._released : end]
        self._released = max(self._released, end)
        return shown
