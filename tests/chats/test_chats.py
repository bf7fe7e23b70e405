"""Conversations as data: importers on files shaped like the tools' own, hostile files, context policies."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplerlab.chats import chat_files as chats
from samplerlab.chats.chat_files import (
    MAX_MESSAGES,
    ChatError,
    Conversation,
    Message,
    Policy,
    fit,
    load_chat,
    parse_messages,
    parse_policy,
    to_plain,
)

DATA = Path(__file__).parent.parent / "data" / "chats"
MARISA = DATA / "marisa.jsonl"
OPEN_WEBUI = DATA / "open-webui-export.json"
OPENAI = DATA / "openai-messages.json"


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fails the test instead of hanging it: SIGALRM interrupts even a blocking open() of a FIFO."""

    def expired(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refused(path: Path | str, **options) -> str:
    """The one-line ChatError load_chat gives, within a second."""
    with within(1.0), pytest.raises(ChatError) as caught:
        load_chat(path, **options)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)), message
    return message


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(*objects: object) -> str:
    return "\n".join(json.dumps(value, ensure_ascii=False) for value in objects)


ST_HEADER = {"user_name": "User", "character_name": "Bot", "create_date": "2024-09-28@01h02m36s", "chat_metadata": {}}


# ---------------------------------------------------------------- SillyTavern


def test_sillytavern_chat_keeps_names_japanese_and_chosen_swipes_and_skips_notices():
    conversation = load_chat(MARISA)
    assert (conversation.source, conversation.user_name, conversation.character_name, conversation.title) == (
        str(MARISA),
        "霊夢",
        "霧雨魔理沙",
        None,
    )
    assert to_plain(conversation) == [
        {
            "role": "assistant",
            "content": "よう、霊夢！今日も神社は暇そうだな。お茶でも淹れてくれよ、だぜ。",
            "name": "霧雨魔理沙",
        },
        {"role": "user", "content": "また来たの？　お賽銭くらい入れていきなさいよ。", "name": "霊夢"},
        {
            "role": "assistant",
            "content": "へへっ、賽銭箱に入れるのは…そうだな、このキノコでどうだ？\n*籠から怪しく光るキノコを取り出す*",
            "name": "霧雨魔理沙",
        },
        {"role": "user", "content": "……それ、食べられるの？", "name": "霊夢"},
        {"role": "assistant", "content": "もちろんだぜ！　たぶんな。", "name": "霧雨魔理沙"},
        {
            "role": "assistant",
            "content": "*キノコをかじって、急に顔が青くなる*\n……霊夢、水をくれ。",
            "name": "霧雨魔理沙",
        },
        {"role": "system", "content": "その夜、神社の裏山で奇妙な光が瞬いた。", "name": "System"},
        {"role": "user", "content": "ちょっと魔理沙、あの光は何？", "name": "霊夢"},
    ]


def test_sillytavern_mes_wins_over_a_disagreeing_swipe(tmp_path):
    line = {"name": "Bot", "is_user": False, "mes": "edited", "swipe_id": 0, "swipes": ["generated"], "extra": {}}
    conversation = load_chat(write(tmp_path, "chat.jsonl", jsonl(ST_HEADER, line)))
    assert conversation.messages == (Message("assistant", "edited", "Bot"),)


@pytest.mark.parametrize(
    "lines, expected",
    [
        ([ST_HEADER, {"name": "Bot", "is_user": False, "mes": None}], "line 2: mes: expected text, got null"),
        (
            [ST_HEADER, {"name": "Bot", "is_user": "yes", "mes": "hi"}],
            "line 2: is_user: expected true or false, got text",
        ),
        ([ST_HEADER, {"name": 7, "is_user": False, "mes": "hi"}], "line 2: name: expected text, got a number"),
        ([ST_HEADER, {"name": "Bot", "is_user": False}], "line 2: expected a message with mes (its text)"),
        ([ST_HEADER, ["not", "an", "object"]], "line 2: expected an object, got a list"),
        ([ST_HEADER], "holds no messages; expected at least one"),
    ],
)
def test_sillytavern_bad_lines_name_line_and_key(tmp_path, lines, expected):
    assert refused(write(tmp_path, "chat.jsonl", jsonl(*lines)), fmt="sillytavern").endswith(expected)


