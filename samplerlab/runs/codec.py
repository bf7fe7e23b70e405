"""A finished column, written down without loss: what the run store keeps of every generation.

A result file's record rounds probabilities to 5 digits, and its statistics are computed from the
unrounded ones; rebuilding a column from a record would give other statistics, and a page restored
from it would differ from the page the run left. So the store keeps the ``ColumnResult`` itself
(floats as Python writes them, exact), and a result file's record is made from it by the same
``column_record`` as a fresh run's.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from ..events import Candidate, ColumnResult, TokenEvent
from ..schema.params import Settings
from .results import plain


class CodecError(ValueError):
    """A stored generation that cannot be read back (another program wrote it, or it was damaged)."""


def _candidates(items: tuple[Candidate, ...]) -> list[list[Any]]:
    return [[c.token_id, c.text, c.prob] for c in items]


def _token(token: TokenEvent) -> list[Any]:
    return [
        token.column,
        token.index,
        token.token_id,
        token.text,
        token.prob,
        token.raw_prob,
        _candidates(token.before),
        _candidates(token.after),
        token.survivors,
        token.entropy,
        [[key, stage] for key, stage in token.cut_by.items()],  # pairs: JSON keys would turn the ids into text
        token.approximate,
        [list(pair) for pair in token.candidates],
    ]


def encode(result: ColumnResult) -> bytes:
    """The column as compressed JSON; NaN (an unknown probability) and infinities survive as JSON extensions."""
    data = {
        "label": result.label,
        "settings": plain(dict(result.settings)),
        "seed": result.seed,
        "chain": result.chain,
        "text": result.text,
        "finish_reason": result.finish_reason,
        "stopped_by": result.stopped_by,
        "seconds": result.seconds,
        "backend": result.backend,
        "tokens": [_token(token) for token in result.tokens],
    }
    return zlib.compress(json.dumps(data, separators=(",", ":")).encode("ascii"), 6)


def _candidate_tuple(items: list[list[Any]]) -> tuple[Candidate, ...]:
    return tuple(Candidate(int(i), str(text), float(p)) for i, text, p in items)


def _token_event(item: list[Any]) -> TokenEvent:
    column, index, token_id, text, prob, raw, before, after, survivors, entropy, cut, approx, kept = item
    return TokenEvent(
        column,
        index,
        token_id,
        text,
        float(prob),
        float(raw),
        _candidate_tuple(before),
        _candidate_tuple(after),
        survivors,
        float(entropy),
        {int(key): stage for key, stage in cut},
        approx,
        tuple((int(i), float(lp)) for i, lp in kept),
    )


def decode(blob: bytes) -> ColumnResult:
    """The column ``encode`` wrote, equal to it field for field."""
    try:
        data = json.loads(zlib.decompress(blob))
        return ColumnResult(
            label=data["label"],
            settings=Settings(data["settings"], source="stored generation"),
            seed=data["seed"],
            chain=data["chain"],
            text=data["text"],
            finish_reason=data["finish_reason"],
            stopped_by=data["stopped_by"],
            tokens=[_token_event(item) for item in data["tokens"]],
            seconds=data["seconds"],
            backend=data["backend"],
        )
    except (zlib.error, ValueError, KeyError, TypeError) as error:
        raise CodecError(f"a stored generation cannot be read ({type(error).__name__})") from None
