"""Knob widgets built from the schema, and the translation between widget values and Settings."""

from __future__ import annotations

import json
import math
from typing import Any

import gradio as gr

from ..schema.assignments import unescape
from ..schema.chains import inactive_knobs
from ..schema.params import KNOB_BY_NAME, KNOBS, NAMED_ORDERS, RUN_LEVEL_KNOBS, Knob, Settings, SettingsError
from ..words import i18n
from ..words.i18n import t

COLUMN_KNOBS: tuple[Knob, ...] = tuple(k for k in KNOBS if k.name not in RUN_LEVEL_KNOBS)
RUN_KNOBS: tuple[Knob, ...] = tuple(KNOB_BY_NAME[name] for name in RUN_LEVEL_KNOBS)


def knob_widget(knob: Knob, lang: str, value: Any = None, elem_id: str | None = None) -> gr.components.Component:
    """One input for one knob, chosen by its kind; its label is the knob's name as llama.cpp spells it."""
    value = knob.default if value is None else value
    common = {"label": knob.name, "info": i18n.knob_info(knob, lang), "elem_id": elem_id}
    if knob.kind == "seed":  # a slider cannot hit one number among four billion
        return gr.Number(value=value, precision=0, minimum=knob.minimum, maximum=knob.maximum, **common)
    if knob.kind in ("float", "int"):
        low, high = knob.slider_range()
        return gr.Slider(low, high, value=value, step=knob.step or 0.01, **common)
    if knob.kind == "bool":
        return gr.Checkbox(value=value, **common)
    if knob.kind == "choice":
        return gr.Radio(list(knob.choices), value=value, **common)
    if knob.kind == "order":
        return gr.Dropdown(list(NAMED_ORDERS.values()), value=value, allow_custom_value=True, **common)
    return gr.Textbox(value=to_text(knob, value), max_lines=3, **common)


def to_text(knob: Knob, value: Any) -> str:
    """Lists and token biases as JSON, the one notation every tool's users can read."""
    if knob.kind == "bias":
        return json.dumps(
            {str(k): (False if v == -math.inf else v) for k, v in dict(value).items()}, ensure_ascii=False
        )
    return json.dumps(list(value), ensure_ascii=False)


JSON_EXAMPLES = {"bias": '{"15339": -5, "Hello": false}', "strings": '["\\n", ":"]'}


def from_widget(knob: Knob, raw: Any) -> Any:
    if knob.kind == "strings" and not (raw or "").lstrip().startswith("["):
        return [unescape(knob, line) for line in (raw or "").splitlines() if line]  # one per line, \n escapes
    if knob.kind in ("strings", "bias"):
        try:
            return json.loads(raw or ("{}" if knob.kind == "bias" else "[]"))
        except json.JSONDecodeError:
            raise SettingsError(
                f"{knob.name}: expected JSON, e.g. {JSON_EXAMPLES[knob.kind]}"
                + (", or one string per line" if knob.kind == "strings" else "")
            ) from None
    if knob.kind in ("int", "seed") and isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return raw


def column_settings(raw_values: list[Any], run_level: dict[str, Any], index: int) -> Settings:
    values = {knob.name: from_widget(knob, raw) for knob, raw in zip(COLUMN_KNOBS, raw_values)}
    return Settings({**values, **run_level}, source=f"column {index + 1}")


def widget_values(settings: Settings) -> list[Any]:
    return [
        settings[k.name] if k.kind not in ("strings", "bias") else to_text(k, settings[k.name]) for k in COLUMN_KNOBS
    ]


def split_columns(flat: list[Any]) -> list[list[Any]]:
    size = len(COLUMN_KNOBS)
    return [flat[i * size : (i + 1) * size] for i in range(len(flat) // size)]


def run_level_values(*raw_values: Any) -> dict[str, Any]:
    """The prompt panel's widgets (one per run-level knob, in schema order) as knob values."""
    return {knob.name: from_widget(knob, raw) for knob, raw in zip(RUN_KNOBS, raw_values)}


def describe_columns(lang: str, count: int, *flat: Any) -> list[Any]:
    """Per column: which knobs differ from column 1 and which have no effect, as text and as marks."""
    notes, marks = [], []
    columns = split_columns(list(flat))
    first = _safe_values(columns[0])
    for index, raw in enumerate(columns):
        values = _safe_values(raw)
        differs = [k.name for k in COLUMN_KNOBS if index and values.get(k.name) != first.get(k.name)]
        inactive = _inactive(values)
        notes.append(_note(differs, inactive, first, values, lang))
        marks += [
            gr.update(
                elem_classes=(["sl-differs"] if k.name in differs else [])
                + (["sl-inactive"] if k.name in inactive else [])
            )
            for k in COLUMN_KNOBS
        ]
    return notes + marks


def _safe_values(raw: list[Any]) -> dict[str, Any]:
    try:
        return dict(column_settings(raw, {}, 0))
    except SettingsError:
        return {k.name: v for k, v in zip(COLUMN_KNOBS, raw)}


def _inactive(values: dict[str, Any]) -> dict[str, tuple[str, str]]:
    try:
        return inactive_knobs(Settings(values))
    except SettingsError:
        return {}


def _note(differs: list[str], inactive: dict, first: dict, values: dict, lang: str) -> str:
    lines = []
    if differs:
        changes = ", ".join(f"**{n}** {values[n]!r} ({first[n]!r})" for n in differs)
        lines.append(f"{t('differs', lang)}: {changes}")
    for name, (kind, detail) in inactive.items():
        if values.get(name) != KNOB_BY_NAME[name].default:  # only knobs someone moved deserve a warning
            lines.append(f"*{name}: {i18n.inactive_reason(kind, detail, lang)}*")
    return "\n\n".join(lines)