def test_sillytavern_bad_json_line_and_missing_header(tmp_path):
    broken = write(tmp_path, "broken.jsonl", jsonl(ST_HEADER) + '\n{"mes": "unterminated\n')
    assert refused(broken) == f"{broken}: line 2: not valid JSON (Unterminated string starting at: column 9)"
    headless = write(tmp_path, "group.jsonl", jsonl({"name": "Bot", "is_user": False, "mes": "hi"}))
    assert refused(headless, fmt="sillytavern") == (
        f"{headless}: line 1: expected SillyTavern's chat header (an object with user_name and character_name)"
    )


def test_sillytavern_line_count_is_bounded(tmp_path):
    path = write(tmp_path, "blank.jsonl", jsonl(ST_HEADER) + "\n" * 200_000)
    assert refused(path) == f"{path}: more than 100000 lines"


# ---------------------------------------------------------------- Open WebUI

MIN_P_CHAT = [
    {"role": "system", "content": "You are a concise assistant. Answer in one or two sentences."},
    {"role": "user", "content": "What does min-p sampling do?"},
    {
        "role": "assistant",
        "content": "Min-p keeps tokens at least min_p as likely as the most likely one; "
        "the cut scales with confidence.",
    },
    {"role": "user", "content": "Compare it with top-p in one sentence."},
    {
        "role": "assistant",
        "content": "Top-p keeps the smallest set reaching a total probability; "
        "min-p keeps what is close to the best token.",
    },
]
HAIKU_CHAT = [
    {"role": "system", "content": "Answer as a poet."},
    {"role": "user", "content": "A haiku about llamas, please."},
    {"role": "assistant", "content": "Soft wool on the wind\nllamas chew the morning grass\nAndes hold the sky"},
]


def test_open_webui_follows_the_current_branch_of_the_first_chat():
    conversation = load_chat(OPEN_WEBUI)
    assert conversation.title == "Min-p explained"
    assert to_plain(conversation) == MIN_P_CHAT


@pytest.mark.parametrize("select, expected", [(0, MIN_P_CHAT), (1, HAIKU_CHAT), ("Haiku about llamas", HAIKU_CHAT)])
def test_open_webui_select_by_index_or_title(select, expected):
    assert to_plain(load_chat(OPEN_WEBUI, select=select)) == expected


@pytest.mark.parametrize(
    "select, expected",
    [
        (2, "no chat 2; it holds 2 chats (0: 'Min-p explained', 1: 'Haiku about llamas'); select= an index or title"),
        ("Nope", "no chat titled 'Nope'; it holds 2 chats (0: 'Min-p explained', 1: 'Haiku about llamas')"),
        (1.5, "select= expected a chat's index or title, got float"),
        (True, "select= expected a chat's index or title, got bool"),
    ],
)
def test_open_webui_bad_select(select, expected):
    assert refused(OPEN_WEBUI, select=select) == f"{OPEN_WEBUI}: {expected}"


def owui_export(tmp_path: Path, *chats_: dict, name: str = "export.json") -> Path:
    return write(
        tmp_path,
        name,
        json.dumps([{"id": str(i), "title": c.get("title", "t"), "chat": c} for i, c in enumerate(chats_)]),
    )


def owui_message(id_: str, parent: str | None, role: str = "user", content: str = "hi") -> dict:
    return {"id": id_, "parentId": parent, "childrenIds": [], "role": role, "content": content}


def test_open_webui_same_title_twice_is_ambiguous(tmp_path):
    chat = {"title": "Same", "messages": [owui_message("a", None)]}
    path = owui_export(tmp_path, chat, {"title": "Other", "messages": []}, chat)
    assert refused(path, select="Same") == f"{path}: 2 of its 3 chats are titled 'Same' (at 0, 2); select= one by index"


def test_open_webui_single_chat_object_and_messages_without_history(tmp_path):
    chat = {
        "id": "1",
        "title": "Plain",
        "chat": {"messages": [owui_message("a", None), owui_message("b", "a", "assistant", "hello")]},
    }
    conversation = load_chat(write(tmp_path, "one.json", json.dumps(chat)))
    assert (conversation.title, to_plain(conversation)) == (
        "Plain",
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    )


