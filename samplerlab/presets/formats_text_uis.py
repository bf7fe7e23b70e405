"""Exports for the text UIs (formats.py): text-generation-webui presets (YAML) and SillyTavern text-completion
presets (JSON), with their keys and defaults, which formats_import reads their presets by as well."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ..schema.params import RUN_LEVEL_KNOBS, SELECTING_STAGES, STAGE_BY_NAME, Settings, order_names, spelled
from .formats_common import ADAPTIVE_P, TGW_LABEL, _comment_header, _dump_json, _matters, tidy
from .yaml_text import dump_yaml

# TGW and SillyTavern read seed and output length from a preset but keep them in the UI, not the preset.
TGW_KEYS = {name: key for name, key in spelled("tgw").items() if name not in RUN_LEVEL_KNOBS}
ST_KEYS = {name: key for name, key in spelled("sillytavern").items() if name not in RUN_LEVEL_KNOBS}

# TGW's default_preset() (modules/presets.py); a TGW file only lists what differs from these.
TGW_PRIORITY = (
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
    "dry",
    "top_n_sigma",
    "temperature",
    "dynamic_temperature",
    "quadratic_sampling",
    "top_k",
    "top_p",
    "typical_p",
    "epsilon_cutoff",
    "eta_cutoff",
    "tfs",
    "top_a",
    "min_p",
    "adaptive_p",
    "mirostat",
    "xtc",
    "encoder_repetition_penalty",
    "no_repeat_ngram",
)
TGW_DEFAULTS: Mapping[str, Any] = {
    "temperature": 1,
    "dynatemp_low": 1,
    "dynatemp_high": 1,
    "dynatemp_exponent": 1,
    "smoothing_factor": 0,
    "smoothing_curve": 1,
    "top_p": 1,
    "top_k": 0,
    "min_p": 0,
    "top_n_sigma": 0,
    "typical_p": 1,
    "xtc_threshold": 0.1,
    "xtc_probability": 0,
    "epsilon_cutoff": 0,
    "eta_cutoff": 0,
    "tfs": 1,
    "top_a": 0,
    "adaptive_target": 0,
    "adaptive_decay": 0.9,
    "dry_multiplier": 0,
    "dry_allowed_length": 2,
    "dry_base": 1.75,
    "repetition_penalty": 1,
    "frequency_penalty": 0,
    "presence_penalty": 0,
    "encoder_repetition_penalty": 1,
    "no_repeat_ngram_size": 0,
    "repetition_penalty_range": 1024,
    "penalty_alpha": 0,
    "guidance_scale": 1,
    "mirostat_mode": 0,
    "mirostat_tau": 5,
    "mirostat_eta": 0.1,
    "do_sample": True,
    "dynamic_temperature": False,
    "temperature_last": False,
    "sampler_priority": "\n".join(TGW_PRIORITY),
    "dry_sequence_breakers": '"\\n", ":", "\\"", "*"',
}
TGW_STAGE_NAMES = {"penalties": "repetition_penalty", "tail_free": "tfs", "typ_p": "typical_p"}
TGW_FOLLOWERS = {
    "repetition_penalty": ("presence_penalty", "frequency_penalty"),
    "temperature": ("dynamic_temperature", "quadratic_sampling"),
}
# TGW (modules/llama_cpp_server.py) switches adaptive-p on by its target alone, not by its place in the list.
TGW_TO_STAGE = {TGW_STAGE_NAMES.get(stage, stage): stage for stage in STAGE_BY_NAME if stage not in SELECTING_STAGES}
TGW_TO_STAGE.update(
    {follower: TGW_TO_STAGE[leader] for leader, followers in TGW_FOLLOWERS.items() for follower in followers}
)

# SillyTavern's Neutral.json: what an ST preset means by "off", and the base for exports and imports.
ST_NEUTRAL: Mapping[str, Any] = {
    "temp": 1,
    "temperature_last": True,
    "top_p": 1,
    "top_k": 0,
    "top_a": 0,
    "tfs": 1,
    "epsilon_cutoff": 0,
    "eta_cutoff": 0,
    "typical_p": 1,
    "min_p": 0,
    "rep_pen": 1,
    "rep_pen_range": 0,
    "rep_pen_decay": 0,
    "rep_pen_slope": 1,
    "no_repeat_ngram_size": 0,
    "penalty_alpha": 0,
    "num_beams": 1,
    "length_penalty": 1,
    "min_length": 0,
    "encoder_rep_pen": 1,
    "freq_pen": 0,
    "presence_pen": 0,
    "skew": 0,
    "do_sample": True,
    "early_stopping": False,
    "dynatemp": False,
    "min_temp": 0,
    "max_temp": 2,
    "dynatemp_exponent": 1,
    "smoothing_factor": 0,
    "smoothing_curve": 1,
    "dry_allowed_length": 2,
    "dry_multiplier": 0,
    "dry_base": 1.75,
    "dry_sequence_breakers": '["\\n", ":", "\\"", "*"]',
    "dry_penalty_last_n": 0,
    "add_bos_token": True,
    "ban_eos_token": False,
    "skip_special_tokens": True,
    "mirostat_mode": 0,
    "mirostat_tau": 5,
    "mirostat_eta": 0.1,
    "guidance_scale": 1,
    "negative_prompt": "",
    "grammar_string": "",
    "json_schema": None,
    "json_schema_allow_empty": False,
    "banned_tokens": "",
    "ignore_eos_token": False,
    "spaces_between_special_tokens": True,
    "speculative_ngram": False,
    "logit_bias": [],
    "xtc_threshold": 0.1,
    "xtc_probability": 0,
    "nsigma": 0,
    "min_keep": 0,
    "rep_pen_size": 0,
    "samplers": [
        "penalties",
        "dry",
        "top_n_sigma",
        "top_k",
        "typ_p",
        "tfs_z",
        "typical_p",
        "xtc",
        "top_p",
        "min_p",
        "temperature",
    ],
    "sampler_priority": [
        "repetition_penalty",
        "presence_penalty",
        "frequency_penalty",
        "dry",
        "temperature",
        "dynamic_temperature",
        "quadratic_sampling",
        "top_n_sigma",
        "top_k",
        "top_p",
        "typical_p",
        "epsilon_cutoff",
        "eta_cutoff",
        "tfs",
        "top_a",
        "min_p",
        "mirostat",
        "xtc",
        "encoder_repetition_penalty",
        "no_repeat_ngram",
    ],
    "samplers_priorities": [
        "dry",
        "penalties",
        "no_repeat_ngram",
        "temperature",
        "top_nsigma",
        "top_p_top_k",
        "top_a",
        "min_p",
        "tfs",
        "eta_cutoff",
        "epsilon_cutoff",
        "typical_p",
        "quadratic",
        "xtc",
    ],
    "sampler_order": [6, 0, 1, 3, 4, 2, 5],
}
# Keys current SillyTavern saves in every preset but Neutral.json lacks, at their defaults
# (`textgenerationwebui_settings` in public/scripts/textgen-settings.js): adaptive-p, off while the
# target is negative. Exports state them: ST keeps its current value for a key a preset leaves out.
# ST sends llama.cpp its `samplers` list as it is (its default ends with adaptive_p) and the target.
ST_SAVED_DEFAULTS: Mapping[str, Any] = {"adaptive_target": -0.01, "adaptive_decay": 0.9}
ST_BASE: Mapping[str, Any] = {**ST_NEUTRAL, **ST_SAVED_DEFAULTS}
ST_STAGE_NAMES = {"tail_free": "tfs_z"}


def _render_tgw(title: str, values: dict[str, Any], notes: list[str]) -> str:
    body = dump_yaml(values) if values else ""
    return "\n".join(_comment_header(title, TGW_LABEL, notes)) + "\n" + body


def _text_ui_value(stage_names: Mapping[str, str], breakers: Callable[[tuple], str]):
    """TGW and ST share most spellings; they differ in stage names and the breaker string."""

    def convert(name: str, value: Any, notes: list[str]) -> Any:
        if name == "samplers":
            return [stage_names.get(stage, stage) for stage in order_names(value)]
        if name == "dry_sequence_breakers":
            return breakers(value)
        if name == "top_n_sigma":
            return 0.0 if value < 0 else value
        return value

    return convert


def _tgw_value(name: str, value: Any, notes: list[str]) -> Any:
    if name == "samplers":
        return "\n".join(_tgw_priority(value))  # TGW keeps its priority list as one string
    return _text_ui_value(TGW_STAGE_NAMES, lambda items: ", ".join(json.dumps(s) for s in items))(name, value, notes)


def _tgw_priority(letters: str) -> list[str]:
    """TGW's full priority list with its stage slots refilled in our order (followers move with their
    stage), so llama.cpp's default order differs from TGW's only where the two really differ."""
    leaders = iter(TGW_STAGE_NAMES.get(stage, stage) for stage in order_names(letters) if stage not in SELECTING_STAGES)
    followers = {name for group in TGW_FOLLOWERS.values() for name in group}
    names: list[str] = []
    for name in TGW_PRIORITY:
        if name in TGW_TO_STAGE and name not in followers:
            leader = next(leaders, None)
            names += [leader, *TGW_FOLLOWERS.get(leader, ())] if leader else []
        elif name not in followers:
            names.append(name)
    return names


def _dynatemp_pair(settings: Settings) -> tuple[float, float]:
    low = max(0.0, settings["temperature"] - settings["dynatemp_range"])
    return tidy(low), tidy(settings["temperature"] + settings["dynatemp_range"])


def _adaptive_target(settings: Settings, off: float) -> float:
    """The target where samplerlab's order runs adaptive-p, else the tool's "off": TGW and KoboldCpp (behind
    SillyTavern) switch adaptive-p on by its target alone, llama.cpp by the order's `a`."""
    runs = ADAPTIVE_P in settings["samplers"] and settings["adaptive_target"] >= 0
    return settings["adaptive_target"] if runs else off


