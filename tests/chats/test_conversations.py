"""Conversations as input: one rendering rule, context policies, experiment files, the CLI and bench, on the real model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.backends.local import LocalBackend
from samplerlab.chats.chat_files import Message, load_chat
from samplerlab.chats.conversation import request_messages
from samplerlab.cli.main import main
from samplerlab.events import Column, GenerationError, Request, collect
from samplerlab.llama.engine import generate, prompt_text, run
from samplerlab.llama.models import Model
from samplerlab.presets.store import load_preset
from samplerlab.report.render import side_by_side
from samplerlab.runs.bench import PROMPT as BENCH_PROMPT
from samplerlab.runs.bench import bench_request
from samplerlab.runs.comparisons import run_file
from samplerlab.runs.experiments import ExperimentError, parse_experiment
from samplerlab.runs.results import load_result
from samplerlab.runs.runner import check_result
from samplerlab.schema.load_settings import LoadSettings
from samplerlab.schema.params import KNOB_BY_NAME, Settings

CHATS = Path(__file__).parent.parent / "data" / "chats"
HISTORY = (Message("user", "Hi, my name is Ann."), Message("assistant", "Hello Ann! How can I help?"))
GREEDY = [Column("greedy", Settings({"temperature": 0, "max_tokens": 6}))]
SMOL_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"  # the template's default


def turn(role: str, text: str) -> str:
    return f"<|im_start|>{role}\n{text}<|im_end|>\n"


# -- one rule for both backends -------------------------------------------------------------------
def test_the_messages_are_system_then_history_then_the_prompt():
    request = Request("What is my name?", system="Be brief.", history=HISTORY)
    assert request_messages(request) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi, my name is Ann."},
        {"role": "assistant", "content": "Hello Ann! How can I help?"},
        {"role": "user", "content": "What is my name?"},
    ]
    assert request_messages(Request("hi")) == [{"role": "user", "content": "hi"}]
    assert request_messages(Request("", history=HISTORY[:1])) == [{"role": "user", "content": "Hi, my name is Ann."}]


@pytest.mark.parametrize(
    "request_, message",
    [
        (
            Request("", history=HISTORY),
            "the conversation ends with an assistant turn; give a prompt (the next user message)",
        ),
        (Request(""), "the prompt is empty"),
        (Request("x", "raw", history=HISTORY), "raw mode sends the prompt as written; a conversation needs chat mode"),
    ],
)
def test_what_cannot_be_sent_is_one_line(model, request_, message):
    with pytest.raises(GenerationError) as error:
        prompt_text(model, request_)
    assert str(error.value) == message


def test_the_history_is_rendered_by_the_models_template(model):
    request = Request("What is my name?", history=HISTORY)
    assert prompt_text(model, request) == (
        turn("system", SMOL_SYSTEM)
        + turn("user", "Hi, my name is Ann.")
        + turn("assistant", "Hello Ann! How can I help?")
        + turn("user", "What is my name?")
        + "<|im_start|>assistant\n"
    )
    as_history = Request("", history=HISTORY + (Message("user", "What is my name?"),))
    assert prompt_text(model, as_history) == prompt_text(model, request)
    first, again = (run(model, r, GREEDY).columns[0] for r in (request, as_history))
    assert [t.token_id for t in first.tokens] == [t.token_id for t in again.tokens] and first.text == again.text


def test_a_single_prompt_renders_as_before(model):
    assert prompt_text(model, Request("hi", system="S")) == model.chat_prompt(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}]
    )
    assert prompt_text(model, Request("raw text", "raw")) == "raw text"


# -- the context policy ---------------------------------------------------------------------------
LONG = tuple(Message("user" if i % 2 == 0 else "assistant", f"Message {i}: " + "word " * 30) for i in range(8))


@pytest.fixture(scope="module")
def small(model_path) -> Model:
    loaded = Model(model_path, LoadSettings({"n_ctx": 256}))
    yield loaded
    loaded.close()


def generated(model: Model, request: Request) -> tuple[dict, str]:
    info: dict = {}
    columns = collect(generate(model, request, GREEDY, info=info), 1)
    return info, columns[0].text


def test_a_conversation_too_long_for_the_context_is_one_line_by_default(small):
    with pytest.raises(GenerationError) as error:
        generated(small, Request("And now?", history=LONG))
    assert re.fullmatch(
        r"chat: the conversation is \d+ tokens but the context holds 255 per column; shorten it, "
        r"or choose the context policy drop_oldest or keep_last:N",
        str(error.value),
    )


def test_drop_oldest_keeps_the_most_that_fits_and_records_it(small):
    info, text = generated(small, Request("And now?", history=LONG, context_policy="drop_oldest"))
    dropped = info["context"]["dropped"]
    assert info["context"] == {"policy": "drop_oldest", "dropped": dropped} and 0 < dropped < len(LONG)
    kept = Request("And now?", history=LONG[dropped:])
    assert info["prompt_text"] == prompt_text(small, kept) and info["prompt_tokens"] <= 255
    one_more = Request("And now?", history=LONG[dropped - 1 :])
    assert len(small.tokenize(prompt_text(small, one_more), False)) > 255  # the fewest dropped that fit
    assert generated(small, kept)[1] == text


def test_keep_last_keeps_that_many_messages_even_when_more_fit(small):
    info, _ = generated(small, Request("And now?", system="Be brief.", history=LONG, context_policy="keep_last:3"))
    assert info["context"] == {"policy": "keep_last:3", "dropped": len(LONG) - 2}
    assert info["prompt_text"] == prompt_text(small, Request("And now?", system="Be brief.", history=LONG[-2:]))


def test_a_conversation_that_fits_records_that_nothing_was_dropped(model):
    info, _ = generated(model, Request("And now?", history=LONG, context_policy="drop_oldest"))
    assert info["context"] == {"policy": "drop_oldest", "dropped": 0}
    assert "context" not in generated(model, Request("And now?"))[0]


# -- experiment files ------------------------------------------------------------------------------
COLUMNS = "max_tokens: 6\ncolumns:\n  - {label: greedy, temperature: 0}\n  - {label: hot, temperature: 1.5}\n"


def run_checked(model: Model, path: Path, text: str) -> dict:
    """Run an experiment file on the session model, then check its result reproduces."""
    path.write_text(text, encoding="utf-8")
    document, written = run_file(path, out=path.with_suffix(".result.yaml"), loaded=LocalBackend(model))
    assert check_result(LocalBackend(model), load_result(written)).describe() == "reproduced 2 columns"
    return document


def test_messages_run_record_the_conversation_and_reproduce(model, tmp_path):
    text = (
        "messages:\n  - {role: user, content: 'Hi, my name is Ann.'}\n"
        "  - {role: assistant, content: 'Hello Ann! How can I help?'}\nprompt: What is my name?\n" + COLUMNS
    )
    document = run_checked(model, tmp_path / "ann.yaml", text)
    request = Request("What is my name?", history=HISTORY)
    assert document["messages"] == [{"role": m.role, "content": m.content} for m in HISTORY]
    assert document["context_policy"] == "error" and document["prompts"] == ["What is my name?"]
    ids = model.tokenize(prompt_text(model, request), False)
    assert document["rendered"] == [
        {
            "prompt_index": 0,
            "prompt_text": prompt_text(model, request),
            "prompt_tokens": len(ids),
            "prompt_token_ids": ids,
            "context": {"policy": "error", "dropped": 0},
        }
    ]
    assert document["columns"][0]["text"] == run(model, request, GREEDY).columns[0].text


def test_a_kept_reply_makes_the_next_turn_and_reproduces(model, tmp_path):
    first = run_checked(
        model, tmp_path / "one.yaml", "messages:\n  - {role: user, content: 'Name a colour.'}\n" + COLUMNS
    )
    assert first["prompts"] == [""]  # no prompt: the reply to the conversation's last user turn
    reply = first["columns"][0]["text"]
    second = run_checked(
        model,
        tmp_path / "two.yaml",
        "messages:\n  - {role: user, content: 'Name a colour.'}\n"
        f"  - {{role: assistant, content: {reply!r}}}\nprompt: And another?\n" + COLUMNS,
    )
    history = (Message("user", "Name a colour."), Message("assistant", reply))
    assert second["messages"][1] == {"role": "assistant", "content": reply}
    assert second["rendered"][0]["prompt_text"] == prompt_text(model, Request("And another?", history=history))


def test_a_chat_file_relative_to_the_experiment_with_a_policy(model, tmp_path):
    shutil.copy(CHATS / "marisa.jsonl", tmp_path / "marisa.jsonl")
    document = run_checked(
        model, tmp_path / "marisa.yaml", "chat: marisa.jsonl\ncontext_policy: keep_last:4\n" + COLUMNS
    )
    conversation = load_chat(CHATS / "marisa.jsonl")
    assert document["messages"] == [
        {"role": m.role, "content": m.content, "name": m.name} for m in conversation.messages
    ]
    assert document["rendered"][0]["context"] == {"policy": "keep_last:4", "dropped": 4}
    kept = Request("", history=conversation.messages[-4:])
    assert document["rendered"][0]["prompt_text"] == prompt_text(model, kept)


def test_chat_select_picks_an_open_webui_chat_and_a_prompt_follows_its_assistant_turn(tmp_path):
    shutil.copy(CHATS / "open-webui-export.json", tmp_path / "export.json")
    experiment = parse_experiment(
        "chat: export.json\nchat_select: Haiku about llamas\nprompt: Another one?\n" + COLUMNS,
        str(tmp_path / "e.yaml"),
        tmp_path,
    )
    expected = load_chat(CHATS / "open-webui-export.json", select="Haiku about llamas").messages
    assert experiment.history == expected and experiment.request("Another one?").history == expected


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "messages:\n  - {role: usr, content: hi}\n",
            "e.yaml:1: messages[0]: role: expected one of system, user, assistant, got 'usr'",
        ),
        ("prompt: p\nmessages: []\n", "e.yaml:2: messages: holds no messages; expected at least one"),
        ("chat: export.json\n", "e.yaml:1: chat: ends with an assistant turn; give prompt (the next user message)"),
        ("chat: missing.json\n", "e.yaml:1: chat: {dir}/missing.json: cannot read it (No such file or directory)"),
        (
            "chat: export.json\nchat_select: 7\nprompt: p\n",
            "e.yaml:1: chat: {dir}/export.json: no chat 7; it holds 2 chats (0: 'Min-p explained', 1: 'Haiku about llamas'); "
            "select= an index or title",
        ),
        ("prompt: p\nchat_select: 1\n", "e.yaml:2: chat_select: picks one chat of a chat: file; give chat as well"),
        (
            "prompt: p\ncontext_policy: drop_oldest\n",
            "e.yaml:2: context_policy: applies to a conversation; give messages or chat as well",
        ),
        (
            "messages: [{role: user, content: hi}]\ncontext_policy: keep_last:0\n",
            "e.yaml:2: context_policy: context policy 'keep_last:0': expected error, drop_oldest or keep_last:N "
            "(N messages, at least 1)",
        ),
        (
            "mode: raw\nprompt: p\nmessages: [{role: user, content: hi}]\n",
            "e.yaml:3: messages: only applies in chat mode; remove it, or use mode: chat",
        ),
    ],
)
def test_conversation_keys_are_checked_with_file_and_line(tmp_path, text, message):
    shutil.copy(CHATS / "open-webui-export.json", tmp_path / "export.json")
    with pytest.raises(ExperimentError) as error:
        parse_experiment(text + COLUMNS, "e.yaml", tmp_path)
    assert str(error.value) == message.format(dir=tmp_path)


# -- the CLI and bench ------------------------------------------------------------------------------
def strip_speed(text: str) -> str:
    return re.sub(r" +", " ", re.sub(r"\d+\.\d tok/s", "N tok/s", text))


def test_compare_a_sillytavern_chats_next_reply_in_four_columns(model):
    specs = ["temperature=0", "preset=greedy,max_tokens=4", "temperature=1.5,top_k=100", "min_p=0.2"]
    args = ["compare", "--chat", str(CHATS / "marisa.jsonl"), "--max-tokens", "8", "--width", "120"]
    result = CliRunner().invoke(main, args + [option for spec in specs for option in ("--column", spec)])
    assert result.exit_code == 0, result.output
    shared = {"seed": 0, "max_tokens": 8, "stop": []}
    greedy = dict(load_preset("greedy").settings)
    columns = [
        Column(specs[0], Settings({**shared, "temperature": 0})),
        Column(specs[1], Settings({**greedy, **shared, "max_tokens": 4})),
        Column(specs[2], Settings({**shared, "temperature": 1.5, "top_k": 100})),
        Column(specs[3], Settings({**shared, "min_p": 0.2})),
    ]
    request = Request("", history=load_chat(CHATS / "marisa.jsonl").messages)
    assert strip_speed(result.stdout) == strip_speed(side_by_side(run(model, request, columns), 120)) + "\n"
    assert result.stdout.splitlines()[0].count("│") == 3 and "[length] 4 tokens" in result.stdout


def test_compare_defaults_come_from_the_schema():
    options = {option.name: option.default for option in main.commands["compare"].params}
    assert (options["seed"], options["max_tokens"]) == (
        KNOB_BY_NAME["seed"].default,
        KNOB_BY_NAME["max_tokens"].default,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["compare"], "give a PROMPT, or --chat FILE to compare the next reply of a conversation"),
        (
            ["compare", "--chat", str(CHATS / "open-webui-export.json")],
            f"{CHATS / 'open-webui-export.json'}: the conversation ends with an assistant turn; give a prompt "
            "(the next user message)",
        ),
        (["compare", "x", "--column", "preset=nope"], "--column 'preset=nope': unknown preset 'nope'"),
        (
            ["compare", "x", "--column", "preset=greedy,preset=x"],
            "--column 'preset=greedy,preset=x': preset is given twice; a column starts from one preset",
        ),
    ],
)
def test_compare_conversation_errors_are_one_line(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


@pytest.fixture(scope="module")
def untemplated(model_path, tmp_path_factory) -> Path:
    """The embedded model with its chat template key renamed (same length, so the GGUF stays valid)."""
    target = tmp_path_factory.mktemp("base") / "no-template.gguf"
    shutil.copy(model_path, target)
    with open(target, "r+b") as handle:
        head = handle.read(8 << 20)
        handle.seek(head.index(b"tokenizer.chat_template"))
        handle.write(b"tokenizer.no_chat_templ")
    return target


def test_bench_uses_raw_mode_on_a_model_without_a_chat_template(untemplated):
    assert bench_request(True) == Request(BENCH_PROMPT, "chat") and bench_request(False) == Request(BENCH_PROMPT, "raw")
    with Model(untemplated) as base:
        assert not base.info.chat_template
        assert prompt_text(base, bench_request(base.info.chat_template)) == BENCH_PROMPT
    result = CliRunner().invoke(
        main, ["bench", "--model", str(untemplated), "--columns", "1", "--tokens", "2", "--repeat", "1"]
    )
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"ratio=\d+\.\d{3}", result.output.splitlines()[-1])


# -- the app ----------------------------------------------------------------------------------------
def session(name: str):
    from types import SimpleNamespace

    return SimpleNamespace(session_hash=name)


def test_the_app_loads_a_chat_file_and_keeps_a_reply_for_the_next_turn(model):
    from samplerlab.app.conversation_panel import ConversationCallbacks
    from samplerlab.app.ui import Callbacks, build_app
    from samplerlab.app.workbench import Workbench
    from samplerlab.chats.conversation import history_text, parse_history

    bench = Workbench(LocalBackend(model))
    build_app(bench)  # the conversation panel is wired into the Compare tab
    calls = ConversationCallbacks(bench)
    shown = calls.load(str(CHATS / "openai-messages.json"))
    messages = load_chat(CHATS / "openai-messages.json").messages
    assert shown == history_text(messages) and parse_history(shown) == messages
    asked = Request("And the oldest?", history=parse_history(shown))
    list(bench.stream("me", asked, GREEDY))
    reply = bench.last("me").columns[0].text
    kept, prompt = calls.keep("en", "1", session("me"))
    assert prompt == "" and parse_history(kept) == (
        *messages,
        Message("user", "And the oldest?"),
        Message("assistant", reply),
    )
    *_, api = Callbacks(bench).compare_api(
        "And the oldest?",
        max_tokens=6,
        columns='[{"settings": {"temperature": 0}}]',
        messages=shown,
        request=session("api"),
    )
    assert api["columns"][0]["text"] == reply


def test_the_app_says_what_is_wrong_in_one_line(model, tmp_path):
    import gradio as gr

    from samplerlab.app.conversation_panel import ConversationCallbacks
    from samplerlab.app.workbench import Workbench

    calls = ConversationCallbacks(Workbench(LocalBackend(model)))
    (tmp_path / "bad.json").write_text('[{"role": "robot", "content": "hi"}]')
    with pytest.raises(gr.Error) as error:
        calls.load(str(tmp_path / "bad.json"))
    assert error.value.message == "bad.json: messages[0]: role: expected one of system, user, assistant, got 'robot'"
    with pytest.raises(gr.Error) as error:
        calls.keep("en", "1", session("nobody"))
    assert error.value.message == "Run a comparison first: there is no reply to keep"


def test_the_api_takes_its_defaults_from_the_schema():
    import inspect

    from samplerlab.app.ui import Callbacks

    parameters = inspect.signature(Callbacks.compare_api).parameters
    assert (parameters["seed"].default, parameters["max_tokens"].default) == (
        KNOB_BY_NAME["seed"].default,
        KNOB_BY_NAME["max_tokens"].default,
    )


def test_a_saved_app_comparison_with_a_conversation_reruns_the_same(model, tmp_path):
    import yaml

    from samplerlab.app.workbench import Workbench
    from samplerlab.runs.comparisons import save_comparison

    bench = Workbench(LocalBackend(model))
    asked = Request("", history=load_chat(CHATS / "openai-messages.json").messages, context_policy="keep_last:1")
    list(bench.stream("me", asked, GREEDY))
    last = bench.last("me")
    experiment, saved = save_comparison("chat", last.request, last.columns, last.backend, tmp_path, last.rendered)
    spec = yaml.safe_load(experiment.read_text())
    assert "prompt" not in spec and spec["context_policy"] == "keep_last:1" and len(spec["messages"]) == 4
    document, again = run_file(experiment, out=tmp_path / "again.yaml", loaded=LocalBackend(model))
    recorded = load_result(saved)
    assert recorded["rendered"] == document["rendered"] and recorded["rendered"][0]["context"]["dropped"] == 2
    assert [c["tokens"] for c in recorded["columns"]] == [c["tokens"] for c in document["columns"]]