@pytest.mark.parametrize(
    "history, expected",
    [
        (
            {"messages": {"a": owui_message("a", "b"), "b": owui_message("b", "a")}, "currentId": "a"},
            "chat 0: chat.history.messages['a']: parentId links loop back to this message; expected them to reach a root",
        ),
        (
            {"messages": {"a": owui_message("a", "gone")}, "currentId": "a"},
            "chat 0: chat.history.messages['gone']: expected a message with that id (named by a parentId or currentId)",
        ),
        (
            {"messages": {"a": owui_message("a", None)}, "currentId": None},
            "chat 0: chat.history: currentId: expected the id of the current message, got null",
        ),
        (
            {"messages": {"a": owui_message("a", None, "tool")}, "currentId": "a"},
            "chat 0: chat.history.messages['a']: role: expected one of system, user, assistant, got 'tool'",
        ),
        (
            {"messages": [], "currentId": "a"},
            "chat 0: chat.history: expected an object with 'messages' (an object of messages by id)",
        ),
    ],
)
def test_open_webui_broken_history(tmp_path, history, expected):
    path = owui_export(tmp_path, {"history": history})
    assert refused(path) == f"{path}: {expected}"


def test_open_webui_long_parent_cycle_ends_quickly(tmp_path):
    size = 5000
    messages = {str(i): owui_message(str(i), str((i + 1) % size)) for i in range(size)}
    path = owui_export(tmp_path, {"history": {"messages": messages, "currentId": "0"}})
    assert "parentId links loop back" in refused(path)


# ---------------------------------------------------------------- OpenAI-style

OPENAI_CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Name three sampling methods.\nOne line, please."},
    {"role": "assistant", "content": "Top-k, top-p and min-p.", "name": "helper"},
    {"role": "user", "content": "Which one is newest?"},
]


def test_openai_list_joins_text_parts_and_keeps_names():
    assert to_plain(load_chat(OPENAI)) == OPENAI_CHAT


def test_openai_messages_object(tmp_path):
    path = write(tmp_path, "wrapped.json", json.dumps({"model": "x", "messages": OPENAI_CHAT}))
    assert to_plain(load_chat(path)) == OPENAI_CHAT


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"role": "user"}, "messages: expected a list of messages, got an object"),
        ([["user", "hi"]], "messages[0]: expected a message (an object with role and content), got a list"),
        (
            [{"role": "user", "content": "hi", "tool_calls": []}],
            "messages[0]: unknown key 'tool_calls'; a message holds role, content and optionally name",
        ),
        ([{"role": "tool", "content": "42"}], "messages[0]: role: expected one of system, user, assistant, got 'tool'"),
        ([{"role": None, "content": "hi"}], "messages[0]: role: expected one of system, user, assistant, got null"),
        ([{"role": "user"}], "messages[0]: expected content (the message's text)"),
        ([{"role": "user", "content": 42}], "messages[0]: content: expected text, got a number"),
        ([{"role": "user", "content": "hi", "name": ["x"]}], "messages[0]: name: expected text, got a list"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://127.0.0.1/x.png"}}]}],
            "messages[0]: content[0]: a part of type 'image_url' cannot be read; expected type 'text' parts",
        ),
        ([{"role": "user", "content": [{"type": "text"}]}], "messages[0]: content[0].text: expected text, got null"),
        (
            [{"role": "user", "content": ["hi"]}],
            "messages[0]: content[0]: expected a content part (an object with type 'text'), got text",
        ),
        (
            [{"role": "user", "content": "\ud800"}],
            "messages[0]: content: expected text, got an unpaired surrogate at character 0",
        ),
        ([], "holds no messages; expected at least one"),
    ],
)
def test_parse_messages_errors(data, expected):
    with pytest.raises(ChatError) as caught:
        parse_messages(data, "experiment.yaml")
    assert str(caught.value) == f"experiment.yaml: {expected}"


def test_parse_messages_bounds_count_and_size():
    with within(1.0), pytest.raises(ChatError, match=r"^x: messages: more than 10000 messages$"):
        parse_messages([{"role": "user", "content": "hi"}] * (MAX_MESSAGES + 1), "x")
    with within(1.0), pytest.raises(ChatError, match=r"^x: more than 16 Mi characters of messages$"):
        parse_messages([{"role": "user", "content": "a" * (9 << 20)}] * 2, "x")


