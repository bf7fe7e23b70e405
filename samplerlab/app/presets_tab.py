"""The Presets tab's layout: save a column as a preset, upload one, show and export one."""

from __future__ import annotations

import gradio as gr

from ..words.i18n import t
from .callbacks import Callbacks
from .compare_tab import DEFAULT_COLUMNS
from .labels import Labels


def presets_panel(
    calls: Callbacks, labels: Labels, lang: str, columns: list[dict], lang_state: gr.State, writable: bool = True
) -> tuple[gr.Dropdown, gr.Dropdown, gr.Markdown]:
    """``writable`` False (shared, --share-writes off): no preset upload is offered, since none would be kept.
    Returns the shown preset's dropdown, the column to save from and the shown preset's description."""
    from ..presets.formats import EXPORT_FORMATS

    status = labels.note(gr.Markdown(elem_id="preset-status"))
    with gr.Row():
        with gr.Column():
            source = labels.add(
                gr.Dropdown([str(i + 1) for i in range(DEFAULT_COLUMNS)], value="1", label=t("save_from", lang)),
                "save_from",
            )
            name = labels.add(gr.Textbox(label=t("preset_name", lang), elem_id="preset-name"), "preset_name")
            description = labels.add(gr.Textbox(label=t("preset_description", lang)), "preset_description")
            overwrite = labels.add(gr.Checkbox(False, label=t("overwrite", lang)), "overwrite")
            save = labels.add(gr.Button(t("save", lang), elem_id="save-preset"), "save")
            upload = labels.add(
                gr.File(
                    label=t("upload", lang),
                    file_types=[".yaml", ".yml"],
                    type="filepath",
                    elem_id="upload-preset",
                    visible=writable,
                ),
                "upload",
            )
        with gr.Column():
            chosen = labels.add(
                gr.Dropdown(calls.preset_names(), label=t("show_preset", lang), elem_id="preset-show"), "show_preset"
            )
            about = gr.Markdown(elem_id="preset-about")  # the description in the page's language
            yaml_view = labels.add(
                gr.Code(language="yaml", interactive=False, label=t("preset_file", lang)), "preset_file"
            )
            download = labels.add(gr.File(label=t("download", lang), interactive=False), "download")
            target = labels.add(
                gr.Dropdown(list(EXPORT_FORMATS), value=list(EXPORT_FORMATS)[0], label=t("export_to", lang)),
                "export_to",
            )
            exported = labels.add(gr.Code(interactive=False, label=t("exported", lang)), "exported")
    all_knobs = [w for c in columns for w in c["knobs"]]
    dropdowns = [c["preset"] for c in columns]
    save.click(
        calls.save_column_preset,
        [lang_state, source, name, description, overwrite, *all_knobs],
        [status, chosen, *dropdowns],
        api_visibility="private",
    )
    upload.upload(
        calls.upload_preset, [upload, overwrite, lang_state], [status, chosen, *dropdowns], api_name="upload_preset"
    )
    gr.on(
        [chosen.change, target.change],
        calls.show_preset,
        [chosen, target, lang_state],
        [about, yaml_view, download, exported],
        api_visibility="private",
    )
    return chosen, source, about
