"""Carry presets to other tools: llama.cpp, Ollama, Open WebUI, llama-cpp-python, TGW and SillyTavern.

Each tool's key for a knob is declared on the knob (``Knob.spellings`` in the
schema) and taken from the tools' sources: llama.cpp ``common/arg.cpp`` and
``tools/server``, Ollama ``api/types.go`` and ``parser/parser.go``, Open WebUI
``AdvancedParams.svelte``, llama-cpp-python ``Llama.create_completion``, TGW
``modules/presets.py`` and SillyTavern's ``textgen`` presets. The tables here are
derived from the schema, keyed by samplerlab knob names.

Nothing is dropped silently. A knob the target cannot express (its value differs
from how the target behaves, and it matters under the other settings) becomes a
note: ``#`` comment lines in text formats (shell, Modelfile, Python, YAML), and a
top-level ``"_samplerlab_unsupported": [...]`` list in JSON formats. The JSON
note is safe to leave in: llama-server (and so its OpenAI-compatible endpoints)
reads only the keys it knows, Ollama logs and skips unknown options, and
SillyTavern keeps unknown preset keys without using them.

Which values are written: llama-cli and TGW write only what differs from the
tool's own defaults (their defaults are known and stable, and people read these).
Request bodies, Modelfiles, Open WebUI params, llama-cpp-python calls and
SillyTavern presets state every value they can express, because the receiving
side's defaults differ from llama.cpp's (Ollama top_p 0.9, llama-cpp-python
max_tokens 16) or depend on how the server was launched.

llama-cli and llama-server exports also carry how samplerlab loads a model
(its default load settings, from each load knob's ``llama_cli``) and runs a
column (one KV stream, no reused prompt cache): with other load settings the
same llama.cpp, model, prompt and seed give other text (measured: llama-server
with flash attention on "auto" differed in 11 of 12 settings).

This module holds the targets (each tool's keys, value rules, notes and renderer) and
export_preset; the tools' parts live by family, each importing only formats_common (the
Target and the helpers every family shares): formats_llama_cpp (llama-cli, llama-server, the
OpenAI-compatible API), formats_apps (Ollama, Open WebUI, llama-cpp-python) and
formats_text_uis (text-generation-webui, SillyTavern). Their public names are importable
from here too.

The tables of TGW's and SillyTavern's keys and defaults serve both directions;
``formats_import`` reads those tools' presets with them (it imports from here and the
family modules, never the other way round).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..schema.params import DEFAULTS, RUN_LEVEL_KNOBS, Settings, suggest
from .formats_apps import (
    LLAMA_CPP_PYTHON_KEYS,
    OLLAMA_KEYS,
    OPEN_WEBUI_KEYS,
    _llama_cpp_python_extra,
    _llama_cpp_python_value,
    _open_webui_value,
    _render_llama_cpp_python,
    _render_ollama,
)
from .formats_common import (
    ADAPTIVE_P,
    LAUNCH_KEY,
    LCP_ORDER,
    LLAMA_CPP_ORDER,
    NO_TAIL_FREE,
    ST_LABEL,
    TAIL_FREE,
    TGW_LABEL,
    UNSUPPORTED_KEY,
    FormatError,
    Target,
    _json_renderer,
    tidy,
)
from .formats_llama_cpp import (
    LLAMA_CLI_FLAGS,
    LLAMA_SERVER_KEYS,
    LLAMA_SERVER_RUN_ARGS,
    OPENAI_KEYS,
    _bias_object,
    _cli_launch,
    _llama_cli_value,
    _llama_cpp_value,
    _render_llama_cli,
    _server_launch,
    load_flags,
    same_text_note,
)
from .formats_text_uis import (
    KOBOLD_SAMPLER_IDS,
    ST_BASE,
    ST_KEYS,
    ST_NEUTRAL,
    ST_SAVED_DEFAULTS,
    ST_STAGE_NAMES,
    TGW_DEFAULTS,
    TGW_FOLLOWERS,
    TGW_KEYS,
    TGW_PRIORITY,
    TGW_STAGE_NAMES,
    TGW_TO_STAGE,
    _render_sillytavern,
    _render_tgw,
    _st_extra,
    _text_ui_value,
    _tgw_extra,
    _tgw_value,
)
from .store import Preset

_PENALIZE_PROMPT = "llama.cpp always counts the prompt in repetition penalties and DRY"
_LLAMA_CPP_REASONS = {"tfs_z": NO_TAIL_FREE, "penalize_prompt": _PENALIZE_PROMPT}
_NOT_IN_PRESET = "not part of a {} preset; set it in the UI"
_NO_ORDER = "{} has no setting for the sampler order"
_OLLAMA_REASONS = {
    "mirostat": "Ollama removed mirostat (a Modelfile PARAMETER is skipped with a warning)",
    "samplers": _NO_ORDER.format("Ollama"),
    "tfs_z": NO_TAIL_FREE,
    "penalize_prompt": _PENALIZE_PROMPT,
}
_OPEN_WEBUI_REASONS = {
    "samplers": _NO_ORDER.format("Open WebUI"),
    "penalize_prompt": _PENALIZE_PROMPT,
    "tfs_z": "Open WebUI has a tfs_z field, but neither Ollama nor llama-server applies it",
}
_LLAMA_CLI = Target("llama-cli", LLAMA_CLI_FLAGS, _render_llama_cli, _llama_cli_value, reasons=_LLAMA_CPP_REASONS)

TARGETS: Mapping[str, Target] = {
    # llama-cli's defaults are llama.cpp's own, with "no limit" and a random seed.
    "llama-cli": replace(
        _LLAMA_CLI, baseline=_LLAMA_CLI.values(DEFAULTS.replace(max_tokens=0, seed=-1))[0], launch=_cli_launch
    ),
    "llama-server": Target(
        "llama-server",
        LLAMA_SERVER_KEYS,
        _json_renderer,
        _llama_cpp_value,
        reasons=_LLAMA_CPP_REASONS,
        launch=_server_launch,
    ),
    "openai": Target(
        "the OpenAI-compatible API",
        OPENAI_KEYS,
        _json_renderer,
        lambda name, value, notes: _llama_cpp_value(name, value, notes, _bias_object),
        reasons=_LLAMA_CPP_REASONS,
        launch=_server_launch,
    ),
    "ollama": Target("Ollama", OLLAMA_KEYS, _render_ollama, _llama_cpp_value, reasons=_OLLAMA_REASONS),
    "open-webui": Target("Open WebUI", OPEN_WEBUI_KEYS, _json_renderer, _open_webui_value, reasons=_OPEN_WEBUI_REASONS),
    "llama-cpp-python": Target(
        "llama-cpp-python",
        LLAMA_CPP_PYTHON_KEYS,
        _render_llama_cpp_python,
        _llama_cpp_python_value,
        extra=_llama_cpp_python_extra,
        acts_as={"penalize_prompt": False, "samplers": LCP_ORDER},
        stages=LCP_ORDER,
        reasons={
            "tfs_z": "llama-cpp-python accepts tfs_z but ignores it",
            "penalize_prompt": "llama-cpp-python counts only generated tokens in repetition penalties",
            "samplers": "llama-cpp-python's order is fixed: penalties, top_k, typical_p, top_p, min_p, temperature",
        },
    ),
    "tgw": Target(
        TGW_LABEL,
        TGW_KEYS,
        _render_tgw,
        _tgw_value,
        _tgw_extra,
        handled=("dynatemp_range", "dry_penalty_last_n"),
        stages=LLAMA_CPP_ORDER,
        reasons=dict.fromkeys((*RUN_LEVEL_KNOBS, "logit_bias"), _NOT_IN_PRESET.format(TGW_LABEL)),
        baseline=TGW_DEFAULTS,
    ),
    "sillytavern": Target(
        ST_LABEL,
        ST_KEYS,
        _render_sillytavern,
        _text_ui_value(ST_STAGE_NAMES, lambda items: json.dumps(list(items))),
        _st_extra,
        handled=("dynatemp_range", "logit_bias"),
        stages=LLAMA_CPP_ORDER,
        reasons=dict.fromkeys(RUN_LEVEL_KNOBS, _NOT_IN_PRESET.format(ST_LABEL)),
    ),
}
EXPORT_FORMATS: Mapping[str, str] = {
    "llama-cli": "llama-cli / llama-server command-line flags",
    "llama-server": "llama-server /completion request body (JSON)",
    "openai": "OpenAI-compatible request body with llama.cpp extensions (JSON)",
    "ollama": "Ollama Modelfile PARAMETER lines",
    "open-webui": "Open WebUI model params (JSON)",
    "llama-cpp-python": "llama-cpp-python create_completion(...) call (Python)",
    "tgw": "text-generation-webui preset (YAML)",
    "sillytavern": "SillyTavern text-completion preset (JSON)",
}


def known_format(fmt: str, known: Mapping[str, Any] | tuple[str, ...]) -> str:
    """The format, or a FormatError suggesting the nearest one: names like 'olama' are easy to mistype."""
    if fmt not in known:
        raise FormatError(f"unknown format {fmt!r}{suggest(fmt, tuple(known))}; known: {', '.join(known)}")
    return fmt


def export_preset(preset_or_settings: Preset | Settings, fmt: str) -> str:
    """The preset in another tool's format, with notes for whatever that tool cannot express."""
    target = TARGETS[known_format(fmt, EXPORT_FORMATS)]
    if isinstance(preset_or_settings, Preset):
        title, settings = f"samplerlab preset {preset_or_settings.name!r}", preset_or_settings.settings
    else:
        title, settings = "samplerlab settings", preset_or_settings
    values, notes = target.values(settings)
    if target.launch is not None:
        values = target.launch(values)
    return target.render(title, values, notes)