def _tgw_extra(settings: Settings, values: dict[str, Any], notes: list[str]) -> None:
    """Dynamic temperature as TGW's low/high pair; one range serves both repetition penalties and DRY;
    adaptive-p on only where samplerlab runs it (TGW takes a target of 0 as off)."""
    low, high = _dynatemp_pair(settings) if settings["dynatemp_range"] > 0 else (1, 1)
    values.update(dynamic_temperature=settings["dynatemp_range"] > 0, dynatemp_low=low, dynatemp_high=high)
    values["adaptive_target"] = _adaptive_target(settings, TGW_DEFAULTS["adaptive_target"])
    if values["adaptive_target"] == 0 and ADAPTIVE_P in settings["samplers"]:
        notes.append(f"adaptive_target = 0.0: {TGW_LABEL} takes 0 as off")
    if settings["dry_penalty_last_n"] != settings["repeat_last_n"] and _matters("dry_penalty_last_n", settings):
        notes.append(
            f"dry_penalty_last_n = {settings['dry_penalty_last_n']}: {TGW_LABEL} uses "
            f"repetition_penalty_range ({settings['repeat_last_n']}) for DRY too"
        )


def _st_extra(settings: Settings, values: dict[str, Any], notes: list[str]) -> None:
    """ST's dynatemp switch and range, temperature_last from the order (the token picker aside), adaptive-p's
    target only where samplerlab runs it, bans as banned_tokens lines."""
    on = settings["dynatemp_range"] > 0
    low, high = _dynatemp_pair(settings) if on else (ST_NEUTRAL["min_temp"], ST_NEUTRAL["max_temp"])
    ordered = "".join(c for c in settings["samplers"] if order_names(c)[0] not in SELECTING_STAGES)
    values["adaptive_target"] = _adaptive_target(settings, ST_SAVED_DEFAULTS["adaptive_target"])
    values.update(
        dynatemp=on,
        min_temp=low,
        max_temp=high,
        temperature_last=ordered.endswith("t"),
        sampler_priority=_tgw_priority(settings["samplers"]),
        sampler_order=_kobold_order(settings["samplers"]),
    )
    bias = settings["logit_bias"]
    values["logit_bias"] = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{token}")),
            "value": value,
            "text": f"[{token}]" if isinstance(token, int) else _st_bias_text(token),
        }
        for token, value in bias.items()
        if value != float("-inf")
    ]
    values["banned_tokens"] = "\n".join(
        f"[{token}]" if isinstance(token, int) else token for token, value in bias.items() if value == float("-inf")
    )


# KoboldCpp's sampler ids (SillyTavern's `sampler_order`); top_a (1) has no samplerlab stage and keeps
# its place after top_k. KoboldCpp applies its other samplers at fixed points.
KOBOLD_SAMPLER_IDS = {"top_k": 0, "tail_free": 3, "typ_p": 4, "top_p": 2, "temperature": 5, "penalties": 6}


def _kobold_order(letters: str) -> list[int]:
    ids = [KOBOLD_SAMPLER_IDS[stage] for stage in order_names(letters) if stage in KOBOLD_SAMPLER_IDS]
    ids += [i for i in sorted(KOBOLD_SAMPLER_IDS.values()) if i not in ids]
    return ids[: ids.index(0) + 1] + [1] + ids[ids.index(0) + 1 :]


def _st_bias_text(token: str) -> str:
    """ST puts a space before plain text and tokenizes {text} verbatim; plain only where it reads back."""
    plain = token[1:]
    readable = token.startswith(" ") and plain and plain == plain.strip() and plain[0] not in "[{"
    return plain if readable else "{" + token + "}"


def _render_sillytavern(title: str, values: dict[str, Any], notes: list[str]) -> str:
    return _dump_json({**ST_BASE, **values}, notes)
