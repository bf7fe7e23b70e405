"""The judge's mechanics against a real llama-server serving the embedded model: it votes every pair a
person voted on, twice in both orders, its votes are marked in the file, and kappa is computed. The
embedded model is far too small to judge well: nothing here asserts what it prefers."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from samplerlab.backends.local import LocalBackend
from samplerlab.backends.server import ServerBackend
from samplerlab.cli.main import main
from samplerlab.presets.store import load_preset
from samplerlab.runs.blind import BlindSession, Pair
from samplerlab.runs.judge import decide, judge_pair, parse_answer
from samplerlab.runs.votes import Contender, load_votes


def test_answers_parse_to_a_letter_or_an_abstention() -> None:
    assert parse_answer(" B. Reply B is clearer") == "B"
    assert parse_answer("A") == "A" and parse_answer("Reply A") == "A"
    assert parse_answer("Both are fine") is None and parse_answer("") is None


def test_the_two_orders_agree_on_a_winner_disagree_to_a_tie_or_abstain() -> None:
    assert decide("A", "B") == "A" and decide("B", "A") == "B"  # the same reply both times
    assert decide("A", "A") == "tie" and decide("B", "B") == "tie"  # it followed a side, not a reply
    assert decide(None, "A") is None and decide("B", None) is None


def test_a_real_server_judges_one_pair_the_same_way_twice(server) -> None:
    judge = ServerBackend(server.url)
    pair = Pair(1, 0, 0, 0, 1, ("Hello! How can I help?", "hi"), ("end", "end"))
    first = judge_pair(judge, "Say hi.", pair)
    assert judge_pair(judge, "Say hi.", pair) == first  # greedy at seed 0: the same answers again


def test_the_judge_votes_into_the_file_and_the_reveal_shows_kappa(model, server, tmp_path: Path) -> None:
    path = tmp_path / "votes.jsonl"
    contenders = [Contender(n, load_preset(n).settings.replace(max_tokens=8)) for n in ("greedy", "min-p creative")]
    session = BlindSession.start(LocalBackend(model), contenders, ["Say hi."], [0, 1, 2], path)
    for choice in ("A", "B", "A"):
        session.next_pair("person", ahead=False)
        session.vote("person", choice)
    shown = CliRunner().invoke(main, ["votes", str(path), "--judge", server.url])
    assert shown.exit_code == 0, shown.output
    votes = load_votes(path)
    judged = [v for v in votes.votes if v.judge]
    line = next(line for line in shown.output.splitlines() if line.startswith("judge: "))
    abstained = int(line.split(", ")[-1].split()[0])
    assert len(judged) + abstained == 3 and all(v.voter == "judge" for v in judged)
    assert ("Cohen's kappa" in shown.output) == bool(judged) or "no pair voted on by both" in shown.output
    assert len([v for v in votes.votes if not v.judge]) == 3  # the person's votes and ranking are unchanged
    again = CliRunner().invoke(main, ["votes", str(path), "--judge", server.url])
    assert f"judge: 0 votes (0 ties: its two orders disagreed), {abstained} abstentions" in again.output
