"""The blind test on the real embedded model: a balanced schedule, prefetched pairs, a votes file that
continues, regenerates exactly, and refuses bad or hostile files in one line."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from samplerlab.backends.local import LocalBackend
from samplerlab.presets.store import load_preset
from samplerlab.runs.blind import BlindSession, check_votes, schedule
from samplerlab.runs.votes import Contender, VotesError, load_votes

NAMES = ("llama.cpp defaults", "min-p creative", "greedy")


@pytest.fixture(scope="module")
def backend(model) -> LocalBackend:
    return LocalBackend(model)


@pytest.fixture(autouse=True)
def no_generation_left_behind():
    """The session's model is closed after the last test: no prefetch may still be generating on it."""
    yield
    for thread in [t for t in threading.enumerate() if t.name == "blind-prefetch"]:
        thread.join(300)


def contenders(count: int = 2, tokens: int = 8) -> list[Contender]:
    return [Contender(n, load_preset(n).settings.replace(max_tokens=tokens)) for n in NAMES[:count]]


def test_the_schedule_is_balanced_sided_at_random_and_a_voters_own() -> None:
    pairs = schedule(4, 2, [0, 1, 2, 3, 4, 5], 7, "alice")
    assert len(pairs) == 6 * 2 * 6
    for seed in range(6):
        for prompt in range(2):
            round_ = [frozenset((p.left, p.right)) for p in pairs if p.seed == seed and p.prompt_index == prompt]
            assert sorted(map(sorted, round_)) == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    lefts = [p.left < p.right for p in pairs]
    assert 0 < sum(lefts) < len(lefts)  # both sides occur
    assert pairs == schedule(4, 2, [0, 1, 2, 3, 4, 5], 7, "alice")
    assert pairs != schedule(4, 2, [0, 1, 2, 3, 4, 5], 7, "bob")


def test_votes_continue_from_the_file_and_the_texts_regenerate(backend, tmp_path: Path) -> None:
    path = tmp_path / "votes.jsonl"
    session = BlindSession.start(backend, contenders(), ["Say hi."], [0, 1], path)
    first = session.next_pair("me")
    assert set(first.texts) != {""} and {first.left, first.right} == {0, 1}
    session.vote("me", "A")
    session.next_pair("me")
    session.vote("me", "tie")
    loaded = load_votes(path)
    assert [v.choice for v in loaded.votes] == ["A", "tie"] and loaded.votes[0].texts == first.texts
    assert loaded.header["model"]["sha256"] and loaded.header["contenders"][0]["settings"]["max_tokens"] == 8
    again = BlindSession(backend, loaded)
    assert again.upcoming("me").number == 1  # two pairs, both voted: the schedule starts over
    report = check_votes(backend, loaded)
    assert report.reproduced and report.columns == 4, report.describe()


def test_a_changed_text_is_not_reproduced(backend, tmp_path: Path) -> None:
    path = tmp_path / "votes.jsonl"
    session = BlindSession.start(backend, contenders(), ["Say hi."], [3], path)
    session.next_pair("me", ahead=False)
    session.vote("me", "B")
    lines = path.read_text(encoding="utf-8").splitlines()
    vote = json.loads(lines[1])
    vote["texts"][1] = vote["texts"][1] + "!"
    path.write_text(lines[0] + "\n" + json.dumps(vote) + "\n", encoding="utf-8")
    report = check_votes(backend, load_votes(path))
    assert not report.reproduced and "line 2:" in report.describe()


