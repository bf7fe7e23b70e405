"""What every export target shares (formats.py): the Target (a tool's keys, how its values are written and
what it cannot express), the notes' keys and comment header, and the labels and orders the families use."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..schema.params import (
    DEFAULT_ORDER,
    KNOB_BY_NAME,
    KNOBS,
    NAMED_ORDERS,
    STAGE_BY_NAME,
    Settings,
    order_names,
    stage_enabled,
)
from .store import PresetError

UNSUPPORTED_KEY = "_samplerlab_unsupported"
LAUNCH_KEY = "_samplerlab_launch"  # how to start llama-server as samplerlab runs a column
NO_TAIL_FREE = "llama.cpp removed tail-free sampling; only samplerlab runs it"
TGW_LABEL, ST_LABEL = "text-generation-webui", "SillyTavern"
LLAMA_CPP_ORDER, LCP_ORDER = NAMED_ORDERS[DEFAULT_ORDER], NAMED_ORDERS["llama-cpp-python"]
TAIL_FREE = STAGE_BY_NAME["tail_free"].letter  # a stage only samplerlab still runs
ADAPTIVE_P = STAGE_BY_NAME["adaptive_p"].letter  # llama.cpp runs adaptive-p only when the order names it


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


def _dump_json(values: dict[str, Any], notes: list[str]) -> str:
    document = {**values, **({UNSUPPORTED_KEY: notes} if notes else {})}
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _comment_header(title: str, label: str, notes: list[str]) -> list[str]:
    lines = [f"# {title} for {label}, exported by samplerlab"]
    if notes:
        lines.append(f"# {label} cannot express these; they are left out:")
        lines.extend(f"#   {note}" for note in notes)
    return lines


def tidy(number: float) -> float:
    """Undo float noise from arithmetic ((0.5 + 0.9) / 2 is 0.7, not 0.7000000000000001)."""
    return float(f"{number:.12g}")


def _json_renderer(title: str, values: dict[str, Any], notes: list[str]) -> str:
    return _dump_json(values, notes)
