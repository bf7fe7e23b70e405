"""The Compare tab's conversation: the turns before the prompt, pasted or edited as JSON, loaded from a
chat file, and grown by keeping one column's reply, so the next user message can be compared too.

The callbacks are a few lines each: reading is ``chats.load_chat`` (a regular file, bounded, strict
UTF-8), the text form is ``conversation.history_text``/``parse_history``, a kept reply is
``conversation.with_reply`` of the session's last run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from ..chats.chat_files import load_chat
from ..chats.conversation import history_text, with_reply
from ..events import DEFAULT_POLICY
from ..words.i18n import t
from .workbench import USER_ERRORS, Workbench

POLICIES = (DEFAULT_POLICY, "drop_oldest", "keep_last:4")  # offered; any keep_last:N can be typed


class ConversationCallbacks:
    def __init__(self, bench: Workbench) -> None:
        self.bench = bench

    def load(self, path: str | None) -> Any:
        """A chat file's messages into the conversation box; errors name the file, not Gradio's temporary path."""
        if not path:
            return gr.update()
        try:
            return history_text(load_chat(path).messages)
        except USER_ERRORS as error:
            raise gr.Error(str(error).replace(str(path), Path(path).name), print_exception=False) from None

    def keep(self, lang: str, column: str, request: gr.Request) -> tuple[str, str]:
        """The last run's conversation with column N's reply as the assistant turn, and an empty prompt box
        for the next user message."""
        last = self.bench.last(request.session_hash)
        index = int(column) - 1
        if last.request is None or not 0 <= index < len(last.columns):
            raise gr.Error(t("keep_nothing", lang), print_exception=False)
        return history_text(with_reply(last.request, last.columns[index].text)), ""


def conversation_panel(
    bench: Workbench, labels: Any, lang: str, lang_state: gr.State, prompt: gr.Textbox, columns: int
) -> tuple[gr.Code, gr.Dropdown]:
    """The conversation accordion; returns the JSON box and the context policy, which every run reads."""
    calls = ConversationCallbacks(bench)
    with labels.add(gr.Accordion(t("conversation", lang), open=False), "conversation"):
        with gr.Row():
            with gr.Column(scale=3):
                chat = labels.add(
                    gr.Code(
                        "", language="json", interactive=True, label=t("conversation", lang), elem_id="conversation"
                    ),
                    "conversation",
                )
                labels.add(gr.Markdown(t("conversation_info", lang)), "conversation_info")
            with gr.Column(scale=1):
                upload = labels.add(
                    gr.File(
                        label=t("chat_file", lang), file_types=[".json", ".jsonl"], type="filepath", elem_id="chat-file"
                    ),
                    "chat_file",
                )
                policy = labels.add(
                    gr.Dropdown(
                        list(POLICIES),
                        value=POLICIES[0],
                        allow_custom_value=True,
                        label=t("context_policy", lang),
                        elem_id="context-policy",
                    ),
                    "context_policy",
                )
                column = labels.add(
                    gr.Dropdown(
                        [str(i + 1) for i in range(columns)],
                        value="1",
                        label=t("keep_column", lang),
                        elem_id="keep-column",
                    ),
                    "keep_column",
                )
                keep = labels.add(gr.Button(t("keep_reply", lang), elem_id="keep-reply"), "keep_reply")
    upload.upload(calls.load, upload, chat, api_visibility="private")
    keep.click(calls.keep, [lang_state, column], [chat, prompt], api_visibility="private")
    return chat, policy
