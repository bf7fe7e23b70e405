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

The tables of TGW's and SillyTavern's keys and defaults serve both directions;
``formats_import`` reads those tools' presets with them (it imports from here,
never the other way round).
"""

from __future__ import annotations

import json
import shlex
import textwrap
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..schema.chains import mirostat_stages
from ..schema.load_settings import LOAD_KNOBS, LoadSettings
from ..schema.params import (
    DEFAULT_ORDER,
    DEFAULTS,
    KNOB_BY_NAME,
    KNOBS,
    NAMED_ORDERS,
    RUN_LEVEL_KNOBS,
    SELECTING_STAGES,
    STAGE_BY_NAME,
    Knob,
    Settings,
    order_names,
    spelled,
    stage_enabled,
    suggest,
)
from .store import Preset, PresetError
from .yaml_text import dump_yaml

UNSUPPORTED_KEY = "_samplerlab_unsupported"
LAUNCH_KEY = "_samplerlab_launch"  # how to start llama-server as samplerlab runs a column
# A column in llama-server's terms (engine.py: its own KV stream, kv_unified off; the prompt evaluated
# afresh). For N columns at once: --parallel N and N times --ctx-size.
LLAMA_SERVER_RUN_ARGS = ("--parallel 1", "--no-kv-unified", "--no-cache-prompt")
NO_TAIL_FREE = "llama.cpp removed tail-free sampling; only samplerlab runs it"
TGW_LABEL, ST_LABEL = "text-generation-webui", "SillyTavern"
LLAMA_CPP_ORDER, LCP_ORDER = NAMED_ORDERS[DEFAULT_ORDER], NAMED_ORDERS["llama-cpp-python"]
TAIL_FREE = STAGE_BY_NAME["tail_free"].letter  # a stage only samplerlab still runs
ADAPTIVE_P = STAGE_BY_NAME["adaptive_p"].letter  # llama.cpp runs adaptive-p only when the order names it

# -- key tables (samplerlab knob -> the tool's key) ------------------------------------------

# a sampling knob has one flag (only load knobs set several)
LLAMA_CLI_FLAGS = {k.name: k.llama_cli for k in KNOBS if isinstance(k.llama_cli, str) and k.llama_cli}
LLAMA_SERVER_KEYS = {k.name: k.llama_server for k in KNOBS if k.llama_server}
OPENAI_KEYS = {**LLAMA_SERVER_KEYS, **spelled("openai")}
OLLAMA_KEYS = spelled("ollama")
OPEN_WEBUI_KEYS = spelled("open_webui")
LLAMA_CPP_PYTHON_KEYS = spelled("llama_cpp_python")  # repeat_last_n goes to Llama(...), the rest to the call
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


class FormatError(PresetError):
    """An unknown format, or a file in a tool's format that cannot be read."""


# -- export ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """How one tool spells samplerlab's knobs, and what it does with those it cannot spell."""

    label: str
    keys: Mapping[str, str]
    render: Callable[[str, dict[str, Any], list[str]], str]
    convert: Callable[[str, Any, list[str]], Any] = lambda name, value, notes: value
    extra: Callable[[Settings, dict[str, Any], list[str]], None] | None = None  # knobs spread over several keys
    handled: tuple[str, ...] = ()  # knobs `extra` deals with
    acts_as: Mapping[str, Any] = field(default_factory=dict)  # its behaviour for knobs it lacks
    reasons: Mapping[str, str] = field(default_factory=dict)
    stages: str = LLAMA_CPP_ORDER.replace(TAIL_FREE, "")  # stages its sampler order can name
    baseline: Mapping[str, Any] | None = None  # its defaults in its own terms: equal values are left out
    launch: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # adds how to load and run as samplerlab

    def values(self, settings: Settings) -> tuple[dict[str, Any], list[str]]:
        """The tool's keys and values for these settings, plus a note per knob it cannot express."""
        values: dict[str, Any] = {}
        notes: list[str] = []
        for knob in KNOBS:
            if knob.name in self.keys:
                values[self.keys[knob.name]] = self.convert(knob.name, settings[knob.name], notes)
            elif knob.name not in self.handled and self._differs(knob.name, settings):
                reason = self.reasons.get(knob.name, f"{self.label} has no equivalent")
                notes.append(f"{knob.name} = {_show(knob.name, settings[knob.name])}: {reason}")
        if self.extra is not None:
            self.extra(settings, values, notes)
        if self.baseline is not None:
            values = {key: value for key, value in values.items() if self.baseline.get(key, _MISSING) != value}
        return values, notes

    def _differs(self, name: str, settings: Settings) -> bool:
        behaviour = self.acts_as.get(name, KNOB_BY_NAME[name].default)
        if name == "samplers":
            return _effective_order(settings["samplers"], settings, self.stages) != _effective_order(
                behaviour, settings, self.stages
            )
        return settings[name] != behaviour and _matters(name, settings)


