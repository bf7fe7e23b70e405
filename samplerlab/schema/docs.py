"""Documentation generated from the schema, so the README can never drift from the code."""

from __future__ import annotations

from typing import Any

from .params import (
    GROUPS,
    KNOBS,
    NAMED_ORDERS,
    SELECTING_STAGES,
    STAGE_BY_NAME,
    STAGES,
    Knob,
    Stage,
    coerce,
    order_names,
)


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


def order_table(lang: str = "en") -> str:
    """The sampler stages (letter, name, label) and the named orders, in ``lang``: what `knobs --orders` prints
    and the README quotes; the stages and their labels are the schema's (params.STAGES)."""
    header = "| letter | stage |" if lang == "en" else "| 文字 | ステージ |"
    rows = [header, "| --- | --- |"] + [f"| `{s.letter}` | {s.name} ({s.label_in(lang)}) |" for s in STAGES]
    named = [f"- `{name}`: `{letters}` = {' -> '.join(order_names(letters))}" for name, letters in NAMED_ORDERS.items()]
    pickers = [_picker_line(STAGE_BY_NAME[name], lang) for name in sorted(SELECTING_STAGES)]
    return "\n".join(rows + [""] + named + pickers)


def _picker_line(stage: Stage, lang: str) -> str:
    """What a stage that picks the token itself does to the order (params.SELECTING_STAGES)."""
    if lang == "en":
        return (
            f"- `{stage.letter}` ({stage.label}) picks the token itself: as in llama.cpp it runs last wherever the "
            f"order names it, in place of `dist`, and only when named; Mirostat replaces it."
        )
    return (
        f"- `{stage.letter}`（{stage.label_ja}）はトークンを自分で選びます。llama.cpp と同じく、順序のどこに書いても"
        f"最後に `dist` の代わりに動き、書いたときだけ動きます。Mirostat を使うとそれに置き換わります。"
    )
