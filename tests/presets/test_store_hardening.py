"""Preset names that deceive, two saves racing for one name, and listings that re-read nothing unchanged."""

from __future__ import annotations

import os
import threading

import pytest

from samplerlab.presets.store import (
    Preset,
    PresetError,
    check_name,
    list_presets,
    load_preset,
    preset_yaml,
    save_preset,
)
from samplerlab.schema.params import Settings
from samplerlab.words.errors_ja import localize


@pytest.mark.parametrize(
    "name, code",
    [
        ("greedy\u200b", "200B"),
        ("\u2060greedy", "2060"),
        ("\u202eevil", "202E"),
        ("a\u200db", "200D"),
        ("x\ufeff", "FEFF"),
    ],
)
def test_names_with_invisible_formatting_characters_are_refused(name, code, tmp_path):
    message = (
        f"the preset name {name!r} contains an invisible formatting character (U+{code}); type the name without it"
    )
    with pytest.raises(PresetError) as caught:
        check_name(name)
    assert str(caught.value) == message
    with pytest.raises(PresetError, match="invisible formatting character"):
        save_preset(Preset(name), tmp_path)
    assert "目に見えない書式文字" in localize(message, "ja")


@pytest.mark.parametrize("name", ["ｇｒｅｅｄｙ", "GREEDY", "ᵍreedy"])
def test_names_that_look_like_a_builtin_after_nfkc_are_refused(name, tmp_path):
    with pytest.raises(PresetError) as caught:
        save_preset(Preset(name, settings=Settings({"temperature": 2})), tmp_path)
    assert str(caught.value) in (
        f"{name!r} looks the same as the built-in preset 'greedy'; save yours under another name",
        f"{name!r} is the name of a built-in preset; save yours under another name",
    )
    assert list(tmp_path.iterdir()) == []
    assert "組み込みプリセット" in localize(str(caught.value), "ja")


def test_a_hand_placed_lookalike_of_a_builtin_is_a_problem_not_a_preset(tmp_path):
    (tmp_path / "fake.yaml").write_text("name: ｇｒｅｅｄｙ\ntemperature: 2\n", encoding="utf-8")
    presets, problems = list_presets(tmp_path)
    assert [p.name for p in presets if not p.builtin] == []
    assert problems == [
        f"{tmp_path / 'fake.yaml'}: the name 'ｇｒｅｅｄｙ' is already used by a built-in preset; rename this one"
    ]
    assert load_preset("greedy", tmp_path).builtin


def test_of_two_saves_racing_for_one_name_exactly_one_wins_and_the_other_hears_so(tmp_path):
    """Both pass the scan for an existing preset before either writes; only a create that fails when
    the file exists (a hard link) tells the loser. Before, both said saved and the last one's file won."""
    racers = 8
    for round_ in range(10):
        name, start = f"race {round_}", threading.Barrier(racers)
        outcomes: dict[int, str] = {}

        def save(index: int, name: str = name, start: threading.Barrier = start, outcomes: dict = outcomes) -> None:
            start.wait()
            try:
                save_preset(Preset(name, settings=Settings({"top_k": index + 1})), tmp_path)
                outcomes[index] = "saved"
            except PresetError as error:
                outcomes[index] = str(error)

        threads = [threading.Thread(target=save, args=(i,)) for i in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [i for i, outcome in outcomes.items() if outcome == "saved"]
        assert len(winners) == 1, outcomes
        assert all("already exists" in outcomes[i] for i in outcomes if i not in winners)
        assert load_preset(name, tmp_path).settings.top_k == winners[0] + 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_a_listing_reads_each_file_once_until_it_changes(tmp_path):
    save_preset(Preset("mine", settings=Settings({"top_k": 3})), tmp_path)
    (tmp_path / "broken.yaml").write_text("name: [\n", encoding="utf-8")
    first, first_problems = list_presets(tmp_path)
    again, again_problems = list_presets(tmp_path)
    assert all(a is b for a, b in zip(first, again)) and first_problems == again_problems  # the same objects
    path = tmp_path / "mine.yaml"
    path.write_text(preset_yaml(Preset("mine", settings=Settings({"top_k": 4}))), encoding="utf-8")
    assert load_preset("mine", tmp_path).settings.top_k == 4  # an edit is seen at once
    before = load_preset("mine", tmp_path)
    os.utime(path, ns=(1, 1))  # a touch, too, reads it again
    assert load_preset("mine", tmp_path) is not before and load_preset("mine", tmp_path) is load_preset(
        "mine", tmp_path
    )
