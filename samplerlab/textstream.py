"""Turning a column's token bytes into text: whole characters only, cut at stop strings."""

from __future__ import annotations

import codecs
from typing import Sequence


class TextStream:
    """Incremental UTF-8 decoding that never splits a character, plus stop-string detection.

    A token can end in the middle of a multi-byte character (common in Japanese);
    its bytes are held back until the next token completes the character.
    """

    def __init__(self, stop: Sequence[str] = ()) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._stop = tuple(stop)
        self._longest_stop = max((len(s) for s in self._stop), default=0)
        self.text = ""
        self.stopped_by: str | None = None

    def push(self, piece: bytes) -> str:
        """Add a token's bytes; returns the new complete characters (may be '')."""
        new = self._decoder.decode(piece)
        return self._append(new)

    def finish(self) -> str:
        """Flush bytes left over at the end (an unfinished character becomes U+FFFD)."""
        return self._append(self._decoder.decode(b"", final=True)) if self.stopped_by is None else ""

    def _append(self, new: str) -> str:
        if not new or self.stopped_by is not None:
            return ""
        start = max(0, len(self.text) - self._longest_stop)
        self.text += new
        hits = [(self.text.find(stop, start), stop) for stop in self._stop]
        hits = [(index, stop) for index, stop in hits if index >= 0]
        if hits:
            index, self.stopped_by = min(hits)
            cut = self.text[:index]
            shown = cut[len(self.text) - len(new):] if index > len(self.text) - len(new) else ""
            self.text = cut
            return shown
        return new
