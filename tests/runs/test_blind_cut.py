"""A text the share time limit cut (issue 18, item 2): the votes file records after how many tokens it was
cut, and ``check_votes`` generates exactly those tokens again; a file that does not say is named, not
silently failed. On the real embedded model; what it writes is never hard-coded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samplerlab.backends.local import LocalBackend
from samplerlab.runs.bench import end_tokens
from samplerlab.runs.blind import BlindSession, check_votes
from samplerlab.runs.votes import Contender, VotesError, load_votes
from samplerlab.schema.params import Settings


@pytest.fixture(scope="module")
def cut_file(model, tmp_path_factory) -> Path:
    """One vote on a pair whose 'endless' text (end tokens banned, 1500 tokens asked) the 3 s limit cut."""
    path = tmp_path_factory.mktemp("cut") / "votes.jsonl"
    banned = {token: False for token in end_tokens(model)}
    contenders = [
        Contender("endless", Settings({"max_tokens": 1500, "logit_bias": banned})),
        Contender("short", Settings({"max_tokens": 3})),
    ]
    session = BlindSession.start(LocalBackend(model), contenders, ["Write a long story."], [5], path)
    session.seconds = 3.0
    session.next_pair("v", ahead=False)
    session.vote("v", "A")
    return path


def endless_side(path: Path) -> tuple[dict, int]:
    line = json.loads(path.read_text(encoding="utf-8").splitlines()[1])
    return line, 0 if line["left"] == "endless" else 1


def test_the_cut_text_records_its_token_count_and_regenerates_to_it(model, cut_file: Path) -> None:
    line, side = endless_side(cut_file)
    assert line["finish"][side] == "cancelled" and line["finish"][1 - side] == "length"
    cut = line["cut"]
    assert isinstance(cut[side], int) and cut[side] > 0 and cut[1 - side] is None
    report = check_votes(LocalBackend(model), load_votes(cut_file))
    assert report.reproduced, report.describe()
    assert report.cut == 1
    assert report.describe().startswith("reproduced 2 columns, 1 of them cut before their end")


def test_a_cut_text_whose_count_is_missing_or_wrong_is_named(model, cut_file: Path, tmp_path: Path) -> None:
    header = cut_file.read_text(encoding="utf-8").splitlines()[0]
    line, _ = endless_side(cut_file)
    unsaid = dict(line)
    del unsaid["cut"]  # as the files before this record were written
    (tmp_path / "unsaid.jsonl").write_text(f"{header}\n{json.dumps(unsaid)}\n", encoding="utf-8")
    report = check_votes(LocalBackend(model), load_votes(tmp_path / "unsaid.jsonl"))
    assert report.mismatch == (
        "line 2: 'endless' (prompt 0, seed 5) was cut before its end (ending 'cancelled') and the file does not "
        "say after how many tokens, so it cannot be generated again; vote on a new test to record it"
    )
    shorter = dict(line, cut=[n - 1 if n else n for n in line["cut"]])
    (tmp_path / "shorter.jsonl").write_text(f"{header}\n{json.dumps(shorter)}\n", encoding="utf-8")
    report = check_votes(LocalBackend(model), load_votes(tmp_path / "shorter.jsonl"))
    assert not report.reproduced and report.mismatch.startswith("line 2: 'endless' (prompt 0, seed 5) differs at")


def test_a_cut_on_a_text_that_ended_is_refused_in_one_line(cut_file: Path, tmp_path: Path) -> None:
    header = cut_file.read_text(encoding="utf-8").splitlines()[0]
    line, side = endless_side(cut_file)
    for cut, message in (
        ([3, 3], f"key 'cut': text {2 - side} ended 'length', so it was not cut"),
        (["3", None], "key 'cut': expected two token counts (or null for a text not cut)"),
    ):
        (tmp_path / "bad.jsonl").write_text(f"{header}\n{json.dumps(dict(line, cut=cut))}\n", encoding="utf-8")
        with pytest.raises(VotesError) as caught:
            load_votes(tmp_path / "bad.jsonl")
        assert str(caught.value) == f"{tmp_path / 'bad.jsonl'}:2: {message}"
