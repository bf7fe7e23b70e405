"""Error messages follow the language: translated by their shape at the edge, names and values kept."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest
from click.testing import CliRunner

from samplerlab.backends.local import LocalBackend
from samplerlab.cli.main import main
from samplerlab.schema.params import Settings, SettingsError
from samplerlab.words.errors_ja import localize


def test_known_shapes_are_translated_with_their_names_and_values_and_others_stay_english() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings({"top_k": -5}, source="column 1")
    assert localize(str(caught.value), "ja") == "column 1: top_k: -5 は範囲外です（0 〜 1e+06 を指定してください）"
    assert localize(str(caught.value), "en") == str(caught.value)
    assert localize("something nobody wrote a pattern for", "ja") == "something nobody wrote a pattern for"


@pytest.mark.parametrize(
    "arguments, line",
    [
        (
            ["compare", "hi", "--column", "tempurature=1"],
            "エラー: --column 'tempurature=1': 不明な設定 'tempurature'（'temperature' のことですか？）",
        ),
        (
            ["compare", "hi", "--column", "temperature=abc"],
            "エラー: --column 'temperature=abc': temperature: 数値を指定してください（受け取った値: 'abc'）",
        ),
        (
            ["bench", "--settings", "4"],
            "エラー: bench: --settings と --seeds は一緒に指定してください（--settings 4 --seeds 16 で 64 列のスイープ）",
        ),
        (
            ["compare", "hi", "--server", "127.0.0.1:9"],
            "エラー: http://127.0.0.1:9: 接続できません（接続が拒否されました）。そこで llama-server は動いていますか？",
        ),
    ],
)
def test_the_cli_answers_in_japanese_with_lang_ja(arguments, line) -> None:
    result = CliRunner().invoke(main, ["--lang", "ja", *arguments])
    assert result.exit_code == 1 and result.output.strip() == line


def test_the_app_answers_in_the_pages_language(model) -> None:
    from samplerlab.app.ui import Callbacks
    from samplerlab.app.widgets import widget_values
    from samplerlab.app.workbench import Workbench

    calls = Callbacks(Workbench(LocalBackend(model)))
    flat = [0, 8, "", *widget_values(Settings()), *widget_values(Settings())]
    with pytest.raises(gr.Error) as caught:
        list(calls.run(SimpleNamespace(session_hash="ja"), "ja", "chat", "", "", "", "error", "", 2, *flat))
    assert caught.value.message == "プロンプトが空です"


def test_an_api_answer_with_a_token_id_logit_bias_serialises_and_deep_messages_are_one_line(model) -> None:
    import orjson

    from samplerlab.app.ui import Callbacks
    from samplerlab.app.workbench import Workbench
    from samplerlab.chats.chat_files import ChatError
    from samplerlab.chats.conversation import parse_history

    calls = Callbacks(Workbench(LocalBackend(model)))
    columns = '[{"label": "a", "settings": {"logit_bias": {"15": -5, "2": false}}}]'
    *_, answer = calls.compare_api("hi", 0, 4, columns, request=SimpleNamespace(session_hash="bias"))
    assert orjson.loads(orjson.dumps(answer))["columns"][0]["settings"]["logit_bias"] == {"15": -5.0, "2": None}
    with pytest.raises(ChatError, match="^messages: nested more than 32 levels deep$"):
        parse_history("[" * 100_000 + "]" * 100_000, "messages")
