"""An experiment file's problems read in Japanese under --lang ja: each shape the parser refuses, through
the real parser, names and values kept and no English sentence left."""

from __future__ import annotations

import re

import pytest

from samplerlab.runs.experiments import ExperimentError, parse_experiment
from samplerlab.words.errors_ja import localize

C = "columns: [{settings: {}}]\n"
CASES = [
    ("", "ファイルが空です。実験には少なくとも prompt と columns が必要です"),
    ("- a\n", "実験のキー（description, model"),
    ("prompt: hi\nfoo: 1\n" + C, "foo: 不明なキー（使えるキー: description"),
    ("prompt: hi\nmode: x\n" + C, "mode: chat か raw を指定してください（受け取った値: 'x'）"),
    ("prompt: hi\nmode: raw\nsystem: s\n" + C, "system: chat モードでだけ使えます。消すか、mode: chat にしてください"),
    ("prompt: hi\nprompts: [a]\n" + C, "prompts: prompt か prompts のどちらか一方だけを書いてください"),
    ("prompt: hi\nchat_select: 1\n" + C, "chat_select: chat: のファイルから会話を1つ選ぶキーです"),
    ("prompt: hi\nmessages: []\n" + C, "messages: メッセージがありません。少なくとも1つ書いてください"),
    (C, "prompt がありません。prompt（文字列）か prompts（文字列のリスト）を書いてください"),
    (
        "prompt: hi\ncontext_policy: error\n" + C,
        "context_policy: 会話に対して使うキーです。messages か chat も書いてください",
    ),
    ("prompt: hi\n", "列がありません。columns（リスト）か sweep"),
    ("prompt: hi\nbase: {}\n" + C, "base: base は sweep でだけ使えます。設定は columns に書いてください"),
    (
        "prompt: hi\ncolumns: [" + ",".join(["{settings: {}}"] * 65) + "]\n",
        "columns: 列は 1〜64 個にしてください（受け取った数: 65）",
    ),
    ("prompt: hi\nseeds: []\n" + C, "seeds: 値は 1〜32 個にしてください（受け取った数: 0）"),
    ("prompt: hi\nsweep: {temperature: 1}\n", "sweep.temperature: 値のリストを指定してください（受け取った値: 1）"),
    ("prompt: hi\ncolumns: [{setings: {}}]\n", "columns[0].setings: 不明なキー（'settings' のことですか？）"),
    (
        "prompt: hi\ncolumns: [{settings: {samplers: zzz}}]\n",
        "samplers: 不明なサンプラー文字 'z'（使える文字: e=penalties",
    ),
    ("prompt: hi\ncolumns: [{settings: {stop: 5}}]\n", "stop: 文字列のリストを指定してください（受け取った値: 5）"),
    (
        "prompt: hi\ncolumns: [{settings: {logit_bias: {a: b}}}]\n",
        "logit_bias: 'a' のバイアスは -100 〜 100 の数か false（禁止）にしてください（受け取った値: 'b'）",
    ),
    ("prompt: hi\nmodel: {path: /x.gguf}\n" + C, "model: 'embedded'、.gguf のパス、{hf_repo: ..., hf_file: ...}"),
    ("prompt: hi\nload: {n_ctx: -4}\n" + C, "load: n_ctx: -4 は範囲外です（16 〜 1048576 を指定してください）"),
]
ENGLISH_WORDS = re.compile(r"\b(?:[a-z]{2,} ){2,}[a-z]{2,}\b")  # three English words in a row: a sentence left


@pytest.mark.parametrize("text, japanese", CASES)
def test_an_experiment_files_problem_reads_in_japanese(text, japanese) -> None:
    with pytest.raises(ExperimentError) as caught:
        parse_experiment(text, source="x.yaml")
    english = str(caught.value)
    shown = localize(english, "ja")
    assert japanese in shown, shown
    assert shown != english and not ENGLISH_WORDS.search(shown), shown
