"""Conversations as data: chats from SillyTavern, Open WebUI and OpenAI-style files, fitted to a context.

A ``Conversation`` is a tuple of messages (system, user, assistant) and where it came from. Chat files
come from other tools, so nothing in them is trusted: only regular files are read (a FIFO, device or
directory is refused from ``os.stat`` before any open, and the open is non-blocking, so a FIFO swapped
in meanwhile cannot hang), at most ``MAX_FILE_BYTES``, as strict UTF-8; nothing a file names
(avatars, attachments, image links) is fetched or run. Every problem is one ``ChatError`` line naming
the file, the line or key, and what was expected. ``fit`` takes the token counter as a callback, so
the backend that renders its chat template counts and this module stays pure (no llama_cpp).
"""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeGuard

from ..events import DEFAULT_POLICY, ROLES, ChatError, Message

FORMATS = ("sillytavern", "open-webui", "openai")
MAX_FILE_BYTES = 16 << 20
MAX_LINES = 100_000  # of a .jsonl chat, blank lines included: the loop stays short whatever the file
MAX_MESSAGES = 10_000
MAX_TOTAL_CHARS = 16 << 20  # of all contents together: inline messages are bounded like files
MESSAGE_KEYS = ("role", "content", "name")
EXPECTED_FORMATS = (
    "a SillyTavern chat (.jsonl), an Open WebUI export (.json) "
    "or an OpenAI-style list of {role, content} messages (.json)"
)
JSON_KINDS = {
    type(None): "null",
    bool: "true/false",
    str: "text",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "an object",
}
FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True)
class Conversation:
    """Messages in the order the source tool sends them, plus the names and title it records."""

    messages: tuple[Message, ...]
    source: str
    user_name: str | None = None
    character_name: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise ChatError(f"{self.source}: holds no messages; expected at least one")
        if len(self.messages) > MAX_MESSAGES:
            raise ChatError(f"{self.source}: more than {MAX_MESSAGES} messages")
        if sum(len(message.content) for message in self.messages) > MAX_TOTAL_CHARS:
            raise ChatError(f"{self.source}: more than {MAX_TOTAL_CHARS >> 20} Mi characters of messages")


