"""Tokens as a person reads them: byte tokens that together make one character are one thing.

A byte-level BPE vocabulary (SmolLM2, GPT-2 style) writes most Japanese characters as two or
three tokens, each only a part of the character's UTF-8 bytes. The engine gives such a token the
text '' (its character is not finished) and the token that completes it the whole character; a
candidate list names a partial token by its bytes, escaped (``\\xe3``, from ``backslashreplace``).
This module groups a column's tokens into what is read (one span per character), names partial
candidates as bytes instead of printing escapes, and gives an explanation the character a
parting byte token starts. Tokenizers whose tokens are whole characters (Gemma 3) are unchanged:
every token with text is a group of one.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..understand.divergence import first_parting
from ..words.i18n import t

BYTE_ESCAPE = re.compile(r"\\x([89a-f][0-9a-f])")  # what backslashreplace makes of a byte that is no character


def is_partial(text: str) -> bool:
    """A candidate's text that holds bytes of an unfinished character (as ``Model.token_text`` escapes them)."""
    return bool(BYTE_ESCAPE.search(text))


def token_repr(text: str) -> str:
    """A token quoted as Python would (spaces and newlines visible), its partial bytes as ‹e3› instead of the
    doubled escape '\\\\xe3' that ``repr`` makes of a backslash."""
    if not is_partial(text):
        return repr(text)
    return "'" + BYTE_ESCAPE.sub(lambda m: f"‹{m.group(1)}›", text).replace("'", "\\'") + "'"


def groups(texts: Sequence[str]) -> list[range]:
    """Token indices per read span: tokens without text join the next token that has text (the one that
    completes their character); empty tokens at the end (a character cut by max_tokens) form the last."""
    found, start = [], 0
    for index, text in enumerate(texts):
        if text:
            found.append(range(start, index + 1))
            start = index + 1
    if start < len(texts):
        found.append(range(start, len(texts)))
    return found


def group_of(texts: Sequence[str], index: int) -> range | None:
    """The read span holding token ``index``."""
    return next((g for g in groups(texts) if index in g), None)


def character_at(texts: Sequence[str], index: int) -> str | None:
    """The text the token at ``index`` is part of, when that token has none of its own (a byte of a
    character): the completing token's first character; None if the token has text or the run ended
    before the character was finished."""
    if not 0 <= index < len(texts) or texts[index]:
        return None
    group = group_of(texts, index)
    completing = texts[group[-1]] if group else ""
    return completing[:1] or None


def parts_line(texts: Sequence[str], probs: Sequence[float], group: range, lang: str) -> str:
    """'発: 3 byte tokens, p 0.912 · 0.998 · 1.000': what one merged span is made of."""
    shown = " · ".join("?" if p != p else f"{p:.3f}" for p in (probs[i] for i in group))
    text = texts[group[-1]] if texts[group[-1]] else t("partial_character", lang)
    return t("byte_tokens", lang).format(text=repr(text), n=len(group), p=shown)


def readable_parting(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[dict, dict]:
    """Copies of two column records in which the token where they part, if it is a byte of a character,
    reads as that character (in the step and in its own candidates), so an explanation names characters,
    not ''. The shared text before it and every other token are unchanged."""
    index = first_parting(a, b)
    out: list[dict] = []
    for original in (a, b):
        record = copy.deepcopy(dict(original))
        tokens = record.get("tokens", [])
        char = character_at([tok.get("text", "") for tok in tokens], index) if index is not None else None
        if char is not None and index is not None:
            step = tokens[index]
            step["text"] = char
            for candidate in (*step.get("before", ()), *step.get("after", ())):
                if candidate.get("id") == step.get("id"):
                    candidate["text"] = char
        out.append(record)
    return out[0], out[1]