__all__ = [
    "ADAPTIVE_P",
    "EXPORT_FORMATS",
    "FormatError",
    "KOBOLD_SAMPLER_IDS",
    "LAUNCH_KEY",
    "LCP_ORDER",
    "LLAMA_CLI_FLAGS",
    "LLAMA_CPP_ORDER",
    "LLAMA_CPP_PYTHON_KEYS",
    "LLAMA_SERVER_KEYS",
    "LLAMA_SERVER_RUN_ARGS",
    "NO_TAIL_FREE",
    "OLLAMA_KEYS",
    "OPENAI_KEYS",
    "OPEN_WEBUI_KEYS",
    "ST_BASE",
    "ST_KEYS",
    "ST_LABEL",
    "ST_NEUTRAL",
    "ST_SAVED_DEFAULTS",
    "ST_STAGE_NAMES",
    "TAIL_FREE",
    "TARGETS",
    "TGW_DEFAULTS",
    "TGW_FOLLOWERS",
    "TGW_KEYS",
    "TGW_LABEL",
    "TGW_PRIORITY",
    "TGW_STAGE_NAMES",
    "TGW_TO_STAGE",
    "Target",
    "UNSUPPORTED_KEY",
    "export_preset",
    "known_format",
    "load_flags",
    "same_text_note",
    "tidy",
]  # the families' names too: formats is the public path
