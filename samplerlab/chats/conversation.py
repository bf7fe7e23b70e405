"""One rule for what a chat-mode request sends, and for fitting it to a context: both backends use it.

``request_messages`` turns a ``Request`` into the messages a chat template renders; ``fit_request``
applies the request's context policy (``chats.fit``) with the backend's own token counter, so the
local engine and a llama-server cut a long conversation the same way. Pure: no llama.cpp.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..events import ChatError, GenerationError, Message, Request
from ..files.safe_yaml import JsonTooDeep, load_json
from .chat_files import Conversation, fit, parse_messages, parse_policy, to_plain

SOURCE = "chat"  # how a context error names what did not fit


class AtLeast(int):
    """A token count known only from below: text far larger than the context is counted by its size,
    not tokenized, and the messages that show the count say "at least"."""

    def __format__(self, spec: str) -> str:
        return f"at least {int(self):{spec}}"

    def __str__(self) -> str:
        return format(self, "")

    __repr__ = __str__


def raw_prompt(request: Request) -> str:
    """A raw-mode request's text, as written; a conversation is refused (it needs a chat template)."""
    if request.history:
        raise GenerationError("raw mode sends the prompt as written; a conversation needs chat mode")
    return request.prompt


def request_messages(request: Request) -> list[dict[str, str]]:
    """[system?] + history + [user prompt]; with an empty prompt the history alone, ending with a user turn."""
    if request.mode == "raw":
        raise GenerationError("raw mode has no messages; its prompt is sent as written")
    turns = [*request.history, *([Message("user", request.prompt)] if request.prompt else [])]
    if not turns:
        raise GenerationError("the prompt is empty")
    if turns[-1].role != "user":
        raise GenerationError(
            f"the conversation ends with a{'n' if turns[-1].role == 'assistant' else ''} "
            f"{turns[-1].role} turn; give a prompt (the next user message)"
        )
    system = [Message("system", request.system)] if request.system else []
    return [{"role": m.role, "content": m.content} for m in system + turns]


def fit_request(
    request: Request, count_tokens: Callable[[list[dict[str, str]]], int], limit: int, info: dict[str, Any]
) -> Request:
    """The request cut to ``limit`` prompt tokens by its context policy; ``info["context"]`` records what it did.

    Only a conversation (a request with history) is fitted; a single prompt keeps the backend's own
    "prompt too long" error and records nothing. ``count_tokens`` renders messages with the backend's
    template and tokenizes, so the count is exactly what generation will see.
    """
    if request.mode == "raw" or not request.history:
        return request
    messages = tuple(Message(m["role"], m["content"]) for m in request_messages(request))
    try:
        fitted = fit(
            Conversation(messages, SOURCE),
            lambda kept: count_tokens(_plain(kept)),
            limit,
            parse_policy(request.context_policy),
        )
    except ChatError as error:
        raise GenerationError(str(error)) from None
    info["context"] = fitted.record()
    return replace(request, history=_drop_turns(request.history, fitted.dropped))


def _drop_turns(history: tuple[Message, ...], dropped: int) -> tuple[Message, ...]:
    """``history`` without its ``dropped`` oldest turns; its leading system messages stay, as ``fit`` keeps them."""
    head = next((i for i, m in enumerate(history) if m.role != "system"), len(history))
    return history[:head] + history[head + dropped :]


def _plain(messages: Sequence[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


# -- a conversation typed or edited as text (the app's conversation box, the API) ------------------
def parse_history(text: str, source: str = "conversation") -> tuple[Message, ...]:
    """A JSON list of {role, content} messages as history; empty text is no conversation."""
    if not text or not text.strip():
        return ()
    try:
        data = load_json(text)  # bounded depth, as the columns' JSON is read
    except json.JSONDecodeError as error:
        raise ChatError(
            f"{source}: not valid JSON ({error.msg}: line {error.lineno} column {error.colno}); "
            "expected a list of {role, content} messages"
        ) from None
    except JsonTooDeep as error:
        raise ChatError(f"{source}: {error}") from None
    return parse_messages(data, source).messages


def history_text(messages: Sequence[Message]) -> str:
    """The messages as the JSON ``parse_history`` reads back: one message per line, so it stays editable."""
    if not messages:
        return ""
    lines = [json.dumps(item, ensure_ascii=False) for item in to_plain(Conversation(tuple(messages), SOURCE))]
    return "[\n" + ",\n".join(lines) + "\n]"


def with_reply(request: Request, reply: str) -> tuple[Message, ...]:
    """The conversation after a run with ``reply`` kept as the assistant's turn, ready for the next user message."""
    prompt = (Message("user", request.prompt),) if request.prompt else ()
    return (*request.history, *prompt, Message("assistant", reply))
