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
        values[name] = _parse_scalar(KNOB_BY_NAME[name], raw.strip())
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
        try:
            return int(raw) if knob.kind != "float" else float(raw)
        except ValueError:
            return raw
    if knob.kind == "strings":
        return [unescape(knob, part) for part in raw.split("|")]
    if knob.kind == "bias":
        return dict(_bias_pair(knob, part) for part in raw.split("|") if part)
    return raw


def unescape(knob: Knob, text: str) -> str:
    """'\\n' as a newline; backslashreplace keeps non-ASCII text (Japanese) intact through unicode_escape."""
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        raise SettingsError(f"{knob.name}: {text!r} has a bad backslash escape; write \\\\ for a backslash") from None


def _bias_pair(knob: Knob, part: str) -> tuple[str, Any]:
    """'15043:-5' or 'Hello:false' (a ban); the last colon separates, so a token may contain one."""
    token, sep, value = part.rpartition(":")
    if not sep or not token:
        raise SettingsError(f"{knob.name}: expected TOKEN:BIAS pairs separated by |, e.g. 15043:-5|Hello:false; "
                            f"got {part!r}")
    return unescape(knob, token), _bias_text(value)


def _bias_text(value: str) -> Any:
    lowered = value.strip().lower()
    if lowered in ("false", "ban"):
        return False
    try:
        return float(value)
    except ValueError:
        return value  # validation names it
