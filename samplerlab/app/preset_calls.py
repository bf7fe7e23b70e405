"""The Presets tab's callbacks (mixed into ``callbacks.Callbacks``): list, show, save and upload presets,
and the preset API for scripts."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from typing import Any

import gradio as gr

from ..files.safe_yaml import JsonTooDeep, load_json
from ..presets.formats import export_preset
from ..presets.store import Preset, PresetError, file_stem, list_presets, load_preset, parse_preset_text, preset_yaml
from ..schema.params import Settings
from ..words.i18n import t
from .widgets import column_settings, split_columns, widget_values
from .workbench import USER_ERRORS, Workbench

MAX_UPLOAD = 64 * 1024  # bytes; presets are a few hundred
INITIAL_PRESETS = (
    "llama.cpp defaults",
    "greedy",
    "min-p creative",
    "mirostat 2",
    "xtc + dry creative writing",
    "factual low temperature",
)


class PresetCalls:
    """Callbacks on the presets folder; ``error`` and ``model_markdown`` are ``Callbacks``'."""

    bench: Workbench
    max_columns: int
    error: Callable[..., gr.Error]
    model_markdown: Callable[[str], str]

    def preset_names(self) -> list[str]:
        return [p.name for p in list_presets(self.bench.presets_dir)[0]]

    def initial_preset(self, index: int):
        """The first columns start as the LED-poem guide's comparison: defaults, greedy, creative."""
        names = self.preset_names()
        wanted = INITIAL_PRESETS[index] if index < len(INITIAL_PRESETS) else INITIAL_PRESETS[0]
        return load_preset(wanted, self.bench.presets_dir) if wanted in names else None

    def preset_values(self, name: str) -> list[Any]:
        try:
            return widget_values(load_preset(name, self.bench.presets_dir).settings)
        except USER_ERRORS as error:
            raise self.error(error) from None

    def refresh(self, lang: str) -> list[Any]:
        """What a page shows of the shared state, current when the page (re)loads."""
        return [self.model_markdown(lang), *self._refreshed("", None)[1:]]

    def _refreshed(self, message: str, selected: str | None) -> list[Any]:
        names = self.preset_names()
        return [
            message,
            gr.update(choices=names, value=selected),
            *(gr.update(choices=names) for _ in range(self.max_columns)),
        ]

    def save_column_preset(
        self, lang: str, source: str, name: str, description: str, overwrite: bool, *flat: Any
    ) -> list[Any]:
        try:
            settings = column_settings(split_columns(list(flat))[int(source) - 1], {}, int(source) - 1)
            preset = Preset(
                name=name.strip(), description=description.strip(), settings=settings, builtin=False, path=None
            )
            self.bench.save_preset(preset, overwrite=bool(overwrite))
        except (*USER_ERRORS, ValueError) as error:
            return self._refreshed(f"✗ {self.bench.message(error, lang)}", None)
        return self._refreshed(t("saved_preset", lang).format(name=preset.name), preset.name)

    def upload_preset(self, path: str | None, overwrite: bool, lang: str = "en") -> list[Any]:
        """A browser upload is hostile: size-checked, parsed safely, and saved under its own name only."""
        try:
            if not path or os.path.getsize(path) > MAX_UPLOAD:
                raise PresetError(f"upload: expected a preset file of at most {MAX_UPLOAD // 1024} KiB")
            with open(path, "rb") as handle:
                text = handle.read(MAX_UPLOAD + 1).decode("utf-8")
            preset = parse_preset_text(text, source="uploaded file")
            self.bench.save_preset(preset, overwrite=bool(overwrite))
        except (*USER_ERRORS, UnicodeDecodeError, OSError) as error:
            return self._refreshed(f"✗ {self.bench.message(error, lang)}", None)
        return self._refreshed(t("uploaded_preset", lang).format(name=preset.name), preset.name)

    def show_preset(self, name: str | None, target: str, lang: str = "en") -> list[Any]:
        """The chosen preset's description in ``lang``, its file, the file to download and its export."""
        if not name:
            return ["", "", None, ""]
        try:
            preset = load_preset(name, self.bench.presets_dir)
            text = preset_yaml(preset)
            download = self.bench.download(file_stem(preset.name) + ".yaml", text)
            return [_about(preset, lang), text, download, export_preset(preset, target)]
        except USER_ERRORS as error:
            return ["", f"# {self.bench.message(error)}", None, ""]

    def describe_preset(self, lang: str, name: str | None) -> str:
        """The shown preset's description again, in another language."""
        try:
            return _about(load_preset(name, self.bench.presets_dir), lang) if name else ""
        except USER_ERRORS:
            return ""

    def preset_api(self, name: str) -> str:
        """A preset as YAML, for scripts."""
        try:
            return preset_yaml(load_preset(name, self.bench.presets_dir))
        except USER_ERRORS as error:
            raise self.error(error) from None

    def save_preset_api(self, name: str, description: str, settings: str, overwrite: bool = False) -> str:
        """Save settings (a JSON object of knobs) as a user preset, for scripts."""
        try:
            values = load_json(settings or "{}")  # bounded depth: "[" * 100000 is one line, not a RecursionError
            if not isinstance(values, dict):
                raise PresetError("settings: expected a JSON object of knob values")
            preset = Preset(name=name, description=description, settings=Settings(values, source="settings"))
            saved = self.bench.save_preset(preset, overwrite=bool(overwrite))
        except json.JSONDecodeError as error:
            raise gr.Error(f"settings: not valid JSON ({error.msg})", print_exception=False) from None
        except JsonTooDeep as error:
            raise self.error(PresetError(f"settings: {error}")) from None
        except USER_ERRORS as error:
            raise self.error(error) from None
        return f"saved preset {saved.name!r}"


def _about(preset: Preset, lang: str) -> str:
    """The description as plain text in Markdown: a preset file's words are shown, never interpreted."""
    text = preset.describe(lang)
    return f"<p>{html.escape(text)}</p>" if text else ""
