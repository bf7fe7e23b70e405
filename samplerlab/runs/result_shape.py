"""The shape of a result file, checked before ``samplerlab report`` or ``run --check`` reads it.

A result file is untrusted input like any other, and the report and the check index into it
freely: a file with ``columns: [1, 2]``, ``tokens: 5`` or a record without ``text`` would end
in a TypeError or KeyError traceback deep inside them. ``check_shape`` walks exactly the keys
those two read, with the types they assume, and names the first one that is wrong
(``columns[3].tokens: expected a list``), so they can then trust the document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..events import TOKEN_ID_LIMIT
from ..schema.load_settings import LoadSettings
from ..schema.params import Settings, SettingsError
from .metrics import STATS

Check = Callable[[Any, str], None]


class ShapeError(ValueError):
    """The first key of a result document that is missing or of the wrong type; one line."""


def _name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "a whole number",
        float: "a number",
        dict: "a mapping",
        list: "a list",
        type(None): "null",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(dict.fromkeys(names[k] for k in kinds if not (k is int and float in kinds)))


def _describe(value: Any) -> str:
    text = repr(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    """isinstance, except that a bool (YAML true/false) is never a number."""
    return isinstance(value, kind) and not (
        isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))
    )


def of(kind: type | tuple[type, ...]) -> Check:
    def check(value: Any, where: str) -> None:
        if not _is(value, kind):
            raise ShapeError(f"{where}: expected {_name(kind)}, got {_describe(value)}")

    return check


TEXT, WHOLE, MAPPING, OPTIONAL_TEXT = of(str), of(int), of(dict), of((str, type(None)))


def NUMBER(value: Any, where: str) -> None:  # noqa: N802 - a check like the constants around it
    """A number the report can format: an int beyond a float's range would raise OverflowError there."""
    of((int, float))(value, where)
    if isinstance(value, int) and not -1e308 < value < 1e308:
        raise ShapeError(f"{where}: expected a number, got an integer of {len(str(abs(value)))} digits")


def OPTIONAL_NUMBER(value: Any, where: str) -> None:  # noqa: N802
    if value is not None:
        NUMBER(value, where)


def TOKEN_ID(value: Any, where: str) -> None:  # noqa: N802
    """A token id llama.cpp's int32 samplers can take (-1: a token llama-server did not report)."""
    WHOLE(value, where)
    if not -1 <= value < TOKEN_ID_LIMIT:
        raise ShapeError(f"{where}: expected a token id (-1 to {TOKEN_ID_LIMIT - 1}), got {_describe(value)}")


def CANDIDATE_PAIR(value: Any, where: str) -> None:  # noqa: N802
    """A kept raw candidate: [token id, log-probability]."""
    if not isinstance(value, list) or len(value) != 2:
        raise ShapeError(f"{where}: expected [token id, logprob], got {_describe(value)}")
    TOKEN_ID(value[0], f"{where}[0]")
    NUMBER(value[1], f"{where}[1]")


def list_of(item: Check) -> Check:
    def check(value: Any, where: str) -> None:
        of(list)(value, where)
        for index, element in enumerate(value):
            item(element, f"{where}[{index}]")

    return check


