"""What one visitor of a shared app may cost: declared once, read by the Workbench, the CLI and the README.

A share link hands the model to strangers. Without bounds one request (8 columns, no token limit,
the end token banned) held it for minutes while everyone else waited, so in share mode every run
is bounded in tokens per column, columns per request and seconds per run. The host raises them
with ``--share-limits tokens=512,seconds=120``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

from ..schema.params import KNOB_BY_NAME

ShareWrites = Literal["off", "presets"]
# With --share-writes presets: how much visitors may store. A 64 KiB logit-bias preset takes about a
# second to parse, and every listing parsed all of them (each is now parsed once per change).
VISITOR_PRESETS = 64  # preset files in the folder
VISITOR_PRESET_BYTES = 256 * 1024  # all of them together
# Uploads (preset and chat files), shared or not: each at most UPLOAD_FILE_BYTES, and all the app keeps
# at most UPLOAD_BUDGET; Gradio deletes them DELETE_CACHE[1] s after upload, looking every DELETE_CACHE[0] s.
UPLOAD_FILE_BYTES = 1 << 20
UPLOAD_BUDGET = 64 << 20
DELETE_CACHE = (300, 900)
SHARE_WRITES: tuple[str, ...] = ("off", "presets")


class ShareLimitsError(ValueError):
    """A --share-limits value that cannot be used; one line."""


@dataclass(frozen=True)
class ShareLimits:
    """The bounds of one request in share mode (field metadata: what each bounds, for --help and the README)."""

    # metadata "most": the largest value a host may set. A run's timer cannot wait longer than a day
    # (threading.Timer overflows near 2**33 s, and 'inf' crashed it, leaving no limit at all).
    tokens: int = field(default=256, metadata={"most": int(KNOB_BY_NAME["max_tokens"].maximum)})
    columns: int = field(default=4, metadata={"most": 8})  # what one request may name (Workbench.columns_from_json)
    seconds: float = field(default=60.0, metadata={"most": 86_400})

    @classmethod
    def parse(cls, text: str) -> ShareLimits:
        """'tokens=512,seconds=120': the named limits changed, the others left at their defaults."""
        limits = cls()
        for part in filter(None, (p.strip() for p in (text or "").split(","))):
            name, _, raw = part.partition("=")
            limits = limits._with(name.strip(), raw.strip())
        return limits

    def _with(self, name: str, raw: str) -> ShareLimits:
        known = {f.name: f for f in fields(self)}
        if name not in known:
            raise ShareLimitsError(f"--share-limits: unknown limit {name!r}; known: {', '.join(known)}")
        try:
            value = float(raw) if name == "seconds" else int(raw)
        except ValueError:
            raise ShareLimitsError(f"--share-limits: {name} expects a number, got {raw!r}") from None
        most = known[name].metadata["most"]
        if not math.isfinite(value) or not 0 < value <= most:  # nan and inf compare False both ways
            raise ShareLimitsError(f"--share-limits: {name} must be above 0 and at most {most:g}, got {raw!r}")
        return replace(self, **{name: value})

    def describe(self) -> str:
        """'tokens=256,columns=4,seconds=60', as --share-limits takes it."""
        return ",".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self))


def relative_message(message: str, roots: Iterable[tuple[Path | None, str]]) -> str:
    """A message for a visitor with each known folder's absolute path replaced by its short name.

    Errors name files by their server path (``/home/x/presets/foo.yaml``); a stranger needs only
    ``presets/foo.yaml``, and should not learn the host's layout.
    """
    spellings = {
        spelling: name
        for root, name in roots
        if root is not None
        for spelling in (str(root.resolve()), str(root.absolute()), str(root))
        if spelling not in (".", "")
    }
    for spelling in sorted(spellings, key=len, reverse=True):  # a folder inside another goes first
        message = message.replace(spelling, spellings[spelling])
    return message