def test_to_plain_round_trips():
    for path in (MARISA, OPEN_WEBUI, OPENAI):
        conversation = load_chat(path)
        assert parse_messages(to_plain(conversation), "again").messages == conversation.messages


# ---------------------------------------------------------------- detection and hostile files


@pytest.mark.parametrize("path, fmt", [(MARISA, "sillytavern"), (OPEN_WEBUI, "open-webui"), (OPENAI, "openai")])
def test_detection_agrees_with_forcing(path, fmt):
    assert load_chat(path) == load_chat(path, fmt=fmt)


@pytest.mark.parametrize(
    "path, fmt, expected",
    [
        (MARISA, "openai", "not valid JSON (Extra data: line 2 column 1)"),
        (
            OPENAI,
            "sillytavern",
            "line 1: not valid JSON (Expecting value: column 2); expected SillyTavern's chat header first",
        ),
        (OPENAI, "open-webui", "chat 0: expected an Open WebUI chat (an object with a 'chat' object)"),
        (OPEN_WEBUI, "openai", "messages[0]: unknown key 'id'; a message holds role, content and optionally name"),
        (OPENAI, "markdown", "unknown chat format 'markdown'; expected one of sillytavern, open-webui, openai"),
    ],
)
def test_forced_wrong_format_is_one_line(path, fmt, expected):
    assert refused(path, fmt=fmt) == f"{path}: {expected}"


def test_select_only_for_open_webui():
    assert (
        refused(MARISA, select=0)
        == f"{MARISA}: select= picks one chat of an Open WebUI export; this is read as sillytavern"
    )


NOT_A_CHAT = (
    "expected a SillyTavern chat (.jsonl), an Open WebUI export (.json) "
    "or an OpenAI-style list of {role, content} messages (.json)"
)


@pytest.mark.parametrize(
    "content, expected",
    [
        ("hello, world", f"not valid JSON (Expecting value: line 1 column 1); {NOT_A_CHAT}"),
        ('{"user": "x"}', f"not a chat file this can read; {NOT_A_CHAT}"),
        ("42", f"not a chat file this can read; {NOT_A_CHAT}"),
        ("", f"not valid JSON (Expecting value: line 1 column 1); {NOT_A_CHAT}"),
        ("[" * 100_000 + "]" * 100_000, f"JSON nested too deeply to be a chat; {NOT_A_CHAT}"),
        ('{"messages": [' + "[" * 100_000 + "]" * 100_000 + "]}", f"JSON nested too deeply to be a chat; {NOT_A_CHAT}"),
        (
            "[" + "9" * 5000 + "]",
            "not valid JSON (Exceeds the limit (4300 digits) for integer string conversion: "
            f"value has 5000 digits; use sys.set_int_max_str_digits() to increase the limit); {NOT_A_CHAT}",
        ),
        (b"\xef\xbb\xbf" + json.dumps(OPENAI_CHAT).encode(), None),
        (b'[{"role": "user", "content": "caf\xe9"}]', "not UTF-8 text (byte 33 is 0xe9)"),
    ],
)
def test_hostile_contents(tmp_path, content, expected):
    path = write(tmp_path, "chat.json", content)
    if expected is None:  # a UTF-8 byte order mark is allowed
        assert to_plain(load_chat(path)) == OPENAI_CHAT
    else:
        assert refused(path) == f"{path}: {expected}"


