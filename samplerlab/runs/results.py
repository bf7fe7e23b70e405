"""Result records: one plain-data shape for a column, shared by result files, the app's API and reports.

A record holds a column's complete settings (every knob, plain YAML types), its text
and every token with its probabilities and top alternatives, so a result file alone
is enough to run the column again (``check_result``) and to draw the report.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

import yaml

from ..events import ColumnResult, TokenEvent
from ..files import safe_yaml
from ..files.leftovers import RESULT_TEMP, remove_leftovers
from . import token_lines
from .metrics import column_stats, seed_summary
from .result_shape import ShapeError, check_shape

FORMAT = 2  # samplerlab_result: bumped when the shape changes incompatibly (2: tokens as JSON lines, token_lines)
FORMATS = (1, 2)  # what load_result reads: every result file samplerlab ever wrote
ALTERNATIVES = 10  # top candidates kept per token, before and after the chain: as many as the token view shows, so
# `explain` finds the other column's token among them at a parting
DIGITS = 5  # significant digits of stored probabilities and timings; texts and ids are exact
MAX_RESULT_BYTES = 256 << 20
# Real results measure 6.0 to 6.2 bytes per YAML value (a token record is about 63 values), so this admits
# any real result up to MAX_RESULT_BYTES with room to spare, and stops a file of bare values (2 bytes each)
# at the node count, hence the memory, of the largest real result instead of 2.5 times that.
MAX_RESULT_NODES = MAX_RESULT_BYTES // 5
# Line breaks to YAML besides \n: a plain or single-quoted scalar folds them (U+0085 comes back as a space).
YAML_BREAKS = frozenset("\r\x85\u2028\u2029")


class ResultError(ValueError):
    """A result file that cannot be read or written; one line for a person."""


@dataclass(frozen=True)
class Outcome:
    """One column generated on one prompt: what ``result_columns`` turns into records."""

    prompt_index: int
    prompt: str
    result: ColumnResult
    sweep: Mapping[str, Any] | None = None
    rendered: Mapping[str, Any] | None = None  # the prompt as sent: text, token count, context policy outcome


def plain(value: Any) -> Any:
    """A knob value as plain YAML/JSON data: tuples become lists, mappings dicts."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [plain(item) for item in value]
    return value


def _round(value: float) -> float | None:
    """``DIGITS`` significant digits; an unknown figure (NaN: a token llama-server did not report) is None."""
    if value != value:
        return None
    return float(f"{value:.{DIGITS}g}") if math.isfinite(value) else value


def _candidates(candidates: Sequence, limit: int = ALTERNATIVES) -> list[dict[str, Any]]:
    return [{"id": c.token_id, "text": c.text, "p": _round(c.prob)} for c in candidates[:limit]]


def token_record(token: TokenEvent, keep: int = 0) -> dict[str, Any]:
    """A token as plain data; ``keep`` > 0 adds its ``keep`` most likely raw candidates as [id, logprob]
    pairs, which is what ``replay`` needs to try other settings on this text without the model."""
    before = [
        {**c, "cut_by": token.cut_by[c["id"]]} if c["id"] in token.cut_by else c for c in _candidates(token.before)
    ]  # a raw alternative the chain cut names the stage that did
    record = {
        "id": token.token_id,
        "text": token.text,
        "p": _round(token.prob),
        "raw_p": _round(token.raw_prob),
        "entropy": _round(token.entropy),
        "survivors": token.survivors,  # how wide the chain left the choice
        "after": _candidates(token.after),
        "before": before,
    }
    if token.approximate:
        record["approximate"] = token.approximate  # a server column's replay could not know every figure
    if keep and token.candidates:
        record["candidates"] = [[token_id, float(f"{logprob:.7g}")] for token_id, logprob in token.candidates[:keep]]
    return record


def column_record(
    column: ColumnResult, prompt: str | None = None, sweep: Mapping[str, Any] | None = None, keep: int = 0
) -> dict[str, Any]:
    """Everything about one column as plain data: the shape of result files and of the app's API."""
    record: dict[str, Any] = {"label": column.label}
    if prompt is not None:
        record["prompt"] = prompt
    if sweep:
        record["sweep"] = plain(dict(sweep))
    stats = column_stats(column)
    record.update(  # the settings as run: a seed of -1 is recorded as the seed it drew
        seed=column.seed,
        settings=plain(dict(column.settings.replace(seed=column.seed))),
        chain=column.chain,
        text=column.text,
        finish_reason=column.finish_reason,
        stopped_by=column.stopped_by,
        token_count=len(column.tokens),
        seconds=_round(column.seconds),
        tokens_per_second=_round(column.tokens_per_second),
        stats={k: _round(v) if isinstance(v, float) else v for k, v in stats.items()},
        tokens=[token_record(token, keep) for token in column.tokens],
    )
    return record


