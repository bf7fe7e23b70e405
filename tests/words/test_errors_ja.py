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
    assert localize(str(caught.value), "ja") == "column 1: top_k: -5 は範囲外です（0 〜 1000000 を指定してください）"
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


@pytest.mark.parametrize(
    "name, japanese",
    [
        ("", "プリセット名が空です"),
        ("a/b", "プリセット名 'a/b' はパスのように見えます。/ や \\ を含まない名前にしてください"),
        ("---", "プリセット名 '---' には文字か数字が少なくとも1つ必要です"),
        ("con", "プリセット名 'con' は Windows で予約されています。別の名前にしてください"),
    ],
)
def test_the_presets_tabs_notes_on_a_bad_name_are_japanese(name, japanese) -> None:
    from samplerlab.presets.store import PresetError, check_name

    with pytest.raises(PresetError) as caught:
        check_name(name)
    assert localize(str(caught.value), "ja") == japanese


@pytest.mark.parametrize(
    "text, japanese",
    [
        ("name: x\ndescripton: a\n", "upload: 不明なキー 'descripton'（'description' のことですか？）"),
        (
            "name: x\nsettings: {top_k: 1}\n",
            "upload: 不明なキー 'settings'。プリセットでは設定を settings: の下ではなく",
        ),
        ("description: a\n", "upload: name がありません。「name: my preset」のように追加してください"),
        ("name: x\ndescription_ja: 5\n", "upload: description_ja: テキストを指定してください（受け取った値: 5）"),
        (
            "name: x\nt: !!python/object:os.system ls\n",
            "upload: 2 行目: タグ 'tag:yaml.org,2002:python/object:os.system'",
        ),
        ("name: x\n" + "#" * (65 << 10), "upload: ファイルが 64 KiB を超えています。プリセットは数行のはずです"),
    ],
)
def test_an_uploaded_presets_problem_is_japanese(text, japanese) -> None:
    from samplerlab.presets.store import PresetError, parse_preset_text

    with pytest.raises(PresetError) as caught:
        parse_preset_text(text)
    assert localize(str(caught.value), "ja").startswith(japanese)


def test_the_experiments_tabs_notes_are_japanese(tmp_path) -> None:
    """A stopped experiment's note and a comparison that cannot be saved, as the library words them."""
    from samplerlab.events import Request
    from samplerlab.runs.comparisons import save_comparison
    from samplerlab.runs.experiments import ExperimentError

    with pytest.raises(ExperimentError) as caught:
        save_comparison("mine", Request("hi"), [], None, tmp_path)  # refused before the backend is read
    assert localize(str(caught.value), "ja") == "保存するものがありません。先に比較を実行してください"
    stopped = (
        "experiments/x.yaml: stopped after 1 of 2 columns; no result file is written (a stopped run does not reproduce)"
    )
    assert localize(stopped, "ja") == (
        "experiments/x.yaml: 2 列中 1 列で停止しました。結果ファイルは書き出しません（途中で止めた実行は再現できないため）"
    )
