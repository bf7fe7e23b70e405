"""The model line and the model panel: load another model by path, from Hugging Face, or the embedded one."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..schema.load_settings import LOAD_KNOBS, LoadSettings
from ..words import i18n
from ..words.i18n import t
from .callbacks import Callbacks
from .labels import Labels
from .widgets import knob_widget


def model_panel(calls: Callbacks, labels: Labels, lang: str, shared: bool, lang_state: gr.State) -> tuple[Any, Any]:
    info = labels.add(gr.Markdown(calls.model_markdown(lang), elem_id="model-info"), calls.model_markdown)
    with labels.add(gr.Accordion(t("model", lang), open=False, elem_id="model-panel"), "model"):
        with gr.Row():
            path = labels.add(
                gr.Textbox(
                    label=t("model_path", lang),
                    interactive=True,
                    info=t("paths_off", lang) if shared else None,
                    elem_id="model-path",
                ),
                "model_path",
            )
            hf_repo = labels.add(gr.Textbox(label=t("hf_repo", lang), interactive=not shared), "hf_repo")
            hf_file = labels.add(gr.Textbox(label=t("hf_file", lang), interactive=not shared), "hf_file")
        with labels.add(gr.Accordion(t("load_settings", lang), open=False), "load_settings"):
            loaded = calls.bench.model.load if calls.bench.model is not None else LoadSettings()
            load_widgets = [
                labels.add(knob_widget(k, lang, loaded[k.name]), None, lambda lang_, k=k: i18n.knob_info(k, lang_))
                for k in LOAD_KNOBS
            ]
            for widget in load_widgets if shared or calls.bench.model is None else ():
                widget.interactive = False  # shared: the model loads as the command line said
        with gr.Row():
            load = labels.add(gr.Button(t("load", lang), variant="secondary", elem_id="load-model"), "load")
            embedded = labels.add(gr.Button(t("load_embedded", lang), elem_id="load-embedded"), "load_embedded")
    # Started at once, like every event that uses the model: its first step refuses a session that
    # already has one (Workbench.session_run), so none can wait in the queue ahead of other visitors.
    loaded_local = load.click(
        calls.load_model,
        [lang_state, path, hf_repo, hf_file, *load_widgets],
        info,
        concurrency_limit=None,
        api_visibility="private",
    )

    def load_embedded(request: gr.Request, lang_: str, *values: Any) -> str:
        return calls.load_model(request, lang_, "", "", "", *values)

    loaded_embedded = embedded.click(
        load_embedded, [lang_state, *load_widgets], info, concurrency_limit=None, api_visibility="private"
    )
    return info, (loaded_local, loaded_embedded)
