"""The Compare tab's layout: the prompt panel, the why panel and one column per comparison, wired to
``callbacks.Callbacks``."""

from __future__ import annotations

import random
from typing import Any

import gradio as gr

from ..schema.params import KNOB_BY_NAME
from ..words import i18n
from ..words.i18n import t
from .callbacks import MAX_COLUMNS, Callbacks
from .conversation_panel import conversation_panel
from .labels import Labels
from .run_views import QUIET, draw_charts, retirement
from .understand_panel import branch_row
from .views import categories
from .widgets import COLUMN_KNOBS, RUN_KNOBS, describe_columns, knob_widget

DEFAULT_COLUMNS = 3
RUN_START = {"max_tokens": 128}  # a UI choice, not a default: the app starts shorter than the schema's 256
# so a first run is quick; the CLI and the API (compare_api) take the schema's defaults


def compare_panel(calls: Callbacks, labels: Labels, lang: str, lang_state: gr.State):
    with gr.Row():
        with gr.Column(scale=3):
            mode = labels.add(
                gr.Radio(["chat", "raw"], value="chat", label=t("mode", lang), info=t("mode_info", lang)),
                "mode",
                "mode_info",
            )
            system = labels.add(gr.Textbox(label=t("system", lang), lines=1), "system")
            prompt = labels.add(
                gr.Textbox(
                    label=t("user", lang),
                    lines=3,
                    elem_id="prompt",
                    value="Write a short poem praising light-emitting diodes.",
                ),
                "user",
            )
        with gr.Column(scale=1):
            with gr.Row():  # first beside the prompt, not under the panels below it: in view at 1440×900
                run = labels.add(gr.Button(t("run", lang), variant="primary", elem_id="run", min_width=80), "run")
                stop_button = labels.add(
                    gr.Button(t("stop_run", lang), variant="stop", elem_id="stop", min_width=80), "stop_run"
                )
            run_widgets = [
                labels.add(
                    knob_widget(k, lang, RUN_START.get(k.name), f"run-{k.name.replace('_', '-')}"),
                    None,
                    lambda lang_, k=k: i18n.knob_info(k, lang_),
                )
                for k in RUN_KNOBS
            ]
            seed = run_widgets[RUN_KNOBS.index(KNOB_BY_NAME["seed"])]
            dice = labels.add(gr.Button(t("dice", lang), size="sm", elem_id="dice"), "dice")
            count = labels.add(
                gr.Slider(
                    2, MAX_COLUMNS, value=DEFAULT_COLUMNS, step=1, label=t("columns", lang), elem_id="column-count"
                ),
                "columns",
            )
    chat, policy = conversation_panel(calls.bench, labels, lang, lang_state, prompt, MAX_COLUMNS)
    prefix = labels.add(
        gr.Textbox(label=t("prefix", lang), info=t("prefix_info", lang), lines=1, elem_id="prefix"),
        "prefix",
        "prefix_info",
    )
    why = _why_panel(calls, labels, lang, lang_state)  # above the columns: they are long with their knobs
    columns = []
    with gr.Row(equal_height=False):
        for index in range(MAX_COLUMNS):
            with gr.Column(visible=index < DEFAULT_COLUMNS, min_width=280, elem_id=f"column-{index}") as box:
                columns.append({"box": box, **_column_layout(index, lang, calls, labels, lang_state)})
    knob_inputs = [w for c in columns for w in c["knobs"]]
    count.change(
        lambda n: [gr.update(visible=i < int(n)) for i in range(MAX_COLUMNS)],
        count,
        [c["box"] for c in columns],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    dice.click(lambda: random.randrange(2**31), None, seed, queue=False, api_visibility="private")
    presets = [c["preset"] for c in columns]  # last: Callbacks._run names the columns after them
    run_inputs = [lang_state, mode, system, prompt, chat, policy, prefix, count, *run_widgets, *knob_inputs, *presets]
    run_outputs = [*(c["output"] for c in columns), *(c["spans"] for c in columns), *(c["stats"] for c in columns)]
    charts = [chart for c in columns for chart in (c["chart"], c["entropy_chart"])]
    retire, retire_in, retire_out = retirement(columns, why[-1], lang_state)  # every panel of the last run
    # Runs start at once (concurrency_limit None) and take the session's one place first; the model's
    # lock orders them, so a second run of one session is refused instead of queueing (Workbench.session_run).
    ran = run.click(retire, retire_in, retire_out, **QUIET).then(
        calls.run, run_inputs, run_outputs, concurrency_limit=None, api_visibility="private"
    )
    draw_charts(ran, calls, lang_state, charts)
    for index, column in enumerate(columns):
        branched = (
            column["branch_button"]
            .click(
                _branch_handler(calls, index),
                [column["token_index"], column["branch_choice"]],
                prefix,
                queue=False,
                api_visibility="private",
            )
            .then(retire, retire_in, retire_out, **QUIET)
            .then(calls.run, run_inputs, run_outputs, concurrency_limit=None, api_visibility="private")
        )
        draw_charts(branched, calls, lang_state, charts)
        gr.on(
            [k.change for k in column["knobs"]],
            _what_if_handler(calls, index),
            [lang_state, *column["knobs"]],
            column["what_if"],
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
    stop_button.click(calls.stop, None, None, queue=False, api_visibility="private")
    notes = [c["note"] for c in columns]
    gr.on(
        [k.change for k in knob_inputs] + [count.change],
        describe_columns,
        [lang_state, count, *knob_inputs],
        [*notes, *knob_inputs],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    columns[0]["retire"] = (retire, retire_in, retire_out)  # for build_app: a model load retires them too
    return run_inputs, run_outputs, columns, count, why


def _why_panel(calls: Callbacks, labels: Labels, lang: str, lang_state: gr.State) -> list[Any]:
    """Two columns of the last run and a button: where and why they part."""
    choices = [str(i + 1) for i in range(MAX_COLUMNS)]
    with gr.Row(equal_height=True):
        a = labels.add(gr.Dropdown(choices, value="1", label=t("why_a", lang), elem_id="why-a", min_width=100), "why_a")
        b = labels.add(gr.Dropdown(choices, value="2", label=t("why_b", lang), elem_id="why-b", min_width=100), "why_b")
        button = labels.add(gr.Button(t("why_button", lang), elem_id="why-button", scale=2), "why_button")
    shown = gr.HTML(elem_id="why")
    button.click(calls.why, [lang_state, a, b], shown, queue=False, api_visibility="private")
    return [a, b, shown]


def _branch_handler(calls: Callbacks, index: int):
    def handler(request: gr.Request, token_index: int, choice: str) -> str:
        return calls.branch(index, token_index, choice, request)

    return handler


def _what_if_handler(calls: Callbacks, index: int):
    def handler(request: gr.Request, lang_: str, *raw: Any) -> str:
        return calls.what_if(index, lang_, *raw, request=request)

    return handler


def _column_layout(index: int, lang: str, calls: Callbacks, labels: Labels, lang_state: gr.State) -> dict:
    labels.add(
        gr.Markdown(f"### {t('column', lang)} {index + 1}"), lambda lang_: f"### {t('column', lang_)} {index + 1}"
    )
    initial = calls.initial_preset(index)
    preset = labels.add(
        gr.Dropdown(
            calls.preset_names(),
            value=initial.name if initial else None,
            label=t("preset", lang),
            elem_id=f"preset-{index}",
        ),
        "preset",
    )
    view = labels.add(
        gr.Checkbox(False, label=t("token_view", lang), info=t("token_view_info", lang), elem_id=f"token-view-{index}"),
        "token_view",
        "token_view_info",
    )
    output = labels.add(
        gr.Textbox(label=t("output", lang), lines=10, max_lines=30, interactive=False, elem_id=f"output-{index}"),
        "output",
    )
    spans = labels.add(
        gr.HighlightedText(
            label=t("output", lang),
            color_map=categories(lang),
            show_legend=True,
            combine_adjacent=False,
            show_inline_category=False,
            visible=False,
            elem_id=f"tokens-{index}",
        ),
        "output",
    )
    stats = gr.Markdown(elem_id=f"stats-{index}")
    chart, entropy_chart = (
        gr.LinePlot(
            x="token",
            y="value",
            color="series",
            title=t(title, lang),
            color_title=t("chart_series", lang),
            show_label=False,
            height=height,
            visible=False,
            elem_id=elem_id,
        )  # a label would hide the legend
        for title, height, elem_id in (
            ("chart_p_title", 240, f"chart-{index}"),
            ("chart_entropy_title", 200, f"entropy-chart-{index}"),
        )
    )
    if index:
        why_here = labels.add(gr.Button(t("why_here", lang), size="sm", elem_id=f"why-here-{index}"), "why_here")
        why_shown = gr.HTML(elem_id=f"why-{index}")

        def why_against_first(lang_: str, request: gr.Request) -> str:
            return calls.why(lang_, "1", str(index + 1), request)

        why_here.click(why_against_first, lang_state, why_shown, queue=False, api_visibility="private")
    else:
        why_shown = None
    candidates = gr.HTML(t("pick_a_token", lang), visible=False, elem_id=f"candidates-{index}")  # run_views words it
    understanding = branch_row(lang, index)  # beside the token view it acts on
    labels.add(understanding["branch_choice"], "branch_choice")
    labels.add(understanding["branch_button"], "branch")
    note = gr.Markdown()
    knobs = []
    for group in dict.fromkeys(k.group for k in COLUMN_KNOBS):
        with labels.add(
            gr.Accordion(i18n.group_label(group, lang), open=group in ("truncation", "temperature")),
            lambda lang_, g=group: i18n.group_label(g, lang_),
        ):
            for knob in (k for k in COLUMN_KNOBS if k.group == group):
                value = initial.settings[knob.name] if initial else None
                knobs.append(
                    labels.add(
                        knob_widget(knob, lang, value, f"{knob.name}-{index}"),
                        None,
                        lambda lang_, k=knob: i18n.knob_info(k, lang_),
                    )
                )
    view.change(
        lambda on: [gr.update(visible=not on), gr.update(visible=on), gr.update(visible=on)],
        view,
        [output, spans, candidates],
        queue=False,
        api_visibility="private",
    )

    def show_candidates(lang_: str, event: gr.SelectData, request: gr.Request) -> list[Any]:
        return calls.select_token(index, lang_, event, request)

    spans.select(
        show_candidates,
        lang_state,
        [candidates, understanding["branch_row"], understanding["branch_choice"], understanding["token_index"]],
        queue=False,
        api_visibility="private",
    )
    preset.input(calls.preset_values, preset, knobs, queue=False, api_visibility="private")
    return {
        "output": output,
        "spans": spans,
        "stats": stats,
        "note": note,
        "knobs": knobs,
        "preset": preset,
        "chart": chart,
        "entropy_chart": entropy_chart,
        "why_shown": why_shown,
        "candidates": candidates,
        **understanding,
    }