def test_the_next_pair_is_generated_while_the_voter_reads(backend, tmp_path: Path) -> None:
    session = BlindSession.start(backend, contenders(3, 24), ["Name a fruit."], [5], None)
    session.next_pair("me")  # starts generating pair 2
    deadline = time.monotonic() + 120
    while any(t.name == "blind-prefetch" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    session.vote("me", "bad")
    started = time.monotonic()
    second = session.next_pair("me", ahead=False)
    assert time.monotonic() - started < 0.05 and second.number == 2  # ready: no generation on the vote's path


def test_many_voters_waiting_on_one_pair_start_one_generation_not_a_thread_each(backend, model) -> None:
    """Red team (issue 18, item 3): every next_pair started a prefetch thread, so 40 visitors (or one
    stranger posing as 40 sessions) whose next pair was still generating left 40 threads waiting."""
    session = BlindSession.start(backend, contenders(2, 4), ["Say hi."], [0, 1], None)
    session.generate_all([(0, 0, 0), (0, 0, 1)])  # every voter's first pair is ready; the second is not
    with model.lock:  # the model is busy (another visitor's run): the second pair cannot start yet
        for number in range(40):
            assert session.next_pair(f"visitor-{number}").seed == 0
        waiting = [t for t in threading.enumerate() if t.name == "blind-prefetch" and t.is_alive()]
        assert len(waiting) == 1
    waiting[0].join(120)
    assert {(0, 1, 0), (0, 1, 1)} <= set(session._texts)  # that one thread generated the pair they all wait on


def test_two_voters_at_once_each_vote_on_their_own_pairs(backend, tmp_path: Path) -> None:
    path = tmp_path / "votes.jsonl"
    session = BlindSession.start(backend, contenders(3), ["Say hi."], [0], path)
    errors: list[Exception] = []

    def vote(voter: str) -> None:
        try:
            for _ in range(3):
                session.next_pair(voter)
                session.vote(voter, "A")
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=vote, args=(v,)) for v in ("v1", "v2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors
    loaded = load_votes(path)
    assert sorted(v.voter for v in loaded.votes) == ["v1"] * 3 + ["v2"] * 3


def test_starting_over_an_existing_file_is_refused(backend, tmp_path: Path) -> None:
    path = tmp_path / "votes.jsonl"
    path.write_text("keep me\n")
    with pytest.raises(VotesError, match="already exists; load it to continue"):
        BlindSession.start(backend, contenders(), ["Say hi."], [0], path)
    assert path.read_text() == "keep me\n"


HEADER = {
    "samplerlab_votes": 1,
    "model": {"spec": "embedded"},
    "mode": "chat",
    "system": None,
    "messages": [],
    "prompts": ["Hi"],
    "seeds": [0],
    "schedule_seed": 0,
    "contenders": [{"name": "a", "settings": {}}, {"name": "b", "settings": {"temperature": 0}}],
}
VOTE = {"prompt_index": 0, "seed": 0, "left": "a", "right": "b", "texts": ["x", "y"], "finish": ["end", "end"],
        "vote": "A", "voter": "v", "time": "t"}  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "empty; not a samplerlab votes file"),
        (["{"], ":1: not valid JSON"),
        (["[" * 5000 + "]" * 5000], ":1: nested too deeply"),
        ([{"samplerlab_votes": 2}], ":1: not a samplerlab votes file (format 1)"),
        ([{**HEADER, "contenders": HEADER["contenders"][:1]}], "expected 2 to 6 contenders, got 1"),
        (
            [{**HEADER, "contenders": [{"name": "a", "settings": {"temprature": 1}}] * 2}],
            "unknown setting 'temprature'",
        ),
        ([{**HEADER, "seeds": [-1]}], "key 'seeds': expected a non-empty list of seeds"),
        ([{**HEADER, "mode": "x"}], "key 'mode': expected chat or raw"),
        ([HEADER, {**VOTE, "vote": "C"}], ":2: key 'vote': expected one of A, B, tie, bad, got 'C'"),
        ([HEADER, {**VOTE, "left": "z"}], ":2: key 'left': 'z' is not a contender"),
        ([HEADER, {**VOTE, "prompt_index": 3}], ":2: key 'prompt_index': 3 is not one of the header's 1 prompts"),
        ([HEADER, VOTE, {**VOTE, "seed": "0"}], ":3: key 'seed': expected int, got str"),
        ([HEADER, {k: v for k, v in VOTE.items() if k != "texts"}], ":2: missing key 'texts'"),
        ([HEADER, "[1]"], ":2: expected a vote (a JSON object)"),
    ],
)
def test_bad_votes_files_get_one_line(tmp_path: Path, lines: list, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    with pytest.raises(VotesError) as raised:
        load_votes(path)
    assert message in str(raised.value) and str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_a_fifo_and_a_huge_file_are_refused_without_reading(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(VotesError, match="FIFO"):
        load_votes(fifo)
    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as stream:
        stream.truncate((64 << 20) + 1)
    with pytest.raises(VotesError, match="larger than 64 MiB"):
        load_votes(huge)


def test_a_file_holds_at_most_max_votes(tmp_path: Path) -> None:
    from samplerlab.runs import votes as module

    path = tmp_path / "full.jsonl"
    lines = [json.dumps(HEADER)] + [json.dumps(VOTE)] * (module.MAX_VOTES + 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(VotesError, match=f"more than {module.MAX_VOTES} votes"):
        load_votes(path)
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    full = load_votes(path)
    with pytest.raises(VotesError, match="the most one file takes"):
        full.add(full.votes[0])
    assert len(load_votes(path).votes) == module.MAX_VOTES
