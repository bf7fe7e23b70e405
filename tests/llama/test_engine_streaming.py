"""What the engine streams adds up to what it returns; prompts, contexts and cancel around a run."""

from __future__ import annotations

import shutil
import struct
import threading
from itertools import accumulate
from pathlib import Path

import llama_cpp
import pytest

from samplerlab.llama.engine import (
    CONTEXTS,
    Column,
    ColumnDone,
    Request,
    TokenEvent,
    generate,
    prompt_text,
    prompt_tokens,
    run,
)
from samplerlab.llama.models import Model
from samplerlab.llama.textstream import TextStream
from samplerlab.schema.load_settings import LoadSettings
from samplerlab.schema.params import Settings

POEM = Request("Write a short poem praising light-emitting diodes.")
JAPANESE = Request("日本語で自己紹介してください。こんにちは、私は")


# -- TextStream on its own ----------------------------------------------------------------------


def pushes(stream: TextStream, pieces: list[bytes]) -> list[str]:
    return [stream.push(piece) for piece in pieces]


@pytest.mark.parametrize(
    "stop, pieces, shown, finish, text, stopped_by",
    [
        # the review's case: "o" could start "o th", so it waits; the stop then removes it
        (["o th"], [b"Hello", b" th", b"ere"], ["Hell", "", ""], "", "Hell", "o th"),
        # a false alarm: the held "o" comes out with the text that rules the stop out
        (["o th"], [b"Hello", b" world"], ["Hell", "o world"], "", "Hello world", None),
        # the longest possible start is held ("lo", not just "o"), and released whole
        (["lo w"], [b"Hel", b"lo", b" there"], ["He", "l", "lo there"], "", "Hello there", None),
        # generation ends while a possible start is held: finish releases it
        (["o th"], [b"Hello"], ["Hell"], "o", "Hello", None),
        # a stop found inside held text releases what came before it
        (["cd", "bcx"], [b"abc", b"d"], ["a", "b"], "", "ab", "cd"),
        # Japanese stop string arriving over three pushes
        (
            ["です。"],
            ["私は学生で".encode(), "す".encode(), "。よろしく".encode()],
            ["私は学生", "", ""],
            "",
            "私は学生",
            "です。",
        ),
        # a stop whose first character is split across tokens (は = e3 81 af)
        (["はこ"], [b"\xe3\x81", b"\xaf", "こんにちは".encode()], ["", "", ""], "", "", "はこ"),
        # no stop strings: only an unfinished character is held, and finish drops its bytes
        ([], [b"\xe3\x81", b"\x93\xe3"], ["", "こ"], "", "こ", None),
    ],
)
def test_text_stream_releases_only_certain_text(stop, pieces, shown, finish, text, stopped_by):
    stream = TextStream(stop)
    assert pushes(stream, pieces) == shown
    assert stream.finish() == finish
    assert (stream.text, stream.stopped_by) == (text, stopped_by)
    assert "".join(shown) + finish == text


# -- the engine's events ------------------------------------------------------------------------


def greedy(*stop: str) -> Settings:
    return Settings({"temperature": 0, "max_tokens": 20, "stop": list(stop)})


def stream(model: Model, request: Request, columns: list[Column]) -> tuple[list[list[TokenEvent]], list[ColumnDone]]:
    events: list[list[TokenEvent]] = [[] for _ in columns]
    done: list[ColumnDone | None] = [None] * len(columns)
    for event in generate(model, request, columns):
        if isinstance(event, TokenEvent):
            events[event.column].append(event)
        else:
            done[event.column] = event
    return events, done


def stop_from_inside_a_token(model: Model, column) -> tuple[str, int, int]:
    """A stop string that the reference run itself holds, starting at a token's last character and
    running over the next two tokens: (stop, token index, its character offset in the text). Taken
    from this machine's own run, since the text depends on the CPU's kernels."""
    texts = [model.token_text(t.token_id) for t in column.tokens]
    offset = 0
    for index, text in enumerate(texts[:-2]):
        offset += len(text)
        stop = text[-1:] + texts[index + 1] + texts[index + 2]
        earlier = column.text[: offset - 1]
        held = [k for k in range(1, len(stop)) if (earlier + text[-1]).endswith(stop[:k])]
        if len(text) >= 3 and text.isascii() and column.text.find(stop) == offset - 1 and held == [1]:
            return stop, index, offset - 1
    pytest.skip(f"no token of the reference run can start a stop string: {column.text!r}")


def stop_across_a_split_character(model: Model, column) -> str:
    """Two characters of the reference text whose first one is split between two byte tokens."""
    data = b""
    for token in column.tokens:
        data += model.piece(token.token_id)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            whole = len(data.decode("utf-8", "ignore"))
            if len(column.text) >= whole + 2 and "\ufffd" not in column.text[whole : whole + 2]:
                return column.text[whole : whole + 2]
    pytest.skip(f"no character of the reference run is split between tokens: {column.text!r}")