def test_deeply_nested_sillytavern_line(tmp_path):
    path = write(tmp_path, "deep.jsonl", jsonl(ST_HEADER) + "\n" + '{"mes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert refused(path) == f"{path}: line 2: JSON nested too deeply to be a chat"


def test_oversized_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(20_000_000)
    assert refused(path) == f"{path}: 20000000 bytes, more than the 16 MiB a chat file may have"


def test_fifo_directory_and_missing_file_are_refused_at_once(tmp_path):
    fifo = tmp_path / "chat.jsonl"
    os.mkfifo(fifo)
    assert refused(fifo) == f"{fifo}: not a regular file but a FIFO; a chat is a .jsonl or .json file"
    assert refused(tmp_path) == f"{tmp_path}: not a regular file but a directory; a chat is a .jsonl or .json file"
    assert (
        refused("/dev/null") == "/dev/null: not a regular file but a character device; a chat is a .jsonl or .json file"
    )
    missing = tmp_path / "missing.json"
    assert refused(missing) == f"{missing}: cannot read it (No such file or directory)"


def test_fifo_swapped_in_after_the_check_cannot_hang(tmp_path, monkeypatch):
    fifo = tmp_path / "chat.jsonl"
    os.mkfifo(fifo)
    monkeypatch.setattr(chats, "_stat", lambda path: os.stat(OPENAI))  # the check saw a regular file
    assert refused(fifo) == f"{fifo}: not a regular file; a chat is a .jsonl or .json file"


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["role", "user", "content", "chat", "history", "messages", "currentId", "parentId"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "role",
                    "content",
                    "name",
                    "chat",
                    "history",
                    "messages",
                    "currentId",
                    "parentId",
                    "id",
                    "user_name",
                    "character_name",
                    "mes",
                    "is_user",
                    "type",
                    "text",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUES, as_lines=st.booleans())
def test_any_json_gives_a_conversation_or_one_chat_error(tmp_path_factory, value, as_lines):
    text = jsonl(ST_HEADER, value) if as_lines else json.dumps(value)
    path = write(tmp_path_factory.mktemp("random"), "chat.json", text)
    try:
        conversation = load_chat(path)
    except ChatError as error:
        assert "\n" not in str(error)
    else:
        assert all(message.role in chats.ROLES for message in conversation.messages)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_give_a_conversation_or_one_chat_error(tmp_path_factory, data):
    path = write(tmp_path_factory.mktemp("bytes"), "chat.json", data)
    try:
        load_chat(path)
    except ChatError as error:
        assert "\n" not in str(error)


# ---------------------------------------------------------------- context policies


def characters(messages: Sequence[Message]) -> int:
    """A fake token counter: one token per character of content."""
    return sum(len(message.content) for message in messages)


def conversation_of(*pairs: tuple[str, str]) -> Conversation:
    return Conversation(tuple(Message(role, content) for role, content in pairs), "chat.yaml")


ROLE_PLAY = conversation_of(
    ("system", "S" * 10),
    ("user", "a" * 5),
    ("assistant", "b" * 5),
    ("user", "c" * 5),
    ("assistant", "d" * 5),
    ("user", "e" * 5),
)


def contents(fitted: chats.Fitted) -> list[str]:
    return [message.content for message in fitted.conversation.messages]


@pytest.mark.parametrize(
    "text, policy",
    [("error", Policy("error")), ("drop_oldest", Policy("drop_oldest")), (" keep_last:6 ", Policy("keep_last", 6))],
)
def test_parse_policy(text, policy):
    assert parse_policy(text) == policy and str(parse_policy(str(policy))) == str(policy)


@pytest.mark.parametrize(
    "text", ["keep_last", "keep_last:0", "keep_last:-1", "keep_last:x", "drop", "error:1", "", None, 5]
)
def test_parse_policy_refuses_others(text):
    with pytest.raises(
        ChatError,
        match=r"^context policy .*: expected error, drop_oldest or keep_last:N "
        r"\(N messages, at least 1\)$",
    ):
        parse_policy(text)


def test_error_policy():
    fitted = fit(ROLE_PLAY, characters, 35)
    assert (fitted.conversation, fitted.dropped, fitted.tokens, fitted.record()) == (
        ROLE_PLAY,
        0,
        35,
        {"policy": "error", "dropped": 0},
    )
    with pytest.raises(ChatError) as caught:
        fit(ROLE_PLAY, characters, 34)
    assert str(caught.value) == (
        "chat.yaml: the conversation is 35 tokens but the context holds 34 per column; "
        "shorten it, or choose the context policy drop_oldest or keep_last:N"
    )


@pytest.mark.parametrize("limit, dropped", [(35, 0), (34, 1), (30, 1), (29, 2), (20, 3), (16, 4), (15, 4)])
def test_drop_oldest_drops_the_fewest_oldest_turns(limit, dropped):
    fitted = fit(ROLE_PLAY, characters, limit, "drop_oldest")
    assert fitted.dropped == dropped and fitted.record() == {"policy": "drop_oldest", "dropped": dropped}
    assert contents(fitted) == ["S" * 10] + ["a" * 5, "b" * 5, "c" * 5, "d" * 5, "e" * 5][dropped:]
    assert fitted.tokens == characters(fitted.conversation.messages) <= limit


def test_drop_oldest_keeps_the_last_user_message_and_what_follows():
    chat = conversation_of(
        ("system", "S"), ("user", "aaaa"), ("assistant", "bbbb"), ("user", "cc"), ("assistant", "dd")
    )
    assert contents(fit(chat, characters, 5, "drop_oldest")) == ["S", "cc", "dd"]
    with pytest.raises(ChatError) as caught:
        fit(chat, characters, 4, "drop_oldest")
    assert str(caught.value) == (
        "chat.yaml: the context holds 4 per column, but even the system prompt and the messages "
        "from the last user message on are 5 tokens"
    )


@pytest.mark.parametrize(
    "chat",
    [
        conversation_of(("system", "S" * 9)),
        conversation_of(("user", "a" * 9)),
        conversation_of(("system", "S"), ("user", "a" * 8)),
    ],
)
def test_drop_oldest_with_nothing_to_drop(chat):
    with pytest.raises(ChatError, match="even the system prompt and the messages from the last user message on are 9"):
        fit(chat, characters, 8, "drop_oldest")


def test_drop_oldest_without_system_prompt_or_user_message():
    chat = conversation_of(("assistant", "aaa"), ("assistant", "bbb"), ("assistant", "ccc"))
    assert contents(fit(chat, characters, 4, "drop_oldest")) == ["ccc"]


def test_drop_oldest_counts_log_n_times():
    chat = conversation_of(("system", "S"), *[(("user", "assistant")[i % 2], "x" * (1 + i % 7)) for i in range(2001)])
    calls = []

    def counting(messages: Sequence[Message]) -> int:
        calls.append(len(messages))
        return characters(messages)

    fitted = fit(chat, counting, 3000, "drop_oldest")
    brute = next(k for k in range(2001) if characters(chat.messages[:1] + chat.messages[1 + k :]) <= 3000)
    assert fitted.dropped == brute and len(calls) <= 2 + 11


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 20), min_size=1, max_size=30), system=st.integers(0, 10), limit=st.integers(1, 300)
)
def test_drop_oldest_matches_a_linear_scan(lengths, system, limit):
    turns = [(("user", "assistant")[i % 2], "x" * n) for i, n in enumerate(lengths)]
    chat = conversation_of(*([("system", "S" * system)] if system else []), *turns)
    head = 1 if system else 0
    last_user = max(i for i, (role, _) in enumerate(turns) if role == "user")
    fitting = [k for k in range(last_user + 1) if characters(chat.messages[:head] + chat.messages[head + k :]) <= limit]
    if fitting:
        assert fit(chat, characters, limit, "drop_oldest").dropped == fitting[0]
    else:
        with pytest.raises(ChatError):
            fit(chat, characters, limit, "drop_oldest")