def fields(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    """A mapping whose ``required`` keys are present and whose keys present are of their types."""

    def check(value: Any, where: str) -> None:
        MAPPING(value, where)
        for key in required:
            if key not in value:
                raise ShapeError(f"{where}: missing key {key!r}" if where else f"missing key {key!r}")
        for key, item in {**required, **(optional or {})}.items():
            if key in value:
                item(value[key], f"{where}.{key}" if where else key)

    return check


def one_of(*choices: str) -> Check:
    def check(value: Any, where: str) -> None:
        if value not in choices or not isinstance(value, str):
            raise ShapeError(f"{where}: expected {' or '.join(choices)}, got {_describe(value)}")

    return check


def knob_values(kind: type[Settings] | type[LoadSettings]) -> Check:
    """Settings the check runs again: validated by the schema, the message behind the key's path.

    A result repeats its columns' settings on every seed; settings already found valid (the same plain
    data, so the same repr) are not validated again: 1,000 records, 100 distinct settings."""
    valid: set[str] = set()

    def check(value: Any, where: str) -> None:
        MAPPING(value, where)
        key = repr(value)
        if key in valid:
            return
        try:
            kind(value, source=where)
        except SettingsError as error:
            raise ShapeError(str(error)) from None
        if len(valid) < 4096:
            valid.add(key)

    return check


def sweep_values(value: Any, where: str) -> None:
    """Swept values are plotted and grouped by: scalars, or lists of scalars."""
    MAPPING(value, where)
    scalar = (str, int, float, bool, type(None))
    for knob, item in value.items():
        if not (isinstance(item, scalar) or isinstance(item, list) and all(isinstance(v, scalar) for v in item)):
            raise ShapeError(f"{where}.{knob}: expected a value or a list of values, got {_describe(item)}")


def model_spec(value: Any, where: str) -> None:
    """'embedded', a path, {hf_repo, hf_file}, {server: URL} or {servers: [URL, ...]}: what the check opens."""
    if isinstance(value, str):
        return
    MAPPING(value, where)
    if "server" in value:
        fields({"server": TEXT})(value, where)
    elif "servers" in value:
        fields({"servers": list_of(TEXT)})(value, where)
    else:
        fields({"hf_repo": TEXT, "hf_file": TEXT})(value, where)


CANDIDATE = fields({"text": TEXT, "p": NUMBER}, {"id": TOKEN_ID, "cut_by": TEXT})
TOKEN = fields(
    {"id": TOKEN_ID, "text": TEXT, "p": OPTIONAL_NUMBER, "raw_p": OPTIONAL_NUMBER},  # null: unknown
    {
        "after": list_of(CANDIDATE),
        "before": list_of(CANDIDATE),
        "approximate": TEXT,
        "candidates": list_of(CANDIDATE_PAIR),
        "entropy": OPTIONAL_NUMBER,
        "survivors": WHOLE,
    },
)  # older results have neither
_FLOAT_OR_NONE = (float, type(None))


def _plain_candidate(c: Any) -> bool:
    return (
        type(c) is dict
        and type(c.get("text")) is str
        and type(c.get("p")) is float
        and type(c.get("id", 0)) is int
        and -1 <= c.get("id", 0) < TOKEN_ID_LIMIT
        and type(c.get("cut_by", "")) is str
    )


def _plain_pair(pair: Any) -> bool:
    return (
        type(pair) is list
        and len(pair) == 2
        and type(pair[0]) is int
        and -1 <= pair[0] < TOKEN_ID_LIMIT
        and type(pair[1]) is float
    )


def _plain_token(t: Any) -> bool:
    """True for a token record of the common shape (floats as floats), in a tenth of TOKEN's time; a False
    means only that TOKEN must look, and name what is wrong if anything is."""
    if not (
        type(t) is dict
        and type(t.get("id")) is int
        and -1 <= t["id"] < TOKEN_ID_LIMIT
        and type(t.get("text")) is str
        and "p" in t
        and "raw_p" in t
        and type(t["p"]) in _FLOAT_OR_NONE
        and type(t["raw_p"]) in _FLOAT_OR_NONE
        and type(t.get("entropy")) in _FLOAT_OR_NONE
        and type(t.get("survivors", 0)) is int
        and type(t.get("approximate", "")) is str
    ):
        return False
    if t.keys().isdisjoint(_ALTERNATIVES):  # as `samplerlab stats` reads them
        return True
    after, before, kept = t.get("after", []), t.get("before", []), t.get("candidates", [])
    return (
        type(after) is list
        and type(before) is list
        and type(kept) is list
        and all(map(_plain_candidate, after))
        and all(map(_plain_candidate, before))
        and all(map(_plain_pair, kept))
    )


_ALTERNATIVES = frozenset({"after", "before", "candidates"})


def TOKENS(value: Any, where: str) -> None:  # noqa: N802 - a check like the constants around it
    """list_of(TOKEN), with the common shape recognized quickly: a result holds 128,000 tokens and more."""
    if type(value) is list and all(map(_plain_token, value)):
        return
    list_of(TOKEN)(value, where)


STATS_SHAPE = fields({stat.name: OPTIONAL_NUMBER for stat in STATS})  # null: no token's figure was known
RECORD = fields(
    {
        "label": TEXT,
        "prompt": TEXT,
        "seed": WHOLE,
        "settings": knob_values(Settings),
        "text": TEXT,
        "finish_reason": TEXT,
        "stats": STATS_SHAPE,
        "tokens": TOKENS,
    },
    {"prompt_index": WHOLE, "stopped_by": OPTIONAL_TEXT, "sweep": sweep_values, "token_count": WHOLE},
)
SPREAD = fields({}, {"mean": OPTIONAL_NUMBER, "std": OPTIONAL_NUMBER})
SUMMARY = fields(
    {"label": TEXT, "seeds": of(list), **{stat.name: SPREAD for stat in STATS}},
    {"prompt_index": WHOLE, "seed_divergence": OPTIONAL_NUMBER},
)
DOCUMENT = fields(
    {
        "mode": one_of("chat", "raw"),
        "model": fields({"spec": model_spec}, {"file_size": NUMBER, "sha256": OPTIONAL_TEXT}),
        "load": knob_values(LoadSettings),
        "columns": list_of(RECORD),
    },
    {
        "system": OPTIONAL_TEXT,
        "prefix": OPTIONAL_TEXT,
        "prompts": of(list),
        "seeds": of(list),
        "sweep": list_of(TEXT),
        "seed_summary": list_of(SUMMARY),
        "experiment": MAPPING,
        "versions": MAPPING,
        "overrides": MAPPING,
        "machine": MAPPING,
        "rendered": list_of(fields({}, {"prompt_index": WHOLE, "prompt_token_ids": list_of(TOKEN_ID)})),
    },
)


def check_shape(document: Any) -> None:
    """Raise ShapeError naming the first key the report or the check could not use as it is."""
    DOCUMENT(document, "")
    knobs = document.get("sweep") or []
    for index, record in enumerate(document["columns"]):
        missing = [knob for knob in knobs[:2] if record.get("sweep") and knob not in record["sweep"]]
        if missing:  # the charts plot every swept record by the first two knobs
            raise ShapeError(f"columns[{index}].sweep: missing {missing[0]!r}, which the result sweeps")