@pytest.mark.parametrize("request_", [POEM, JAPANESE], ids=["english", "japanese"])
def test_streamed_text_and_tail_add_up_to_the_final_text(model: Model, request_):
    reference = run(model, request_, [Column("free", greedy())]).columns[0]
    inside = (
        stop_from_inside_a_token(model, reference)[0]
        if request_ is POEM
        else stop_across_a_split_character(model, reference)
    )
    middle = reference.text[len(reference.text) // 2 :][:3]
    # a stop that the last two characters start: they are held to the end and come out as the tail
    stops = [inside, middle, "\x07xyz", reference.text[-2:] + "\x07"]
    found = [True, True, False, False]
    assert [stop in reference.text for stop in stops] == found
    events, done = stream(model, request_, [Column(stop, greedy(stop)) for stop in stops])
    for stop, texts, end in zip(stops, ([e.text for e in column] for column in events), done):
        expected = reference.text[: reference.text.find(stop)] if stop in reference.text else reference.text
        assert end.result.text == expected
        assert "".join(texts) + end.tail == expected
        assert all(expected.startswith(shown) for shown in accumulate(texts)), "streamed text the result lacks"
        if stop in reference.text:
            assert end.tail == "" and stop not in "".join(texts)
    assert done[-1].tail == reference.text[-2:]
    assert [end.result.finish_reason for end in done] == ["stop" if f else "length" for f in found]


def test_a_stop_starting_inside_a_token_holds_that_part_back(model: Model):
    reference = run(model, POEM, [Column("free", greedy())]).columns[0]
    stop, index, at = stop_from_inside_a_token(model, reference)
    events, done = stream(model, POEM, [Column("stop", greedy(stop))])
    shown = "".join(e.text for e in events[0][: index + 1])
    assert shown == reference.text[:at] and done[0].result.text == reference.text[:at]


# -- prompt tokens ------------------------------------------------------------------------------


def add_bos_copy(source: Path, target: Path) -> Path:
    """The embedded model with tokenizer.ggml.add_bos_token set to true (a one-byte edit)."""
    key = b"tokenizer.ggml.add_bos_token"
    shutil.copyfile(source, target)
    with target.open("r+b") as handle:
        head = handle.read(1 << 16)
        at = head.index(key) + len(key)
        assert struct.unpack("<IB", head[at : at + 5]) == (7, 0), "expected a false GGUF bool"
        handle.seek(at + 4)
        handle.write(b"\x01")
    return target


def test_chat_prompts_get_no_second_bos(model: Model, model_path: Path, tmp_path: Path, monkeypatch):
    """A model that adds BOS, with a template that writes bos_token, as Llama 3's does."""
    with Model(add_bos_copy(model_path, tmp_path / "bos.gguf")) as bos_model:
        bos = llama_cpp.llama_vocab_bos(bos_model.vocab)
        template = bos_model.chat_template()
        monkeypatch.setattr(bos_model, "chat_template", lambda: "{{ bos_token }}" + template)
        text = prompt_text(bos_model, POEM)
        doubled = bos_model.tokenize(text, add_special=True)
        chat_tokens = prompt_tokens(bos_model, POEM, text)
        raw_tokens = prompt_tokens(bos_model, Request("Hi", "raw"), "Hi")
    assert doubled[:2] == [bos, bos], "the copy should add a BOS of its own"
    assert chat_tokens == doubled[1:]
    assert raw_tokens == [bos, *model.tokenize("Hi", add_special=False)]


def test_smollm2_chat_tokens_are_unchanged(model: Model):
    """SmolLM2 adds no BOS of its own, so dropping add_special changes nothing for it."""
    text = prompt_text(model, POEM)
    assert llama_cpp.llama_vocab_get_add_bos(model.vocab) is False
    assert prompt_tokens(model, POEM, text) == model.tokenize(text, add_special=True)


# -- contexts and cancel ------------------------------------------------------------------------


def test_one_context_per_model_whatever_the_column_counts(model_path: Path, monkeypatch):
    freed = []
    free = llama_cpp.llama_free
    monkeypatch.setattr(llama_cpp, "llama_free", lambda context: (freed.append(context), free(context)))
    with Model(model_path, LoadSettings({"n_ctx": 128})) as small:
        for count in (1, 3, 2):
            run(small, Request("Hi", "raw"), [Column(str(i), greedy()) for i in range(count)])
            assert CONTEXTS.columns(small) == count
        assert len(freed) == 2
    assert len(freed) == 3 and CONTEXTS.columns(small) is None


def test_cancel_is_checked_between_rows_when_unbatched(model_path: Path):
    cancel = threading.Event()
    after_cancel, done = [], []
    columns = [Column(str(i), Settings({"temperature": 1.0, "seed": i, "max_tokens": 8})) for i in range(3)]
    with Model(model_path, LoadSettings({"batched": False, "n_ctx": 256})) as unbatched:
        for event in generate(unbatched, POEM, columns, cancel=cancel):
            if isinstance(event, TokenEvent) and cancel.is_set():
                after_cancel.append(event)
            if isinstance(event, TokenEvent) and event.index == 1:
                cancel.set()  # column 0's second token: the first decoded step
            if isinstance(event, ColumnDone):
                done.append((event.column, event.result.finish_reason, len(event.result.tokens)))
    assert after_cancel == []
    assert sorted(done) == [(0, "cancelled", 2), (1, "cancelled", 1), (2, "cancelled", 1)]