def test_keep_last_keeps_exactly_n_even_when_more_fits():
    fitted = fit(ROLE_PLAY, characters, 100, "keep_last:2")
    assert (contents(fitted), fitted.dropped, fitted.record()) == (
        ["S" * 10, "d" * 5, "e" * 5],
        3,
        {"policy": "keep_last:2", "dropped": 3},
    )
    assert fit(ROLE_PLAY, characters, 100, "keep_last:10").dropped == 0
    with pytest.raises(ChatError) as caught:
        fit(ROLE_PLAY, characters, 19, "keep_last:2")
    assert str(caught.value) == (
        "chat.yaml: the system prompt and the last 2 messages are 20 tokens but the context "
        "holds 19 per column; keep fewer, or choose drop_oldest"
    )


@pytest.mark.parametrize("limit", [0, -5, True, 2.5, "100"])
def test_fit_refuses_a_bad_limit(limit):
    with pytest.raises(ChatError, match=r"^context limit: expected a positive whole number of tokens, got "):
        fit(ROLE_PLAY, characters, limit)


def test_imported_role_play_fits_with_consecutive_assistant_turns_kept():
    marisa = load_chat(MARISA)
    fitted = fit(marisa, characters, 80, "drop_oldest")  # contents of 32, 23, 48, 12, 13, 30, 19, 14 characters
    assert [m.role for m in fitted.conversation.messages] == ["assistant", "assistant", "system", "user"]
    assert fitted.dropped == 4