def result_columns(outcomes: Sequence[Outcome], keep: int = 0) -> list[dict[str, Any]]:
    """The records of a run, in run order (prompt, then seed, then column)."""
    return [{"prompt_index": o.prompt_index, **column_record(o.result, o.prompt, o.sweep, keep)} for o in outcomes]


def seed_summaries(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per label and prompt, each statistic's mean and spread over the seeds, and their divergence."""
    groups: dict[tuple[int, str], list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault((record.get("prompt_index", 0), record["label"]), []).append(record)
    return [
        {
            "label": label,
            "prompt_index": prompt_index,
            "seeds": [r["seed"] for r in group],
            **seed_summary([r["stats"] for r in group], [[t["id"] for t in r["tokens"]] for r in group]),
        }
        for (prompt_index, label), group in groups.items()
    ]


# -- files -------------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    """Block style for structure; one line for small leaf collections (token alternatives); poems as | blocks."""

    def represent_dict(self, data: Mapping) -> yaml.MappingNode:  # type: ignore[override]  # registered for dict only
        return self.represent_mapping("tag:yaml.org,2002:map", data, flow_style=_inline(data))

    def represent_list(self, data: list) -> yaml.SequenceNode:  # type: ignore[override]  # registered for list only
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=_inline(data))

    def represent_str(self, data: str) -> yaml.ScalarNode:
        style: str | None
        if YAML_BREAKS.intersection(data):
            style = '"'  # escaped, so they survive the round trip
        else:
            style = "|" if "\n" in data.strip("\n") and data == data.rstrip(" ") else None
        return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    def ignore_aliases(self, data: Any) -> bool:
        """Never write anchors (&id001): a value shared twice is written twice, since readers refuse aliases."""
        return True


_Dumper.add_representer(dict, _Dumper.represent_dict)
_Dumper.add_representer(list, _Dumper.represent_list)
_Dumper.add_representer(str, _Dumper.represent_str)


def _inline(data: Mapping | list) -> bool:
    if isinstance(data, Mapping):
        return len(repr(data)) <= 100 and not any(isinstance(v, (Mapping, list)) for v in data.values())
    return len(repr(data)) <= 600 and all(
        not isinstance(v, (Mapping, list)) or isinstance(v, Mapping) and _inline(v) for v in data
    )


def dump(document: Mapping[str, Any]) -> str:
    return yaml.dump(dict(document), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120)


def result_text(document: Mapping[str, Any]) -> str:
    """A result document as a format-2 file (token_lines): ``dump``'s YAML with each record's tokens as a
    block of JSON lines, and their alternatives in a second YAML document after it. It reads and writes
    in seconds where the 8 million YAML values of a 1,000-generation result took minutes, and
    ``load_result`` gives back ``document``."""
    return token_lines.result_text({**document, "samplerlab_result": FORMAT}, dump)


def write_new(path: Path, text: str) -> Path:
    """Write ``text`` to a new file atomically; never replaces an existing file (a result is evidence)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path.parent, RESULT_TEMP)  # of writes killed before their link
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, unlike mkstemp
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.link(temporary, path)  # atomic and, unlike os.replace, refuses to clobber
    except FileExistsError:
        raise ResultError(f"{path}: already exists; results are never overwritten (choose another --out)") from None
    finally:
        os.unlink(temporary)
    return path


def load_result(path: str | Path, alternatives: bool = True) -> dict[str, Any]:
    """A result file, read within bounds and checked to have every key the report and the check read.

    ``alternatives=False`` leaves out each token's alternatives (``after``, ``before``, ``candidates``),
    which the statistics never read: a format-2 file's second document, which holds them, is then not
    even scanned, so ``samplerlab stats`` reads a 1,000-generation result in seconds. Its tokens read as
    a result's written before alternatives were kept."""
    path = Path(path)
    try:
        text = safe_yaml.read_text(path, MAX_RESULT_BYTES)
    except safe_yaml.TooLarge:
        raise ResultError(f"{path}: larger than {MAX_RESULT_BYTES >> 20} MiB; not a samplerlab result") from None
    except safe_yaml.ReadError as error:
        raise ResultError(str(error)) from None
    limit, loader = MAX_RESULT_NODES, safe_yaml.FAST_LOADER
    document, nodes, end = _yaml(path, text, 0, lambda: safe_yaml.load_first(text, max_nodes=limit, loader=loader))
    if (
        not isinstance(document, dict)
        or document.get("samplerlab_result") not in FORMATS
        or isinstance(document.get("samplerlab_result"), bool)
        or not isinstance(document.get("columns"), list)
    ):
        raise ResultError(f"{path}: not a samplerlab result file (format {' or '.join(map(str, FORMATS))})")
    after = None
    if alternatives:  # the second document: a format-2 file's alternatives, else nothing
        rest = max(0, limit - nodes)
        after, more = _yaml(path, text, end, lambda: safe_yaml.load_counted(text[end:], max_nodes=rest, loader=loader))
        nodes += more
    try:
        with safe_yaml.paused_collection():  # the lines decode into 128,000 dicts and more
            _decode_and_check(document, after, limit - nodes, alternatives)
    except (ShapeError, token_lines.LinesError) as error:
        raise ResultError(f"{path}: {error}") from None
    if not alternatives:
        _drop_alternatives(document["columns"])
    return document


def _decode_and_check(document: dict[str, Any], after: Any, budget: int, alternatives: bool) -> None:
    if document["samplerlab_result"] >= 2:
        token_lines.read(document, after, budget, alternatives)
    elif after is not None:
        raise ShapeError("a second YAML document after the result; a format-1 result has one")
    check_shape(document)


def _yaml(path: Path, text: str, start: int, read: Callable[[], Any]) -> Any:
    """``read()``, a YAML document of ``text`` from character ``start`` on, with its errors as one line
    at the file's line."""
    try:
        return read()
    except yaml.YAMLError as error:
        line = safe_yaml.line_of(error)
        at = "?" if line is None else line + text.count("\n", 0, start)
        if isinstance(error, safe_yaml.Refused):
            problem = str(error.problem)
            if start and problem.startswith("more than"):  # the second document's share of the limit
                problem = f"more than {MAX_RESULT_NODES} YAML values in the result"
            raise ResultError(f"{path}:{at}: {problem}") from None
        detail = getattr(error, "problem", None)  # a MarkedYAMLError's; a bare YAMLError has none
        raise ResultError(f"{path}:{at}: not valid YAML{f': {detail}' if detail else ''}") from None


def _drop_alternatives(records: list[dict[str, Any]]) -> None:
    for record in records:
        for token in record["tokens"]:
            for key in token_lines.ALTERNATIVE_KEYS:
                token.pop(key, None)


# -- reproducing ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckReport:
    """The outcome of re-running a result file: how many columns matched, and the first that did not."""

    columns: int
    mismatch: str | None = None
    other_machine: str | None = None  # why this machine may compute other texts (runner.other_machine)
    cut: int = 0  # of the columns, those cut before their end: generated again to the token they were cut at

    @property
    def reproduced(self) -> bool:
        return self.mismatch is None

    def describe(self) -> str:
        if self.reproduced:
            cut = f", {self.cut} of them cut before their end (checked up to the token they were cut at)"
            return (
                f"reproduced {self.columns} columns"
                + (cut if self.cut else "")
                + (f" ({self.other_machine})" if self.other_machine else "")
            )
        if self.other_machine:
            return f"NOT reproduced here: {self.other_machine}; re-record on this machine ({self.mismatch})"
        return f"NOT reproduced: {self.mismatch}"


def first_difference(record: Mapping[str, Any], column: ColumnResult) -> str | None:
    """Where a fresh run departs from a record: the first token (id or text), else the text or ending."""
    for index, (old, new) in enumerate(zip_longest(record["tokens"], column.tokens)):
        if old is None or new is None or old.get("id") != new.token_id or old.get("text") != new.text:
            recorded = "(end)" if old is None else repr(old.get("text"))
            now = "(end)" if new is None else repr(new.text)
            return f"token {index}: recorded {recorded}, now {now}"
    if record["text"] != column.text:
        at = next(
            (i for i, (a, b) in enumerate(zip(record["text"], column.text)) if a != b),
            min(len(record["text"]), len(column.text)),
        )
        return f"text at character {at}: recorded {record['text'][at : at + 20]!r}, now {column.text[at : at + 20]!r}"
    recorded = record["finish_reason"]
    if recorded == "cancelled":  # cut before its end: generated again to the token it was cut at
        if column.finish_reason != "length":
            return f"finish reason: cut at token {len(record['tokens'])}, so 'length', now {column.finish_reason!r}"
    elif recorded != column.finish_reason:
        return f"finish reason: recorded {recorded!r}, now {column.finish_reason!r}"
    return None
