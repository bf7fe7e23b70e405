"""A result file's tokens as JSON lines (result format 2): the same records, written so they read in seconds.

A 1,000-generation result holds about 8 million values, nearly all of them in its tokens (each with its 10
alternatives before and after the chain). As YAML, reading them took minutes, and writing them as long.
So a format-2 record writes its tokens as a YAML literal block of JSON lines, one line per token, which
Python's json module reads in C, and their alternatives go to a second YAML document after the result,
one block per column in the order of ``columns`` (null for a column whose tokens stayed a YAML list):

    columns:
    - label: defaults
      ...
      tokens: |
        {"id": 1734, "text": " Light", "p": 0.61, "raw_p": 0.42, "entropy": 1.3, "survivors": 7}
    --- # each token's alternatives ...
    alternatives:
    - |
      {"after": [[1734, " Light", 0.61], ...], "before": [[1734, " Light", 0.42], [2021, " Bright", 0.1, "top_k"]]}

A ``tokens`` line is the format-1 token without its alternatives; the alternatives line of the same token
holds them, each ``after``/``before`` candidate as [id, text, p] (a ``before`` one the chain cut: [id, text,
p, stage]) and ``candidates`` as the [id, logprob] pairs format 1 has. ``read`` turns both back into
exactly the format-1 token records, so every reader sees the same document. The JSON is ASCII (every other
character escaped), so no line break or character YAML treats specially can occur inside it. A record
whose tokens have a key or shape the lines cannot carry exactly keeps its YAML list.

``samplerlab stats`` reads the first document only: the alternatives, nine tenths of the file, are not
even scanned.

The lines are untrusted input like the rest of the file: their values count against the result's value
limit before any is decoded, a line that is not a JSON object of the known keys is refused, and a refusal
names the token (``columns[3].tokens[16]``), as format 1's do.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

ALTERNATIVE_KEYS = ("after", "before", "candidates")
TOKEN_KEYS = frozenset({"id", "text", "p", "raw_p", "entropy", "survivors", "approximate"})
LINE_KEYS = frozenset(ALTERNATIVE_KEYS)
CANDIDATE_KEYS = ("id", "text", "p")
CUT_KEYS = (*CANDIDATE_KEYS, "cut_by")
_ENCODER = json.JSONEncoder(ensure_ascii=True, check_circular=False)  # Infinity stays Infinity, as YAML's .inf
SECOND_DOCUMENT = (
    "--- # each token's alternatives: one block of JSON lines per column, in the order of columns "
    "(samplerlab result format 2)\nalternatives:\n"
)


class LinesError(ValueError):
    """A block of token lines that cannot be read; one line naming the token (``columns[0].tokens[3]``)."""


# -- writing ----------------------------------------------------------------------------------
def _candidate_row(candidate: Any) -> list[Any] | None:
    if type(candidate) is not dict:
        return None
    keys = tuple(candidate)
    if keys == CANDIDATE_KEYS:
        return [candidate["id"], candidate["text"], candidate["p"]]
    if keys == CUT_KEYS:
        return [candidate["id"], candidate["text"], candidate["p"], candidate["cut_by"]]
    return None


def _split(token: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A token record as its two lines' objects; None when it has a key or shape the lines cannot carry."""
    if type(token) is not dict or not TOKEN_KEYS.union(LINE_KEYS).issuperset(token):
        return None
    main = {key: value for key, value in token.items() if key not in LINE_KEYS}
    rows: dict[str, Any] = {}
    for key in ("after", "before"):
        if key in token:
            if type(token[key]) is not list:
                return None
            converted = [_candidate_row(candidate) for candidate in token[key]]
            if None in converted or key == "after" and any(len(row) == 4 for row in converted):  # type: ignore[arg-type]
                return None
            rows[key] = converted
    if "candidates" in token:
        if type(token["candidates"]) is not list:
            return None
        rows["candidates"] = token["candidates"]
    return main, rows