_MISSING = object()


def _matters(name: str, settings: Settings) -> bool:
    """A knob matters when its stage is in the order (adaptive-p runs only when named) and, if it only tunes
    others (dry_base, penalize_prompt...), once one of them is on."""
    knob = KNOB_BY_NAME[name]
    if knob.stage and knob.stage not in order_names(settings["samplers"]):
        return False
    return not knob.requires or any(settings[other] != KNOB_BY_NAME[other].neutral for other in knob.requires)


def _effective_order(letters: str, settings: Settings, stages: str) -> str:
    """Only the relative order of stages that are switched on and exist in the target changes anything."""
    return "".join(c for c in letters if c in stages and stage_enabled(order_names(c)[0], settings))


def _show(name: str, value: Any) -> str:
    if KNOB_BY_NAME[name].kind == "order":
        return ",".join(order_names(value))
    if isinstance(value, Mapping):
        return json.dumps({str(k): ("ban" if v == float("-inf") else v) for k, v in value.items()}, ensure_ascii=False)
    return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False)


def _llama_cpp_value(name: str, value: Any, notes: list[str], bias: Callable | None = None) -> Any:
    """llama.cpp's spelling: n_predict -1 for 'no limit', stage names without tail_free, bias pairs."""
    if name == "max_tokens":
        return -1 if value == 0 else value
    if name == "samplers":
        return [stage for stage in order_names(value) if stage != "tail_free"]
    if name == "logit_bias":
        return (bias or _bias_pairs)(value, notes)
    return list(value) if isinstance(value, tuple) else value


def _bias_pairs(bias: Mapping, notes: list[str]) -> list[list[Any]]:
    return [[token, False if value == float("-inf") else value] for token, value in bias.items()]


def _bias_object(bias: Mapping, notes: list[str]) -> dict[str, Any]:
    return {str(token): False if value == float("-inf") else value for token, value in bias.items()}


def _bias_ids_only(tool: str) -> Callable[[Mapping, list[str]], dict[int, float]]:
    """Tools that take token ids only: text keys need the model's tokenizer, so they become notes."""

    def convert(bias: Mapping, notes: list[str]) -> dict[int, float]:
        texts = [token for token in bias if isinstance(token, str)]
        if texts:
            notes.append(
                f"logit_bias for {json.dumps(texts, ensure_ascii=False)}: {tool} takes token ids only; "
                "look the ids up with the model's tokenizer"
            )
        return {token: value for token, value in bias.items() if isinstance(token, int)}

    return convert


def _open_webui_bias(bias: Mapping, notes: list[str]) -> str:
    """Open WebUI's "token:bias,..." text; its backend int()s each bias and clamps to ±100 (a ban is -100)."""
    ids = _bias_ids_only("Open WebUI")(bias, notes)
    rounded = {token: -100 if value == float("-inf") else round(value) for token, value in ids.items()}
    if any(value != float("-inf") and value != round(value) for value in ids.values()):
        notes.append("logit_bias: Open WebUI takes whole numbers; biases were rounded")
    return ",".join(f"{token}:{value}" for token, value in rounded.items())


