"""Every translatable widget of the page, so the language can change without a reload."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..words.i18n import t


class Labels:
    """Every translatable widget, so the language can change without a reload."""

    def __init__(self) -> None:
        self.widgets: list[tuple[Any, Any, Any]] = []
        self.notes: list[Any] = []

    def note(self, widget: Any) -> Any:
        """A status note that tells how an action went (saved, stopped, refused): worded when it was done,
        so the language switch clears it rather than leave it in the other language."""
        self.notes.append(widget)
        return widget

    def add(self, widget: Any, label: Any = None, info: Any = None) -> Any:
        """label/info: an i18n key, a callable lang -> text, or None to leave as is."""
        self.widgets.append((widget, label, info))
        return widget

    def updates(self, lang: str) -> list[Any]:
        resolve = lambda part: part(lang) if callable(part) else t(part, lang)  # noqa: E731
        out = []
        for widget, label, info in self.widgets:
            fields = {}
            if label is not None:
                fields["value" if isinstance(widget, (gr.Markdown, gr.Button, gr.HTML)) else "label"] = resolve(label)
            if info is not None:
                fields["info"] = resolve(info)
            out.append(gr.update(**fields))
        return out
