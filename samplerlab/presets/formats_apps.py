"""Exports for the apps over llama.cpp (formats.py): Ollama Modelfile PARAMETER lines, Open WebUI model
params and llama-cpp-python create_completion(...) calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..schema.chains import mirostat_stages
from ..schema.params import Settings, spelled
from .formats_common import LCP_ORDER, _comment_header
from .formats_llama_cpp import _bias_ids_only, _llama_cpp_value

OLLAMA_KEYS = spelled("ollama")
OPEN_WEBUI_KEYS = spelled("open_webui")
LLAMA_CPP_PYTHON_KEYS = spelled("llama_cpp_python")  # repeat_last_n goes to Llama(...), the rest to the call


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