def read_chat_text(path: Path | str) -> str:
    """The file's text: a regular file of at most MAX_FILE_BYTES, strict UTF-8 (a leading BOM is dropped)."""
    info = _stat(path)
    if not stat.S_ISREG(info.st_mode):
        kind = next((label for test, label in FILE_KINDS if test(info.st_mode)), "a special file")
        raise ChatError(f"{path}: not a regular file but {kind}; a chat is a .jsonl or .json file")
    if info.st_size > MAX_FILE_BYTES:
        raise ChatError(f"{path}: {info.st_size} bytes, more than the {MAX_FILE_BYTES >> 20} MiB a chat file may have")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        with open(os.open(path, flags), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # replaced since the stat above
                raise ChatError(f"{path}: not a regular file; a chat is a .jsonl or .json file")
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ChatError(f"{path}: cannot read it ({error.strerror or error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ChatError(f"{path}: more than the {MAX_FILE_BYTES >> 20} MiB a chat file may have")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise ChatError(f"{path}: not UTF-8 text (byte {error.start} is {data[error.start]:#04x})") from None


def _stat(path: Path | str) -> os.stat_result:
    try:
        return os.stat(path)
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise ChatError(f"{path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None


def _parse_json(text: str, where: str, one_line: bool = False) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        at = f"column {error.colno}" if one_line else f"line {error.lineno} column {error.colno}"
        raise ChatError(f"{where}: not valid JSON ({error.msg}: {at})") from None
    except RecursionError:  # json.loads recurses once per nesting level
        raise ChatError(f"{where}: JSON nested too deeply to be a chat") from None
    except ValueError as error:  # e.g. an integer longer than Python converts
        raise ChatError(f"{where}: not valid JSON ({str(error).splitlines()[0]})") from None


def _kind(value: Any) -> str:
    """A JSON value's type in JSON's words, for error messages."""
    return JSON_KINDS.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    """A value as an error message quotes it: text briefly, anything else by its kind."""
    return repr(value[:40]) if isinstance(value, str) else _kind(value)


def _text(value: Any, where: str) -> str:
    """Text a model can be given: a str that encodes as UTF-8 (JSON can spell unpaired surrogates)."""
    if not isinstance(value, str):
        raise ChatError(f"{where}: expected text, got {_kind(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ChatError(f"{where}: expected text, got an unpaired surrogate at character {error.start}") from None
    return value


def _optional_text(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    value = mapping.get(key)
    return None if value is None else _text(value, f"{where}: {key}")


def _flag(mapping: Mapping[str, Any], key: str, where: str) -> bool:
    value = mapping.get(key, False)
    if not isinstance(value, bool):
        raise ChatError(f"{where}: {key}: expected true or false, got {_kind(value)}")
    return value


def load_chat(path: Path | str, fmt: str | None = None, select: int | str | None = None) -> Conversation:
    """The conversation in a chat file, its format detected unless ``fmt`` (one of FORMATS) forces it.

    ``select`` picks one chat of an Open WebUI export by index (from 0) or exact title; without it the
    first chat is read, which in Open WebUI's "Export Chats" is the most recently updated one.
    """
    source = str(path)
    text = read_chat_text(path)
    if fmt is None:
        fmt, document = _detect(text, source)
    elif fmt not in FORMATS:
        raise ChatError(f"{source}: unknown chat format {_shown(fmt)}; expected one of {', '.join(FORMATS)}")
    else:
        document = None if fmt == "sillytavern" else _parse_json(text, source)
    if select is not None and fmt != "open-webui":
        raise ChatError(f"{source}: select= picks one chat of an Open WebUI export; this is read as {fmt}")
    if fmt == "sillytavern":
        return _from_sillytavern(text, source)
    if fmt == "open-webui":
        return _from_open_webui(document, source, select)
    return parse_messages(document.get("messages") if isinstance(document, dict) else document, source)


def _detect(text: str, source: str) -> tuple[str, Any]:
    """The format, and the parsed document for the JSON formats."""
    first_line = next((line for _, line in zip(range(MAX_LINES), _lines(text)) if line.strip()), "")
    try:
        if _is_st_header(json.loads(first_line)):
            return "sillytavern", None
    except (ValueError, RecursionError):
        pass
    try:
        document = _parse_json(text, source)
    except ChatError as error:
        raise ChatError(f"{error}; expected {EXPECTED_FORMATS}") from None
    first = document[0] if isinstance(document, list) and document else document
    if isinstance(first, dict) and isinstance(first.get("chat"), dict):
        return "open-webui", document
    if (
        document == []
        or (isinstance(first, dict) and "role" in first)
        or (isinstance(document, dict) and isinstance(document.get("messages"), list))
    ):
        return "openai", document
    raise ChatError(f"{source}: not a chat file this can read; expected {EXPECTED_FORMATS}")


def _lines(text: str) -> Iterator[str]:
    """Lines split on "\\n" only (as SillyTavern splits them), one at a time: no list of millions of lines."""
    return iter(io.StringIO(text, newline="\n"))


def _is_st_header(value: Any) -> TypeGuard[dict[str, Any]]:
    """SillyTavern's first line (script.js saveChat): user_name, character_name, create_date, chat_metadata."""
    return isinstance(value, dict) and "user_name" in value and "character_name" in value and "mes" not in value


def _from_sillytavern(text: str, source: str) -> Conversation:
    """A SillyTavern chat file: a header line, then one message object per line (blank lines skipped).

    SillyTavern's prompt builder (script.js: ``chat.filter(x => !x.is_system)``) leaves out
    ``is_system`` lines (UI notices, and messages hidden with /hide), so they are skipped here too.
    ``mes`` is the text: it is the chosen swipe (saveReply writes ``swipes[swipe_id] = mes``), and where
    the two disagree (an edit, an extension) ``mes`` is what SillyTavern shows and sends. Narrator
    messages (``extra.type == "narrator"``, from /sys) become system messages, as SillyTavern sends
    them to chat-completion APIs (openai.js setOpenAIMessages). Consecutive messages of one role stay
    as they are: role-play chats have them, and merging would change the text. The character card
    (SillyTavern's system prompt is built from it) is not in the chat file; give it separately. A
    greeting never generated after keeps its macros ({{user}}, {{char}}): SillyTavern expands them then.
    """
    objects = _jsonl_objects(text, source)
    try:
        where, header = next(objects, (f"{source}: line 1", None))
    except ChatError as error:
        raise ChatError(f"{error}; expected SillyTavern's chat header first") from None
    if not _is_st_header(header):
        raise ChatError(f"{where}: expected SillyTavern's chat header (an object with user_name and character_name)")
    names = _optional_text(header, "user_name", where), _optional_text(header, "character_name", where)
    messages: list[Message] = []
    for where, entry in objects:
        if not _flag(entry, "is_system", where):
            messages.append(_st_message(entry, where))
        if len(messages) > MAX_MESSAGES:
            raise ChatError(f"{source}: more than {MAX_MESSAGES} messages")
    return Conversation(tuple(messages), source, *names)


def _jsonl_objects(text: str, source: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, line in enumerate(_lines(text), 1):
        if number > MAX_LINES:
            raise ChatError(f"{source}: more than {MAX_LINES} lines")
        if line.strip():
            where = f"{source}: line {number}"
            value = _parse_json(line.strip(), where, one_line=True)
            if not isinstance(value, dict):
                raise ChatError(f"{where}: expected an object, got {_kind(value)}")
            yield where, value


def _st_message(entry: Mapping[str, Any], where: str) -> Message:
    if "mes" not in entry:
        raise ChatError(f"{where}: expected a message with mes (its text)")
    content = _text(entry["mes"], f"{where}: mes")
    extra = entry.get("extra")
    narrator = isinstance(extra, dict) and extra.get("type") == "narrator"
    role = "user" if _flag(entry, "is_user", where) else "system" if narrator else "assistant"
    return Message(role, content, _optional_text(entry, "name", where))


def _from_open_webui(document: Any, source: str, select: int | str | None) -> Conversation:
    """One chat of an Open WebUI export (a list of chats; a single chat object is taken too).

    The branch Open WebUI shows is read: from ``history.currentId`` up the ``parentId`` links to the
    root (as its createMessagesList walks), so answers regenerated or edited on other branches are
    left out; the ``messages`` list is used only when there is no ``history``. The chat's system
    prompt (``params.system``, else ``system``) comes first, as Open WebUI sends it, with its
    {{VARIABLES}} unexpanded. Attached files are not read; contents are taken as stored.
    """
    chats = document if isinstance(document, list) else [document]
    index = _select(chats, select, source)
    where = f"{source}: chat {index}"
    chat = chats[index].get("chat") if isinstance(chats[index], dict) else None
    if not isinstance(chat, dict):
        raise ChatError(f"{where}: expected an Open WebUI chat (an object with a 'chat' object)")
    if chat.get("history") is None:
        messages = _message_list(chat.get("messages"), f"{where}: chat.messages", strict=False)
    else:
        messages = _current_branch(chat["history"], f"{where}: chat.history")
    params = chat.get("params")
    system = _optional_text(params, "system", f"{where}: chat.params") if isinstance(params, dict) else None
    system = system or _optional_text(chat, "system", f"{where}: chat")
    prompt = (Message("system", system),) if system else ()
    return Conversation((*prompt, *messages), source, title=_title(chats[index]))


def _title(entry: Any) -> str | None:
    chat = entry.get("chat") if isinstance(entry, dict) else None
    title = entry.get("title") if isinstance(entry, dict) else None
    title = title if isinstance(title, str) else chat.get("title") if isinstance(chat, dict) else None
    return title if isinstance(title, str) else None


def _select(chats: list[Any], select: int | str | None, source: str) -> int:
    count = len(chats)
    listing = ", ".join(f"{index}: {str(_title(entry))[:40]!r}" for index, entry in enumerate(chats[:5]))
    listing += ", ..." if count > 5 else ""
    if count == 0:
        raise ChatError(f"{source}: holds no chats")
    if select is None:
        return 0
    if isinstance(select, int) and not isinstance(select, bool):
        if 0 <= select < count:
            return select
        raise ChatError(f"{source}: no chat {select}; it holds {count} chats ({listing}); select= an index or title")
    if not isinstance(select, str):
        raise ChatError(f"{source}: select= expected a chat's index or title, got {type(select).__name__}")
    matches = [index for index, entry in enumerate(chats) if _title(entry) == select]
    if len(matches) != 1:
        raise ChatError(
            f"{source}: no chat titled {_shown(select)}; it holds {count} chats ({listing})"
            if not matches
            else f"{source}: {len(matches)} of its {count} chats are titled {_shown(select)} "
            f"(at {', '.join(map(str, matches[:10]))}); select= one by index"
        )
    return matches[0]


def _current_branch(history: Any, where: str) -> list[Message]:
    """The messages from the root to ``currentId``; the walk ends at an id seen before, so a cycle cannot hang."""
    if not isinstance(history, dict) or not isinstance(history.get("messages"), dict):
        raise ChatError(f"{where}: expected an object with 'messages' (an object of messages by id)")
    by_id, current = history["messages"], history.get("currentId")
    if not isinstance(current, str):
        raise ChatError(f"{where}: currentId: expected the id of the current message, got {_kind(current)}")
    chain: list[Message] = []
    seen: set[str] = set()
    while current is not None:
        key = f"{where}.messages[{str(current)[:60]!r}]"
        if not isinstance(current, str) or current not in by_id:
            raise ChatError(f"{key}: expected a message with that id (named by a parentId or currentId)")
        if current in seen:
            raise ChatError(f"{key}: parentId links loop back to this message; expected them to reach a root")
        if len(chain) >= MAX_MESSAGES:
            raise ChatError(f"{where}: more than {MAX_MESSAGES} messages on the current branch")
        seen.add(current)
        chain.append(_message(by_id[current], key, strict=False))
        current = by_id[current].get("parentId")
    return chain[::-1]


def parse_messages(data: Any, source: str) -> Conversation:
    """A conversation from a list of {role, content, name?} mappings (OpenAI's shape; experiment YAML's
    ``messages:``). Other keys are refused, so a typo or a tool call is not dropped silently."""
    return Conversation(tuple(_message_list(data, f"{source}: messages", strict=True)), source)


def _message_list(data: Any, where: str, strict: bool) -> list[Message]:
    if not isinstance(data, list):
        raise ChatError(f"{where}: expected a list of messages, got {_kind(data)}")
    if len(data) > MAX_MESSAGES:
        raise ChatError(f"{where}: more than {MAX_MESSAGES} messages")
    return [_message(item, f"{where}[{index}]", strict) for index, item in enumerate(data)]


def _message(item: Any, where: str, strict: bool) -> Message:
    """One message; ``strict`` refuses keys other than role, content and name (tools' exports carry many)."""
    if not isinstance(item, dict):
        raise ChatError(f"{where}: expected a message (an object with role and content), got {_kind(item)}")
    unknown = next((key for key in item if key not in MESSAGE_KEYS), None) if strict else None
    if unknown is not None:
        raise ChatError(f"{where}: unknown key {_shown(unknown)}; a message holds role, content and optionally name")
    if item.get("role") not in ROLES:
        raise ChatError(f"{where}: role: expected one of {', '.join(ROLES)}, got {_shown(item.get('role'))}")
    if "content" not in item:
        raise ChatError(f"{where}: expected content (the message's text)")
    name = _optional_text(item, "name", where) if strict else None
    return Message(item["role"], _content(item["content"], f"{where}: content"), name)


def _content(value: Any, where: str) -> str:
    """Text, or OpenAI content parts of type "text", joined by newlines as llama.cpp joins them."""
    if not isinstance(value, list):
        return _text(value, where)
    texts = []
    for index, part in enumerate(value):
        if not isinstance(part, dict):
            raise ChatError(
                f"{where}[{index}]: expected a content part (an object with type 'text'), got {_kind(part)}"
            )
        if part.get("type") != "text":
            raise ChatError(
                f"{where}[{index}]: a part of type {_shown(part.get('type'))} cannot be read; "
                f"expected type 'text' parts"
            )
        texts.append(_text(part.get("text"), f"{where}[{index}].text"))
    return "\n".join(texts)


def to_plain(conversation: Conversation) -> list[dict[str, str]]:
    """The messages as plain mappings for YAML result files; ``parse_messages`` reads them back."""
    return [
        {
            "role": message.role,
            "content": message.content,
            **({"name": message.name} if message.name is not None else {}),
        }
        for message in conversation.messages
    ]


@dataclass(frozen=True)
class Policy:
    """What to do when a conversation is longer than the context: "error", "drop_oldest" or "keep_last" N."""

    kind: str
    keep: int = 0

    def __str__(self) -> str:
        return f"keep_last:{self.keep}" if self.kind == "keep_last" else self.kind


@dataclass(frozen=True)
class Fitted:
    """The conversation as it will be sent, and what the policy left out (for the result file)."""

    conversation: Conversation
    policy: Policy
    dropped: int
    tokens: int

    def record(self) -> dict[str, Any]:
        return {"policy": str(self.policy), "dropped": self.dropped}


def parse_policy(text: str | Policy) -> Policy:
    """ "error", "drop_oldest" or "keep_last:N" (N >= 1) as a Policy."""
    if isinstance(text, Policy):
        return text
    name, colon, count = text.strip().partition(":") if isinstance(text, str) else ("", "", "")
    if name in ("error", "drop_oldest") and not colon:
        return Policy(name)
    if name == "keep_last" and count.strip().isdecimal() and int(count) >= 1:
        return Policy(name, int(count))
    raise ChatError(
        f"context policy {_shown(text)}: expected error, drop_oldest or keep_last:N (N messages, at least 1)"
    )


def fit(
    conversation: Conversation,
    count_tokens: Callable[[Sequence[Message]], int],
    limit: int,
    policy: str | Policy = DEFAULT_POLICY,
) -> Fitted:
    """The conversation cut to ``limit`` tokens by ``policy``; ``count_tokens`` renders and counts messages.

    The system prompt (the leading system messages) is always kept. "error" refuses a conversation
    that does not fit; "drop_oldest" drops the fewest oldest turns that make it fit, never the last
    user message (a binary search: O(log n) counts), so what is kept may begin with an assistant turn;
    "keep_last:N" keeps the last N messages even when more would fit, so every model gets the same
    turns, and refuses them if they do not fit.
    """
    policy = parse_policy(policy)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ChatError(f"context limit: expected a positive whole number of tokens, got {limit!r}")
    head = next(
        (index for index, message in enumerate(conversation.messages) if message.role != "system"),
        len(conversation.messages),
    )
    system, turns = conversation.messages[:head], conversation.messages[head:]

    def kept_from(start: int) -> Fitted:
        kept = replace(conversation, messages=system + turns[start:])
        return Fitted(kept, policy, start, count_tokens(kept.messages))

    source, per_column = conversation.source, f"the context holds {limit} per column"
    if policy.kind == "keep_last":
        fitted = kept_from(max(0, len(turns) - policy.keep))
        if fitted.tokens > limit:
            raise ChatError(
                f"{source}: the system prompt and the last {policy.keep} messages are {fitted.tokens} "
                f"tokens but {per_column}; keep fewer, or choose drop_oldest"
            )
        return fitted
    whole = kept_from(0)
    if whole.tokens <= limit:
        return whole
    if policy.kind == "error":
        raise ChatError(
            f"{source}: the conversation is {whole.tokens} tokens but {per_column}; shorten it, "
            f"or choose the context policy drop_oldest or keep_last:N"
        )
    return _drop_oldest(turns, kept_from, limit, f"{source}: {per_column}")


def _drop_oldest(turns: Sequence[Message], kept_from: Callable[[int], Fitted], limit: int, where: str) -> Fitted:
    """The smallest start that fits, assuming fewer messages never count more tokens; start 0 does not fit."""
    last_user = max(
        (index for index, message in enumerate(turns) if message.role == "user"), default=max(len(turns) - 1, 0)
    )
    best = kept_from(last_user)
    if last_user == 0 or best.tokens > limit:
        raise ChatError(
            f"{where}, but even the system prompt and the messages from the last user message on "
            f"are {best.tokens} tokens"
        )
    low, high = 1, last_user  # kept_from(high) fits, kept_from(low - 1) does not
    while low < high:
        middle = (low + high) // 2
        candidate = kept_from(middle)
        if candidate.tokens <= limit:
            best, high = candidate, middle
        else:
            low = middle + 1
    return best
