"""Documentation generated from the schema, so the README can never drift from the code."""

from __future__ import annotations

from typing import Any

from .params import GROUPS, KNOBS, NAMED_ORDERS, SELECTING_STAGES, STAGE_BY_NAME, STAGES, Knob, coerce, order_names


def format_value(knob: Knob, value: Any) -> str:
    value = coerce(knob, value)
    if knob.kind == "order":
        return value
    if knob.kind == "strings":
        return ", ".join(repr(v) for v in value) or "(none)"
    if knob.kind == "bias":
        return "{}" if not value else repr(dict(value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def knob_table(lang: str = "en", knobs: tuple[Knob, ...] = KNOBS) -> str:
    """A Markdown table of knobs: name, group, llama.cpp default, the value that switches it off, explanation."""
    header = (
        "| knob | group | default | off at | what it does |"
        if lang == "en"
        else "| 設定 | グループ | 既定値 | 無効になる値 | 説明 |"
    )
    rows = [header, "| --- | --- | --- | --- | --- |"]
    for knob in knobs:
        group = GROUPS[knob.group][0 if lang == "en" else 1]
        neutral = "" if knob.neutral is None else format_value(knob, knob.neutral)
        explanation = knob.help_en if lang == "en" else knob.help_ja
        default = format_value(knob, knob.default).replace("\n", "\\n").replace("|", "\\|")
        rows.append(
            f"| `{knob.name}` | {group} | `{default}` | {'`' + neutral + '`' if neutral else ''} | {explanation} |"
        )
    return "\n".join(rows)


def order_table() -> str:
    rows = ["| letter | stage |", "| --- | --- |"] + [f"| `{s.letter}` | {s.name} ({s.label}) |" for s in STAGES]
    named = [f"- `{name}`: `{letters}` = {' -> '.join(order_names(letters))}" for name, letters in NAMED_ORDERS.items()]
    pickers = [
        f"- `{STAGE_BY_NAME[name].letter}` ({STAGE_BY_NAME[name].label}) picks the token itself: as in llama.cpp "
        f"it runs last wherever the order names it, in place of `dist`, and only when named; Mirostat "
        f"replaces it."
        for name in sorted(SELECTING_STAGES)
    ]
    return "\n".join(rows + [""] + named + pickers)