def _open_webui_value(name: str, value: Any, notes: list[str]) -> Any:
    """Open WebUI decodes every stop string with Python's unicode_escape, so write them escaped."""
    if name == "stop":
        return [text.encode("unicode_escape").decode("ascii") for text in value]
    return _llama_cpp_value(name, value, notes, _open_webui_bias)


def _dump_json(values: dict[str, Any], notes: list[str]) -> str:
    document = {**values, **({UNSUPPORTED_KEY: notes} if notes else {})}
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _knob_flags(knob: Knob, value: Any) -> dict[str, Any]:
    """llama.cpp's flags for one load knob's value; a bare flag (--no-repack) maps to None."""
    names = (knob.llama_cli,) if isinstance(knob.llama_cli, str) else knob.llama_cli or ()
    if knob.kind == "bool":
        return {(name if value else f"--no-{name[2:]}"): None for name in names}
    if knob.name == "n_gpu_layers" and value < 0:
        value = "all"  # llama.cpp's -1 is "auto"; samplerlab's (llama-cpp-python's) is every layer
    return dict.fromkeys(names, value)


def load_flags(load: LoadSettings) -> dict[str, Any]:
    """llama.cpp's flags for samplerlab's load settings, derived from the load knobs."""
    return {flag: value for knob in LOAD_KNOBS for flag, value in _knob_flags(knob, load[knob.name]).items()}


def _flag_text(flag: str, value: Any) -> str:
    return flag if value is None else f"{flag} {shlex.quote(value) if isinstance(value, str) else repr(value)}"


def same_text_note() -> str:
    """Why the load flags are there, naming those the text depends on (``Knob.decides_text``)."""
    decisive = [
        flag for knob in LOAD_KNOBS if knob.decides_text for flag in _knob_flags(knob, LoadSettings()[knob.name])
    ]
    return (
        f"The load flags are samplerlab's default load settings (a preset carries none). For samplerlab's "
        f"exact text from the same model, prompt and seed keep {', '.join(decisive[:-1])} and {decisive[-1]}: "
        f"they change the numbers llama.cpp computes."
    )


_RUN_NOTE = f"{' '.join(LLAMA_SERVER_RUN_ARGS)} (a KV stream of its own per column, no reused prompt cache)"


def _cli_launch(values: dict[str, Any]) -> dict[str, Any]:
    return {**load_flags(LoadSettings()), **values}


def _server_launch(values: dict[str, Any]) -> dict[str, Any]:
    """The body turns prompt caching off; the command to start the server goes along as a note."""
    command = " ".join(
        [
            "llama-server -m model.gguf",
            *(_flag_text(flag, value) for flag, value in load_flags(LoadSettings()).items()),
            *LLAMA_SERVER_RUN_ARGS,
        ]
    )
    return {
        **values,
        "cache_prompt": False,
        LAUNCH_KEY: [
            command,
            same_text_note(),
            f"The text depends on {_RUN_NOTE} too; this body turns cache_prompt off.",
        ],
    }


def _comment_header(title: str, label: str, notes: list[str]) -> list[str]:
    lines = [f"# {title} for {label}, exported by samplerlab"]
    if notes:
        lines.append(f"# {label} cannot express these; they are left out:")
        lines.extend(f"#   {note}" for note in notes)
    return lines


def _cli_text(text: str) -> str:
    """llama.cpp processes escapes in reverse prompts and breakers, so write them escaped and shell-quoted."""
    escaped = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return shlex.quote(escaped)


