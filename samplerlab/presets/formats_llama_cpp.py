"""Exports for llama.cpp's own tools (formats.py): llama-cli flags, llama-server's /completion body and the
OpenAI-compatible API, with how samplerlab loads a model and runs a column (load_flags, the launch lines)."""

from __future__ import annotations

import json
import shlex
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

from ..schema.load_settings import LOAD_KNOBS, LoadSettings
from ..schema.params import KNOBS, Knob, order_names, spelled
from .formats_common import LAUNCH_KEY, TAIL_FREE, _comment_header

# A column in llama-server's terms (engine.py: its own KV stream, kv_unified off; the prompt evaluated
# afresh). For N columns at once: --parallel N and N times --ctx-size.
LLAMA_SERVER_RUN_ARGS = ("--parallel 1", "--no-kv-unified", "--no-cache-prompt")

# -- key tables (samplerlab knob -> the tool's key) ------------------------------------------

# a sampling knob has one flag (only load knobs set several)
LLAMA_CLI_FLAGS = {k.name: k.llama_cli for k in KNOBS if isinstance(k.llama_cli, str) and k.llama_cli}
LLAMA_SERVER_KEYS = {k.name: k.llama_server for k in KNOBS if k.llama_server}
OPENAI_KEYS = {**LLAMA_SERVER_KEYS, **spelled("openai")}


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
