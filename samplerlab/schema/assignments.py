"""Settings typed as text: a column as ``name=value`` pairs (``temperature=3,top_k=100``).

The CLI's ``--column`` and the app's one-string-per-line fields read text this way; every value
still goes through the schema's validation afterwards. ``parse_column`` also reads ``preset=NAME``.
"""

from __future__ import annotations

from typing import Any

from .params import KNOB_BY_NAME, KNOB_NAMES, Knob, SettingsError, suggest

PRESET = "preset"  # the one key that is not a knob: the column starts from this preset's settings


def parse_assignments(text: str, source: str = "column") -> dict[str, Any]:
    """'temperature=3,top_k=100' -> {'temperature': 3.0, 'top_k': 100}, validated per knob."""
    values: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep:
            raise SettingsError(f"{source}: expected name=value, got {part!r}")
        if name not in KNOB_BY_NAME:
            raise SettingsError(f"{source}: unknown setting {name!r}{suggest(name, KNOB_NAMES)}")
        try:
            values[name] = _parse_scalar(KNOB_BY_NAME[name], raw.strip())
        except SettingsError as error:
            raise SettingsError(f"{source}: {error}") from None
    return values


def parse_column(text: str, source: str = "column") -> tuple[str | None, dict[str, Any]]:
    """'preset=greedy,max_tokens=4' -> ('greedy', {'max_tokens': 4}): a preset's name (loading it is the
    caller's: this module reads text only) and the settings that override it."""
    preset: str | None = None
    rest = []
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == PRESET:
            if preset is not None:
                raise SettingsError(f"{source}: {PRESET} is given twice; a column starts from one preset")
            preset = value.strip()
            if not preset:
                raise SettingsError(f"{source}: {PRESET}= needs a preset's name, e.g. preset=greedy")
        else:
            rest.append(part)
    return preset, parse_assignments(",".join(rest), source)


def _parse_scalar(knob: Knob, raw: str) -> Any:
    if knob.kind in ("float", "int", "seed", "choice"):
        for number in (int, float) if knob.kind != "float" else (float,):
            try:  # '-1e9' for an int knob is a number too: the schema then says it is out of range
                return number(raw)
            except ValueError:
                continue
        return raw
    if knob.kind == "strings":
        return [unescape(knob, part) for part in raw.split("|")]
    if knob.kind == "bias":
        return dict(_bias_pair(knob, part) for part in raw.split("|") if part)
    return raw


def unescape(knob: Knob, text: str) -> str:
    """A text value typed as a knob's value, escapes processed (``process_escapes``)."""
    try:
        return process_escapes(text)
    except ValueError as error:
        raise SettingsError(f"{knob.name}: {error}") from None


SIMPLE_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("'"): b"'", ord('"'): b'"', ord("\\"): b"\\"}
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
C_SPACE = frozenset(b" \t\n\v\f\r")  # what C's strtol skips before a number


def process_escapes(text: str) -> str:
    """Escapes processed as llama-cli processes them in its prompt and reverse prompts.

    A port of llama.cpp's ``string_process_escapes`` (common/common.cpp): ``\\n`` ``\\r`` ``\\t``
    ``\\'`` ``\\"`` ``\\\\`` and ``\\xHH`` (one byte); any other backslash, and a trailing one, stays
    as written, so Windows paths and regular expressions survive. Like llama.cpp it works on the
    UTF-8 bytes, so text in any language passes through untouched and ``\\xe3\\x81\\x82`` is あ; bytes
    that do not end up as UTF-8 are refused, since the model is given UTF-8 text.
    """
    try:
        data = text.encode("utf-8", "surrogateescape")  # undecodable command-line bytes come back as bytes
    except UnicodeEncodeError as error:
        raise ValueError(f"not UTF-8 text (character {error.start})") from None
    out = bytearray()
    index = 0
    while index < len(data):
        byte = data[index]
        index += 1
        if byte != ord("\\") or index == len(data):
            out.append(byte)
            continue
        escape = data[index]
        index += 1
        value = _hex_byte(data[index : index + 2]) if escape == ord("x") and index + 1 < len(data) else None
        if escape in SIMPLE_ESCAPES:
            out += SIMPLE_ESCAPES[escape]
        elif value is not None:
            out.append(value)
            index += 2
        else:
            out += bytes((ord("\\"), escape))  # unknown escapes stay as written
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"not UTF-8 text once its escapes are processed (byte {error.start}); "
            "\\xHH escapes must spell whole UTF-8 characters"
        ) from None


def _hex_byte(pair: bytes) -> int | None:
    """The byte llama.cpp makes of the two characters after ``\\x``: ``strtol(pair, 16)`` when it reads
    both, which is two hex digits, or one after a space or sign (strtol skips those); else None."""
    first, second = pair
    if second not in HEX_DIGITS:
        return None
    if first in HEX_DIGITS:
        return int(pair, 16)
    if first in C_SPACE or first == ord("+"):
        return int(pair[1:], 16)
    return -int(pair[1:], 16) & 0xFF if first == ord("-") else None


def _bias_pair(knob: Knob, part: str) -> tuple[str, Any]:
    """'15043:-5' or 'Hello:false' (a ban); the last colon separates, so a token may contain one."""
    token, sep, value = part.rpartition(":")
    if not sep or not token:
        raise SettingsError(
            f"{knob.name}: expected TOKEN:BIAS pairs separated by |, e.g. 15043:-5|Hello:false; got {part!r}"
        )
    return unescape(knob, token), _bias_text(value)


def _bias_text(value: str) -> Any:
    lowered = value.strip().lower()
    if lowered in ("false", "ban"):
        return False
    try:
        return float(value)
    except ValueError:
        return value  # validation names it
