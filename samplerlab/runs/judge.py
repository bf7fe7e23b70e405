"""A model as a second voter: it judges the pairs a person voted on, twice, once in each order.

Asking in both orders cancels the judge's own position bias: when the two answers name the same
reply it wins; when they disagree the pair is a tie; when either answer names neither A nor B the
judge abstains on that pair (no vote is recorded). The judge's votes go into the same votes file,
marked with ``judge`` (its model's name), and are kept out of the person's ranking; the reveal
compares them with the person's by Cohen's kappa. Any backend can judge, a llama-server with a
larger model being the point; the embedded model is far too small to judge well.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..backends import Backend, chat_mode_for
from ..events import Column, Request
from ..schema.params import Settings
from .blind import BlindSession, Pair, request_of
from .runner import run_columns
from .votes import VoteRecord, outcome

JUDGE_PROMPT = (
    "You compare two replies to the same request and say which is better written and more helpful.\n\n"
    "Request:\n{prompt}\n\nReply A:\n{a}\n\nReply B:\n{b}\n\n"
    "Which reply is better? Answer with the single letter A or B."
)
JUDGE_SETTINGS = Settings({"temperature": 0.0, "max_tokens": 8, "seed": 0})
ANSWER = re.compile(r"\b([AB])\b")


@dataclass(frozen=True)
class JudgeSummary:
    votes: int
    abstentions: int
    ties: int


def parse_answer(text: str) -> str | None:
    """'A' or 'B', the first standalone letter of the answer; None when it names neither."""
    found = ANSWER.search(text.strip())
    return found.group(1) if found else None


def _ask(judge: Backend, prompt: str, first: str, second: str, template: str) -> str | None:
    request = Request(template.format(prompt=prompt, a=first, b=second), chat_mode_for(judge))
    result = run_columns(judge, request, [Column("judge", JUDGE_SETTINGS)])[0]
    return parse_answer(result.text)


def judge_pair(judge: Backend, prompt: str, pair: Pair, template: str = JUDGE_PROMPT) -> str | None:
    """The judge's vote on ``pair`` in its own sides (A = left): agreed winner, 'tie', or None (abstain)."""
    left, right = pair.texts
    return decide(_ask(judge, prompt, left, right, template), _ask(judge, prompt, right, left, template))


def decide(forward: str | None, backward: str | None) -> str | None:
    """The vote from the answer in the shown order and the answer with the sides swapped: both name the
    same reply -> it wins; they name different replies (the judge followed a side) -> tie; either
    unparseable -> None, an abstention."""
    if forward is None or backward is None:
        return None
    return forward if forward == {"A": "B", "B": "A"}[backward] else "tie"


def run_judge(
    session: BlindSession, judge: Backend, name: str | None = None, template: str = JUDGE_PROMPT
) -> JudgeSummary:
    """Judge every pair the people voted on that the judge has not judged yet; record each vote."""
    label = name or judge.info.name or "judge"
    done = {outcome(v)[0] for v in session.file.votes if v.judge}
    pending: dict[tuple[int, int, int, int], VoteRecord] = {}
    for vote in session.person_votes():
        key = outcome(vote)[0]
        if key not in done:
            pending.setdefault(key, vote)
    abstentions = ties = votes = 0
    for vote in pending.values():
        pair = Pair(0, vote.prompt_index, vote.seed, vote.left, vote.right, vote.texts, vote.finish, vote.cut)
        prompt = _prompt_text(session, vote.prompt_index)
        choice = judge_pair(judge, prompt, pair, template)
        if choice is None:
            abstentions += 1
            continue
        ties += choice == "tie"
        votes += 1
        session.vote("judge", choice, judge=label, pair=pair)
    return JudgeSummary(votes, abstentions, ties)


def _prompt_text(session: BlindSession, prompt_index: int) -> str:
    """The request as a person would read it: the conversation's last turns, then the prompt."""
    request = request_of(session.header, prompt_index)
    turns: Sequence[str] = [f"{m.role}: {m.content}" for m in request.history[-4:]]
    return "\n".join([*turns, request.prompt]).strip()