def _render_llama_cli(title: str, values: dict[str, Any], notes: list[str]) -> str:
    arguments: list[str] = []
    for flag, value in values.items():
        if flag == "--sampling-seq":
            arguments.append(f"{flag} {value}")
        elif flag == "--logit-bias":
            arguments.extend(f"{flag} {token}{'+' if bias >= 0 else '-'}{abs(bias)!r}" for token, bias in value.items())
        elif isinstance(value, list):
            arguments.extend(f"{flag} {_cli_text(item)}" for item in value or ["none"])
        else:
            arguments.append(_flag_text(flag, value))
    lines = _comment_header(title, "llama-cli", notes) + [
        *(f"# {line}" for line in textwrap.wrap(same_text_note(), 100)),
        *(
            f"# {line}"
            for line in textwrap.wrap(
                f"llama-server takes the same flags, plus {_RUN_NOTE}, which the text depends on too.", 100
            )
        ),
        "llama-cli -m model.gguf" + "".join(f" \\\n  {a}" for a in arguments),
    ]
    return "\n".join(lines) + "\n"


def _llama_cli_value(name: str, value: Any, notes: list[str]) -> Any:
    if name == "samplers":
        return value.replace(TAIL_FREE, "")
    return _llama_cpp_value(name, value, notes, _bias_ids_only("llama-cli"))


def _ollama_quote(text: str) -> str:
    """Ollama's own quote() from parser/parser.go: the Modelfile syntax has no escapes."""
    if "\n" in text or text.startswith(" ") or text.endswith(" "):
        return f'"""{text}"""' if '"' in text else f'"{text}"'
    return text


def _render_ollama(title: str, values: dict[str, Any], notes: list[str]) -> str:
    lines = _comment_header(title, "Ollama", notes)
    for key, value in values.items():
        items = value if isinstance(value, list) else [value]
        lines.extend(
            f"PARAMETER {key} {_ollama_quote(item) if isinstance(item, str) else repr(item)}" for item in items
        )
    return "\n".join(lines) + "\n"


def _python_literal(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_python_literal(v)}" for k, v in value.items()) + "}"
    return 'float("-inf")' if value == float("-inf") else repr(value)


def _render_llama_cpp_python(title: str, values: dict[str, Any], notes: list[str]) -> str:
    window = values.pop("last_n_tokens_size", None)
    constructor = "" if window is None else f", last_n_tokens_size={window!r}"
    lines = _comment_header(title, "llama-cpp-python", notes) + [
        "from llama_cpp import Llama",
        "",
        f'llm = Llama(model_path="model.gguf"{constructor})',
        "output = llm.create_completion(",
        '    "Once upon a time",',
        *(f"    {key}={_python_literal(value)}," for key, value in values.items()),
        ")",
        'print(output["choices"][0]["text"])',
    ]
    return "\n".join(lines) + "\n"


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


def tidy(number: float) -> float:
    """Undo float noise from arithmetic ((0.5 + 0.9) / 2 is 0.7, not 0.7000000000000001)."""
    return float(f"{number:.12g}")


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


def _json_renderer(title: str, values: dict[str, Any], notes: list[str]) -> str:
    return _dump_json(values, notes)


def _llama_cpp_python_value(name: str, value: Any, notes: list[str]) -> Any:
    """max_tokens=0 already means 'no limit' to llama-cpp-python; bias keys must be token ids."""
    if name == "max_tokens":
        return value
    return _llama_cpp_value(name, value, notes, _bias_ids_only("llama-cpp-python"))


def _llama_cpp_python_extra(settings: Settings, values: dict[str, Any], notes: list[str]) -> None:
    """create_completion skips the temperature stage under Mirostat (llama.cpp applies it first)."""
    skipped = "temperature" not in mirostat_stages(settings.replace(samplers=LCP_ORDER))
    if settings["mirostat"] and skipped and settings["temperature"] != 1.0:
        notes.append(
            f"temperature = {settings['temperature']!r}: llama-cpp-python applies no temperature before Mirostat"
        )


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
