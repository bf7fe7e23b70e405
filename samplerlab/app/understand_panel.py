"""The Compare tab's what-if and branching: library calls behind a few widgets per column.

What-if: after a run, moving a column's sliders replays that column's last text under the new
settings at once (``whatif.replay_record`` on the candidates every run keeps; no model, no queue).
Branching: clicking a token in the token view offers the model's alternatives there; picking one
fills the forced start of every reply (``Request.prefix``) and runs all columns from it.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..report.tokens import is_partial, token_repr
from ..runs.metrics import mean_probability, shown
from ..runs.results import column_record
from ..schema.params import Settings, SettingsError
from ..understand.branching import branch_prefix
from ..understand.whatif import WhatIfError, replay_record
from ..words.i18n import t
from .widgets import RUN_KNOBS
from .workbench import Workbench

RUN_LEVEL = frozenset(k.name for k in RUN_KNOBS)


def what_if_line(bench: Workbench, session: str, column: int, settings: Settings, lang: str) -> str:
    """One line: what these settings would have done to the column's last text."""
    run = bench.last(session)
    if column >= len(run.columns) or not run.columns[column].tokens:
        return ""
    result = run.columns[column]
    # Only the column's own knobs: the run-level ones (seed, max_tokens, stop) are not the column's widgets, so
    # ``settings`` holds their defaults, and a default max_tokens read as a change gave a line with no change
    changes = {
        name: value for name, value in settings.items() if value != result.settings[name] and name not in RUN_LEVEL
    }
    if not changes:
        return ""
    try:
        what = replay_record(
            column_record(result, keep=64), changes, None, getattr(getattr(bench.backend, "load", None), "n_ctx", 2048)
        )
    except (WhatIfError, SettingsError, ValueError) as error:
        return f"_{error}_"
    then = shown(mean_probability([t.prob for t in result.tokens]))
    return t("what_if", lang).format(
        n=len(what.tokens),
        impossible=what.impossible,
        then=then,
        now=shown(what.mean_prob),
        survivors=shown(what.mean_survivors, "{:.1f}"),
        approx=t("approx_note", lang).format(n=what.approximate) if what.approximate else "",
    )


def alternatives(bench: Workbench, session: str, column: int, index: int) -> tuple[list[tuple[str, str]], int]:
    """The model's raw alternatives at token ``index`` of the column's last run, most likely first, as
    (label, text) choices: the label quotes the text (a leading space shows) and gives its raw p. Also how many
    were left out because they are only bytes of a character, which a text prefix cannot hold."""
    run = bench.last(session)
    if column >= len(run.columns) or not 0 <= index < len(run.columns[column].tokens):
        return [], 0
    before = run.columns[column].tokens[index].before
    whole = [c for c in before if not is_partial(c.text)]
    return [(f"{token_repr(c.text)}  p {c.prob:.3f}", c.text) for c in whole], len(before) - len(whole)


def branch(bench: Workbench, session: str, column: int, index: int, choice: str) -> str:
    """The prefix that continues every column from token ``index`` of ``column``, with ``choice`` there."""
    run = bench.last(session)
    if column >= len(run.columns):
        raise gr.Error("run a comparison first, then pick a token", print_exception=False)
    earlier = run.request.prefix if run.request is not None else ""
    try:
        return branch_prefix([token.text for token in run.columns[column].tokens], index, choice, earlier)
    except ValueError as error:
        raise gr.Error(str(error), print_exception=False) from None


def branch_row(lang: str, index: int) -> dict[str, Any]:
    """Per column: the alternatives of the clicked token and the button that branches from it."""
    with gr.Row(visible=False) as row:
        choice = gr.Dropdown(
            [], label=t("branch_choice", lang), allow_custom_value=True, scale=3, elem_id=f"branch-choice-{index}"
        )
        button = gr.Button(t("branch", lang), size="sm", scale=1, elem_id=f"branch-{index}")
    return {
        "branch_row": row,
        "branch_choice": choice,
        "branch_button": button,
        "token_index": gr.State(-1),
        "what_if": gr.Markdown(elem_id=f"what-if-{index}"),
    }
