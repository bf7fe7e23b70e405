"""Bring text-generation-webui and SillyTavern presets into samplerlab.

Imports start from the source tool's own defaults (TGW's ``default_preset`` for
keys a sparse TGW file omits; SillyTavern's Neutral preset for keys an ST file
omits), so an imported preset samples as it did in that tool. Keys samplerlab
cannot follow are returned, never dropped silently, unless they hold the tool's
own "off" value; so is a note for each stage the preset switches on that
llama.cpp runs as off (a penalty range of 0). The key tables are the exporters'
(``formats``), so the two directions cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..files.safe_yaml import JsonTooDeep, load_json
from ..schema.params import (
    STAGE_ALIASES,
    STAGE_BY_NAME,
    STAGES,
    Settings,
    SettingsError,
    knobs_of_stage,
    spelled,
    stage_stopper,
)
from .formats import known_format
from .formats_common import ST_LABEL, TGW_LABEL, FormatError, tidy
from .formats_text_uis import ST_BASE, TGW_DEFAULTS, TGW_PRIORITY, TGW_TO_STAGE
from .store import MAX_FILE_BYTES, Preset, PresetError, check_name, load_yaml, parse_preset_text, read_small_text

# Orders ST keeps for other back ends (TGW, Aphrodite, KoboldCpp); llama.cpp reads ``samplers``.
ST_OTHER_BACKEND_ORDERS = ("sampler_priority", "samplers_priorities", "sampler_order")

# Imports also read the run-level knobs a TGW or ST preset may carry (seed, max_new_tokens).
TGW_IMPORT_KEYS = spelled("tgw")
ST_IMPORT_KEYS = spelled("sillytavern")


def import_preset(text: str, fmt: str, name: str) -> tuple[Preset, list[str]]:
    """A preset from a TGW (YAML) or SillyTavern (JSON) preset, plus the keys samplerlab has no equivalent for
    and notes on stages llama.cpp would run as off (``stopped_stages``)."""
    importer, label = IMPORTERS[known_format(fmt, IMPORTERS)]
    name = check_name(name)
    values, unmapped = importer(_parse_document(text, fmt, label))
    try:
        settings = Settings(values, source=f"{label} preset")
    except SettingsError as error:
        raise FormatError(str(error)) from None
    return Preset(name, f"Imported from a {label} preset.", settings), unmapped + stopped_stages(settings)


def import_file(path: Path, fmt: str | None = None, name: str | None = None) -> tuple[Preset, list[str]]:
    """A preset from a TGW, SillyTavern or samplerlab file (detected unless ``fmt`` is given), plus the keys
    samplerlab has no equivalent for and notes on stages llama.cpp would run as off. Named ``name``, else its
    own name, else the file's: TGW and ST keep a preset's name only in the file name."""
    text = read_text(path)
    try:
        fmt = fmt or detect_format(text)
        if fmt == "samplerlab":
            preset = parse_preset_text(text, str(path))
            return replace(preset, name=check_name(name or preset.name)), []
        return import_preset(text, fmt, name or path.stem)
    except FormatError as error:
        raise FormatError(f"{path}: {error}") from None


def stopped_stages(settings: Settings) -> list[str]:
    """A note per stage that the preset switches on but another of its knobs holds off (a penalty range
    of 0 in llama.cpp): such a preset reads as if it used the stage, so the import says it does not."""
    notes = []
    for stage in STAGES:
        stopper = stage_stopper(stage.name, settings)
        switched_on = [
            knob.name
            for knob in knobs_of_stage(stage.name)
            if knob.neutral is not None and settings[knob.name] != knob.neutral
        ]
        if stopper and switched_on:
            values = ", ".join(f"{name} {settings[name]}" for name in switched_on)
            notes.append(
                f"{stopper.name}: {settings[stopper.name]} switches {stage.label} off in llama.cpp "
                f"({values} {'has' if len(switched_on) == 1 else 'have'} no effect)"
            )
    return notes


def read_text(path: Path) -> str:
    """The file's text, as the preset store reads it, with import errors as FormatError."""
    try:
        return read_small_text(path)
    except PresetError as error:
        raise FormatError(str(error)) from None


def detect_format(path_or_text: Path | str) -> str:
    """'samplerlab', 'tgw' or 'sillytavern' for a file (a Path) or its text (a str); TGW and samplerlab
    presets are both YAML, told apart by samplerlab's ``schema_version``."""
    text = read_text(path_or_text) if isinstance(path_or_text, Path) else path_or_text
    try:
        if isinstance(load_json(text), dict):
            return "sillytavern"
    except JsonTooDeep as error:
        raise FormatError(f"JSON {error}") from None
    except ValueError:
        pass
    try:
        document = load_yaml(text, "preset")
    except PresetError:
        raise FormatError("neither JSON nor YAML; cannot tell which tool wrote it") from None
    if not isinstance(document, dict):
        raise FormatError("not a preset: expected a mapping of keys to values")
    return "samplerlab" if "schema_version" in document else "tgw"