def encode(tokens: Any) -> tuple[str, str] | None:
    """A record's tokens as (tokens block, alternatives block), each a line per token ending in a newline;
    None when one of them has a shape the lines cannot carry (the record then keeps its YAML list)."""
    if type(tokens) is not list:
        return None
    main_lines, alternative_lines = [], []
    for token in tokens:
        parts = _split(token)
        if parts is None:
            return None
        try:
            main_lines.append(_ENCODER.encode(parts[0]))
            alternative_lines.append(_ENCODER.encode(parts[1]))
        except (TypeError, ValueError):  # a value JSON cannot write: the record stays YAML
            return None
    return "".join(line + "\n" for line in main_lines), "".join(line + "\n" for line in alternative_lines)


# -- reading ----------------------------------------------------------------------------------
def value_bound(block: str) -> int:
    """At least the number of JSON values in ``block``: every value but a container's first follows a comma."""
    return block.count(",") + block.count("[") + block.count("{") + block.count("\n") + 1


def _lines(block: str) -> list[str]:
    body = block.rstrip("\n")
    return body.split("\n") if body else []


def _objects(block: str, where: str) -> list[Any]:
    """Each line's JSON value: all at once in C, or line by line to name the first that fails."""
    lines = _lines(block)
    try:
        values = json.loads(f"[{', '.join(lines)}]")
        if len(values) == len(lines):
            return values
    except (ValueError, RecursionError):  # JSONDecodeError, an int of 5,000 digits, [[[[...
        pass
    values = []  # a line failed, or held two values ('1, 2' joins as two): find it
    for index, line in enumerate(lines):
        try:
            values.append(json.loads(line))
        except RecursionError:
            raise LinesError(f"{where}[{index}]: nested too deeply") from None
        except ValueError as error:
            reason = str(error).split(":")[0][:80]
            raise LinesError(f"{where}[{index}]: not a JSON line ({reason})") from None
    return values


def _known(value: Any, keys: frozenset[str], where: str) -> None:
    """A line's object with none but ``keys``: nothing unread (and unchecked) can hide in a file."""
    if type(value) is dict and keys.issuperset(value):
        return
    if type(value) is not dict:
        raise LinesError(f"{where}: expected a JSON object, got {type(value).__name__}")
    unknown = next(key for key in value if key not in keys)
    raise LinesError(f"{where}: unknown key {unknown[:40]!r}; expected {', '.join(sorted(keys))}")


def _candidates(rows: Any, where: str, names: Sequence[tuple[str, ...]]) -> list[dict[str, Any]]:
    if type(rows) is not list:
        raise LinesError(f"{where}: expected a list, got {type(rows).__name__}")
    shapes = {len(keys): keys for keys in names}
    out = []
    for index, row in enumerate(rows):
        keys = shapes.get(len(row)) if type(row) is list else None
        if keys is None:
            shown = " or ".join(f"[{', '.join(k)}]" for k in names)
            raise LinesError(f"{where}[{index}]: expected {shown}")
        out.append(dict(zip(keys, row)))
    return out


def decode(tokens: str, alternatives: str | None, where: str) -> list[dict[str, Any]]:
    """The format-1 token records of a record's two blocks (``where``: 'columns[3]'); without
    ``alternatives``, the tokens alone, as a result written before alternatives were kept reads."""
    records = _objects(tokens, f"{where}.tokens")
    for index, record in enumerate(records):
        _known(record, TOKEN_KEYS, f"{where}.tokens[{index}]")
    if alternatives is None:
        return records
    rows = _objects(alternatives, f"{where}.alternatives")
    if len(rows) != len(records):
        raise LinesError(f"{where}.alternatives: {len(rows)} lines for {len(records)} tokens; expected one per token")
    for index, (record, row) in enumerate(zip(records, rows)):
        at = f"{where}.tokens[{index}]"
        _known(row, LINE_KEYS, f"{where}.alternatives[{index}]")
        if "after" in row:
            record["after"] = _candidates(row["after"], f"{at}.after", (CANDIDATE_KEYS,))
        if "before" in row:
            record["before"] = _candidates(row["before"], f"{at}.before", (CANDIDATE_KEYS, CUT_KEYS))
        if "candidates" in row:
            record["candidates"] = row["candidates"]  # [id, logprob] pairs, as in format 1; checked with them
    return records


def _block(lines: str, indent: str) -> str:
    """A literal block of ``lines`` (each ending in a newline) at ``indent``; '' for none."""
    return f"|\n{indent}" + lines[:-1].replace("\n", "\n" + indent) if lines else "''"


def result_text(document: Mapping[str, Any], dump: Callable[[Mapping[str, Any]], str]) -> str:
    """``document`` as a format-2 file: ``dump`` writes everything but the blocks, which are placed where
    a random marker stands (PyYAML's emitter would take minutes over 60 MB of scalars)."""
    marker = f"samplerlab-token-lines-{secrets.token_hex(8)}"
    tokens: list[str] = []
    alternatives: list[str | None] = []
    columns = []
    for record in document.get("columns", []):
        encoded = encode(record.get("tokens")) if isinstance(record, Mapping) else None
        alternatives.append(None if encoded is None else encoded[1])
        if encoded is None:
            columns.append(record)
            continue
        tokens.append(encoded[0])
        columns.append({**record, "tokens": f"{marker}-{len(tokens) - 1}"})
    text = dump({**document, "columns": columns})
    used: list[int] = []

    def place(match: re.Match[str]) -> str:
        used.append(int(match[2]))
        return f"{match[1]}tokens: {_block(tokens[used[-1]], match[1] + '  ')}"

    text = re.sub(rf"^( *)tokens: {marker}-(\d+)$", place, text, flags=re.MULTILINE)
    if sorted(used) != list(range(len(tokens))):  # the dumper wrote a marker where no block can stand
        raise ValueError("internal error: token lines could not be placed in the result file")
    if not tokens:
        return text
    blocks = "".join("- null\n" if lines is None else f"- {_block(lines, '  ')}\n" for lines in alternatives)
    return text + SECOND_DOCUMENT + blocks


def read(document: dict[str, Any], after: Any, budget: int, alternatives: bool) -> None:
    """A format-2 ``document``'s token lines decoded in place into format 1's token lists, with the
    alternatives of ``after`` (its second document; None when not read or absent). The values of the
    lines count against ``budget`` (what is left of the result's value limit) before any is decoded."""
    records = document["columns"]
    blocks = _alternative_blocks(after, len(records)) if alternatives else [None] * len(records)
    for index, (record, lines) in enumerate(zip(records, blocks)):
        where = f"columns[{index}]"
        if not isinstance(record, dict) or not isinstance(record.get("tokens"), str):
            if lines is not None:
                raise LinesError(f"alternatives[{index}]: {where} has no token lines for them")
            continue
        budget -= value_bound(record["tokens"]) + (0 if lines is None else value_bound(lines))
        if budget < 0:
            raise LinesError(f"{where}.tokens: more values than a result may hold")
        record["tokens"] = decode(record["tokens"], lines, where)


def _alternative_blocks(after: Any, columns: int) -> list[str | None]:
    if after is None:
        return [None] * columns
    if not isinstance(after, dict) or not isinstance(after.get("alternatives"), list):
        raise LinesError("the second YAML document: expected a mapping with an 'alternatives' list")
    blocks = after["alternatives"]
    if len(blocks) != columns:
        raise LinesError(f"alternatives: {len(blocks)} blocks for {columns} columns; expected one per column")
    wrong = next((i for i, block in enumerate(blocks) if block is not None and not isinstance(block, str)), None)
    if wrong is not None:
        raise LinesError(f"alternatives[{wrong}]: expected a block of JSON lines or null")
    return blocks