def _parse_document(text: str, fmt: str, label: str) -> dict[str, Any]:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise FormatError(f"{label} preset: larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        document = load_json(text) if fmt == "sillytavern" else load_yaml(text, f"{label} preset")
    except json.JSONDecodeError as error:
        raise FormatError(f"{label} preset: not valid JSON ({error.msg} at line {error.lineno})") from None
    except JsonTooDeep as error:
        raise FormatError(f"{label} preset: {error}") from None
    except PresetError as error:
        raise FormatError(str(error)) from None
    if not isinstance(document, dict):
        raise FormatError(f"{label} preset: expected a mapping of keys to values, got {type(document).__name__}")
    return document


def _direct(merged: Mapping[str, Any], keys: Mapping[str, str]) -> dict[str, Any]:
    """Knobs spelled by one key each, back in samplerlab's terms (the order is read separately)."""
    return {knob: _value_in(knob, merged[key]) for knob, key in keys.items() if key in merged and knob != "samplers"}


def _value_in(knob: str, value: Any) -> Any:
    if knob == "top_n_sigma" and _is_number(value) and value <= 0:
        return -1.0  # TGW and ST switch it off with 0, llama.cpp with a negative value
    if knob == "adaptive_target" and _is_number(value) and value < 0:
        return -1.0  # any negative target is off (ST saves -0.01)
    if knob == "dry_sequence_breakers" and isinstance(value, str):
        return _breakers_in(value)
    if knob == "mirostat" and _is_number(value) and float(value).is_integer():
        return int(value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _breakers_in(text: str) -> list[str]:
    """ST stores a JSON array as text, TGW the same without brackets; both fall back to commas."""
    stripped = text.strip()
    try:
        parsed = json.loads(stripped if stripped.startswith("[") else f"[{stripped}]")
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return parsed
    except ValueError:
        pass
    return [part.strip() for part in stripped.split(",") if part.strip()]


def _dynatemp_in(low: Any, high: Any) -> dict[str, float]:
    if not (_is_number(low) and _is_number(high)):
        return {"temperature": low}  # lets Settings name the bad value
    return {"temperature": tidy((low + high) / 2), "dynatemp_range": tidy(abs(high - low) / 2)}


def _order_in(
    names: Any, to_stage: Callable[[str], str | None], temperature_last: bool, key: str
) -> tuple[str | list, list[str]]:
    """Stage letters from a tool's list of names; names without a stage in samplerlab are reported."""
    if isinstance(names, str):
        names = names.replace(",", "\n").split("\n")
    if not isinstance(names, list):
        return names, []
    stages: list[str] = []
    unmapped: list[str] = []
    for raw in (str(name).strip() for name in names if str(name).strip()):
        stage = to_stage(raw)
        if stage is None:
            unmapped.append(f"{key}: {raw}")
        elif stage and stage not in stages:
            stages.append(stage)
    if temperature_last and "temperature" in stages:
        stages = [stage for stage in stages if stage != "temperature"] + ["temperature"]
    return "".join(STAGE_BY_NAME[stage].letter for stage in stages) or names, unmapped


def _tgw_stage(name: str) -> str | None:
    """TGW names with no samplerlab stage (top_a, mirostat...) are configured elsewhere: skip them."""
    return TGW_TO_STAGE.get(name, "" if name in TGW_PRIORITY else None)


def _st_stage(name: str) -> str | None:
    stage = STAGE_ALIASES.get(name.lower(), name.lower())
    return stage if stage in STAGE_BY_NAME else None


def _unmapped(data: Mapping[str, Any], consumed: set[str], neutral: Mapping[str, Any]) -> list[str]:
    """Keys samplerlab cannot follow, unless they hold the tool's own 'off' value."""
    return [key for key in data if key not in consumed and not (key in neutral and _neutral(data[key], neutral[key]))]


def _neutral(value: Any, neutral: Any) -> bool:
    empty: tuple[Any, ...] = (None, "", [], {})
    return (value == neutral and type(value) is not bool) or value is neutral or (value in empty and neutral in empty)


def _from_tgw(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    merged = {**TGW_DEFAULTS, **data}
    values = _direct(merged, TGW_IMPORT_KEYS)
    if merged["dynamic_temperature"] is True:
        values.update(_dynatemp_in(merged["dynatemp_low"], merged["dynatemp_high"]))
    if merged["do_sample"] is False:
        values["temperature"] = 0.0  # no sampling: always the most likely token
    values["dry_penalty_last_n"] = values["repeat_last_n"]  # TGW's one range serves both
    values["samplers"], order_unmapped = _order_in(
        merged["sampler_priority"], _tgw_stage, merged["temperature_last"] is True, "sampler_priority"
    )
    _tgw_adaptive_in(values)
    consumed = {
        *TGW_IMPORT_KEYS.values(),
        "dynamic_temperature",
        "dynatemp_low",
        "dynatemp_high",
        "do_sample",
        "temperature_last",
    }
    return values, _unmapped(data, consumed, TGW_DEFAULTS) + order_unmapped


def _tgw_adaptive_in(values: dict[str, Any]) -> None:
    """TGW switches adaptive-p on by a target above 0, whatever its list says, and sends llama.cpp -1
    otherwise (modules/llama_cpp_server.py); samplerlab switches it on with `a` in the order."""
    target = values["adaptive_target"]
    if _is_number(target) and target <= 0:
        values["adaptive_target"] = -1.0
    elif _is_number(target) and isinstance(values["samplers"], str):
        values["samplers"] += STAGE_BY_NAME["adaptive_p"].letter


def _from_sillytavern(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    merged = {**ST_BASE, **data}
    values = _direct(merged, ST_IMPORT_KEYS)
    if merged["dynatemp"] is True:
        values.update(_dynatemp_in(merged["min_temp"], merged["max_temp"]))
    inert = _st_inert(merged)
    # SillyTavern sends llama.cpp its `samplers` list as it is; temperature_last is for other back ends.
    values["samplers"], order_unmapped = _order_in(
        merged["samplers"], lambda name: "" if name.lower() in inert else _st_stage(name), False, "samplers"
    )
    values["logit_bias"], bias_unmapped = _st_bias_in(merged["logit_bias"], merged["banned_tokens"])
    consumed = {
        *ST_IMPORT_KEYS.values(),
        *ST_OTHER_BACKEND_ORDERS,
        *inert,
        "dynatemp",
        "min_temp",
        "max_temp",
        "temperature_last",
        "logit_bias",
        "banned_tokens",
    }
    return values, _unmapped(data, consumed, ST_BASE) + order_unmapped + bias_unmapped


def _st_inert(merged: Mapping[str, Any]) -> set[str]:
    """ST keys that do nothing under the other values, whatever they hold: json_schema_allow_empty only
    decides whether an empty ({}) schema is sent. (ST's `adaptive_p` in `samplers` is kept: llama.cpp then
    picks with adaptive-p, even with a negative target, and samplerlab does the same.)"""
    inert = set()
    if merged["json_schema"] != {}:
        inert.add("json_schema_allow_empty")
    return inert


def _st_bias_in(entries: Any, banned: Any) -> tuple[dict[Any, Any], list[str]]:
    """ST's {text, value} entries and banned_tokens lines as samplerlab's token -> bias mapping."""
    bias: dict[Any, Any] = {}
    unmapped: list[str] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        text = entry.get("text") if isinstance(entry, dict) else None
        tokens = _st_tokens(text) if isinstance(text, str) else None
        if tokens is None:
            unmapped.append(f"logit_bias: {json.dumps(entry, ensure_ascii=False)[:60]}")
        bias.update(dict.fromkeys(tokens or (), entry.get("value") if isinstance(entry, dict) else None))
    for line in banned.splitlines() if isinstance(banned, str) else [str(banned)]:
        tokens = None if line.startswith('"') else _st_tokens(line, plain_prefix="")
        if line.strip() and tokens is None:
            unmapped.append(f"banned_tokens: {line[:60]}")
        bias.update(dict.fromkeys(tokens or (), False))
    return bias, unmapped


def _st_tokens(text: str, plain_prefix: str = " ") -> list[Any] | None:
    """'[1, 2]' is token ids, '{text}' is text as-is, other text gets ST's leading space."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        try:
            ids = json.loads(stripped)
        except ValueError:
            return None
        ok = isinstance(ids, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        return ids if ok else None
    if stripped.startswith("{") and stripped.endswith("}"):
        return [stripped[1:-1]]
    return [plain_prefix + stripped]


IMPORTERS: Mapping[str, tuple[Callable[[dict], tuple[dict, list[str]]], str]] = {
    "tgw": (_from_tgw, TGW_LABEL),
    "sillytavern": (_from_sillytavern, ST_LABEL),
}
