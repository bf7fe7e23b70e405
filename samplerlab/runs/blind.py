"""A blind test between 2-6 sampling settings: a balanced schedule of pairs, generated ahead of the voter.

Each pair is one prompt and one seed from two contenders, so the only difference a voter sees is the
settings. The schedule is balanced: every round (a seed and a prompt) holds every pair of contenders
once, in a shuffled order, each shown on a random side; the shuffling comes from a seeded RNG per
voter (the test's ``schedule_seed`` and the voter id), so a voter's pairs are the same each time the
file is loaded, and two voters of a group test get their own orders. While a voter reads one pair,
a worker thread generates the next (``prefetch``), so voting waits only on a backend slower than reading.

Texts are generated through the Backend interface, one column per contender; a contender's text on
a prompt and seed is generated once and kept (the same settings and seed give the same text
whichever column runs beside it), and ``check_votes`` generates every recorded text again: a text
the share time limit cut is generated again to the token it was cut at (``VoteRecord.cut``).
"""

from __future__ import annotations

import random
import threading
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends import Backend
from ..chats.chat_files import parse_messages
from ..events import ChatError, Column, ColumnResult, Message, Request
from ..files.model_files import embedded_model_path
from .results import CheckReport
from .runner import other_machine, run_columns, same_model_file
from .votes import CHOICES, Contender, VoteRecord, VotesError, VotesFile, new_header, now

MAX_CONTENDERS = 6


@dataclass(frozen=True)
class Pair:
    """One pair as a voter sees it: ``left``/``right`` index the contenders; ``number`` counts from 1."""

    number: int
    prompt_index: int
    seed: int
    left: int
    right: int
    texts: tuple[str, str] = ("", "")
    finish: tuple[str, str] = ("", "")
    cut: tuple[int | None, int | None] = (None, None)  # tokens of a text cut before its end


def cut_at(result: ColumnResult) -> int | None:
    """How many tokens a text cut before its end had (a time limit, Stop); None for a text that ended."""
    return len(result.tokens) if result.finish_reason == "cancelled" else None


def schedule(contenders: int, prompts: int, seeds: Sequence[int], schedule_seed: int, voter: str) -> list[Pair]:
    """Rounds of every pair of contenders on one prompt and seed, shuffled and sided by the voter's RNG."""
    rng = random.Random(zlib.crc32(f"{schedule_seed}:{voter}".encode()))
    pairs = [(i, j) for i in range(contenders) for j in range(i + 1, contenders)]
    out: list[Pair] = []
    for seed in seeds:
        for prompt in range(prompts):
            for i, j in rng.sample(pairs, len(pairs)):
                left, right = (i, j) if rng.random() < 0.5 else (j, i)
                out.append(Pair(len(out) + 1, prompt, seed, left, right))
    return out


def model_record(backend: Backend) -> dict[str, Any]:
    """The model as a votes file records it: how to open it again, its file name and sha256."""
    info = backend.info
    model = getattr(backend, "model", None)
    spec: Any
    if info.kind != "local":
        spec = {"servers": info.location.split()}
    elif model is not None and model.path.resolve() == embedded_model_path().resolve():
        spec = "embedded"
    else:
        spec = str(model.path) if model is not None else info.location
    sha256 = getattr(backend, "sha256", None)
    return {
        "spec": spec,
        "file_name": info.file_name,
        "sha256": sha256() if sha256 is not None else None,
        "name": info.name,
        "load": {k: v for k, v in dict(model.load).items()} if model is not None else {},
        "kind": info.kind,
    }


def machine_record(backend: Backend) -> dict[str, Any]:
    from ..llama.versions import environment, machine

    record: dict[str, Any] = {"versions": environment(), "backend": {"kind": backend.info.kind}}
    if backend.info.kind == "local":
        record["machine"] = machine()
    return record


def request_of(header: Mapping[str, Any], prompt_index: int) -> Request:
    try:
        history: tuple[Message, ...] = (
            parse_messages(header["messages"], "votes").messages if header.get("messages") else ()
        )
    except ChatError as error:
        raise VotesError(str(error)) from None
    return Request(
        header["prompts"][prompt_index],
        header["mode"],
        header.get("system"),
        history,
        header.get("context_policy", "error"),
    )


class BlindSession:
    """A blind test on one backend and one votes file; every voter has a schedule and a place in it.

    Thread-safe: a group test's visitors call ``next_pair`` and ``vote`` from Gradio's worker threads.
    """

    def __init__(self, backend: Backend, votes: VotesFile) -> None:
        self.backend = backend
        self.file = votes
        self.header = votes.header
        self._texts: dict[tuple[int, int, int], ColumnResult] = {}
        self._generating: dict[tuple[int, int, int], threading.Event] = {}
        self._ahead: set[tuple[int, int, int]] = set()  # texts a prefetch thread is started for
        self._lock = threading.Lock()
        self.shown: dict[str, Pair] = {}  # the pair each voter sees now
        self.aliases: dict[str, str] = {}  # a browser session continuing a file votes as that file's voter
        self.revealed = False  # a group test: the host has revealed the settings to everyone
        self.seconds: float | None = None  # shared: a generation still running after this is cancelled
        self._cancels: set[threading.Event] = set()
        self._threads: list[threading.Thread] = []

    @classmethod
    def start(
        cls,
        backend: Backend,
        contenders: Sequence[Contender],
        prompts: Sequence[str],
        seeds: Sequence[int],
        path: Path | None = None,
        mode: str = "chat",
        system: str | None = None,
        messages: Sequence[Mapping[str, Any]] = (),
        context_policy: str = "error",
        schedule_seed: int = 0,
    ) -> BlindSession:
        if not 2 <= len(contenders) <= MAX_CONTENDERS:
            raise VotesError(f"a blind test needs 2 to {MAX_CONTENDERS} contenders, got {len(contenders)}")
        if len({c.name for c in contenders}) != len(contenders):
            raise VotesError("two contenders share a name; a blind test needs them told apart at the reveal")
        if not prompts or not seeds:
            raise VotesError("a blind test needs at least one prompt and one seed")
        for contender in contenders:
            refusal = backend.refuse(contender.settings)
            if refusal is not None:
                raise VotesError(f"contender {contender.name!r}: {refusal}")
        header = new_header(
            contenders, prompts, seeds, model_record(backend), mode, system, messages, context_policy,
            schedule_seed, machine_record(backend),
        )  # fmt: skip
        votes = VotesFile(path, header, tuple(contenders))
        if path is not None:
            if path.exists():
                raise VotesError(f"{path}: already exists; load it to continue, or choose another file")
            votes.save()
        return cls(backend, votes)

    # -- the schedule --------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return self.file.names

    def pairs(self, voter: str) -> list[Pair]:
        header = self.header
        return schedule(len(self.names), len(header["prompts"]), header["seeds"], header["schedule_seed"], voter)

    def _voted(self, voter: str) -> int:
        return sum(v.voter == voter and v.judge is None for v in self.file.votes)

    def upcoming(self, voter: str) -> Pair:
        """The voter's next unvoted pair (the schedule starts over once every pair has a vote)."""
        pairs = self.pairs(voter)
        return pairs[self._voted(voter) % len(pairs)]

    # -- texts ---------------------------------------------------------------------------------
    def _text(self, prompt_index: int, seed: int, contender: int) -> ColumnResult:
        """One contender's reply, generated once; a second caller waits for the first's generation."""
        key = (prompt_index, seed, contender)
        with self._lock:
            if key in self._texts:
                return self._texts[key]
            waiting = self._generating.get(key)
            if waiting is None:
                self._generating[key] = threading.Event()
        if waiting is not None:
            waiting.wait()
            with self._lock:
                if key in self._texts:
                    return self._texts[key]
            return self._text(prompt_index, seed, contender)
        try:
            settings = self.file.contenders[contender].settings.replace(seed=seed)
            cancel = threading.Event()
            with self._lock:
                self._cancels.add(cancel)
            timer = threading.Timer(self.seconds, cancel.set) if self.seconds else None
            if timer is not None:
                timer.daemon = True
                timer.start()
            try:
                result = run_columns(
                    self.backend, request_of(self.header, prompt_index), [Column(self.names[contender], settings)],
                    cancel=cancel,
                )[0]  # fmt: skip
            finally:
                with self._lock:
                    self._cancels.discard(cancel)
                if timer is not None:
                    timer.cancel()
            with self._lock:
                self._texts[key] = result
            return result
        finally:
            with self._lock:
                self._generating.pop(key).set()

    def generate_all(self, keys: Sequence[tuple[int, int, int]]) -> None:
        """Every (prompt, seed, contender) text not yet known, each prompt and seed's in one batched run:
        a contender's text does not depend on the columns beside it, so this is what one at a time gives."""
        groups: dict[tuple[int, int], list[int]] = {}
        for prompt_index, seed, contender in dict.fromkeys(keys):
            if (prompt_index, seed, contender) not in self._texts:
                groups.setdefault((prompt_index, seed), []).append(contender)
        for (prompt_index, seed), contenders in groups.items():
            columns = [Column(self.names[c], self.file.contenders[c].settings.replace(seed=seed)) for c in contenders]
            results = run_columns(self.backend, request_of(self.header, prompt_index), columns)
            with self._lock:
                for contender, result in zip(contenders, results):
                    self._texts[(prompt_index, seed, contender)] = result

    def filled(self, pair: Pair) -> Pair:
        left = self._text(pair.prompt_index, pair.seed, pair.left)
        right = self._text(pair.prompt_index, pair.seed, pair.right)
        return Pair(
            pair.number, pair.prompt_index, pair.seed, pair.left, pair.right,
            (left.text, right.text), (left.finish_reason or "", right.finish_reason or ""),
            (cut_at(left), cut_at(right)),
        )  # fmt: skip

    def prefetch(self, pair: Pair | None) -> threading.Thread | None:
        """Generate ``pair``'s texts in a worker thread, so they are ready when the voter gets there; none
        when both are known or already being generated. A thread per call had no bound: every visitor's
        every pair started one, and a group's (or a stranger's many sessions') waited by the hundred."""
        if pair is None:
            return None
        keys = {(pair.prompt_index, pair.seed, side) for side in (pair.left, pair.right)}
        with self._lock:
            if all(key in self._texts or key in self._generating or key in self._ahead for key in keys):
                return None
            self._ahead |= keys  # claimed now: the thread registers its generation only once it runs
            thread = threading.Thread(target=self._quiet_fill, args=(pair, keys), daemon=True, name="blind-prefetch")
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def close(self, timeout: float = 60) -> None:
        """Stop and wait for the generations ahead of the voter, so the backend can be closed after it
        (freeing a model under a running generation crashes llama.cpp)."""
        with self._lock:
            cancels, threads = list(self._cancels), list(self._threads)
        for cancel in cancels:
            cancel.set()
        for thread in threads:
            thread.join(timeout)

    def _quiet_fill(self, pair: Pair, keys: set[tuple[int, int, int]]) -> None:
        try:
            self.filled(pair)
        except Exception:  # noqa: BLE001  # the voter's own request generates it again and shows the error
            pass
        finally:
            with self._lock:
                self._ahead -= keys

    def next_pair(self, voter: str, ahead: bool = True) -> Pair:
        """The voter's next pair with its texts; with ``ahead`` the pair after it starts generating."""
        pair = self.filled(self.upcoming(voter))
        with self._lock:
            self.shown[voter] = pair
        if ahead:
            pairs = self.pairs(voter)
            self.prefetch(pairs[pair.number % len(pairs)])
        return pair

    def vote(self, voter: str, choice: str, judge: str | None = None, pair: Pair | None = None) -> VoteRecord:
        """Record ``choice`` on the pair last shown to ``voter`` (or ``pair``), atomically in the file."""
        if choice not in CHOICES:
            raise VotesError(f"vote {choice!r}: expected one of {', '.join(CHOICES)}")
        with self._lock:
            shown = pair or self.shown.pop(voter, None)
        if shown is None:
            raise VotesError("no pair is shown to this voter; ask for the next pair first")
        record = VoteRecord(
            shown.prompt_index, shown.seed, shown.left, shown.right, shown.texts, shown.finish, choice,
            voter, now(), judge, shown.cut,
        )  # fmt: skip
        self.file.add(record)
        return record

    def person_votes(self, voter: str | None = None) -> list[VoteRecord]:
        return [v for v in self.file.votes if v.judge is None and (voter is None or v.voter == voter)]

    def voters(self) -> list[str]:
        return list(dict.fromkeys(v.voter for v in self.file.votes if v.judge is None))


# -- reproducing a votes file -----------------------------------------------------------------
def check_votes(backend: Backend, votes: VotesFile) -> CheckReport:
    """Generate every recorded text again from the header's settings and compare text and ending; a cut
    text is generated to the token it was cut at, and must then end by that length."""
    document = {**votes.header, "model": votes.header["model"]}
    different = same_model_file(backend, document)
    if different is not None:
        return CheckReport(len(votes.votes), different)
    session = BlindSession(backend, VotesFile(None, votes.header, votes.contenders))
    recorded = [
        (number, vote, side, contender)
        for number, vote in enumerate(votes.votes, 2)
        for side, contender in enumerate((vote.left, vote.right))
    ]
    session.generate_all([(v.prompt_index, v.seed, c) for _, v, side, c in recorded if v.finish[side] != "cancelled"])
    cut = _generate_cut(session, [(v.prompt_index, v.seed, c, v.cut[side]) for _, v, side, c in recorded])
    mismatch = None
    for number, vote, side, contender in recorded:
        mismatch = _text_difference(session, cut, number, vote, side, contender)
        if mismatch:
            break
    machine = other_machine(backend, document)
    cuts = sum(vote.finish[side] == "cancelled" for _, vote, side, _ in recorded)
    return CheckReport(len(recorded), mismatch, machine, cuts)


CutKey = tuple[int, int, int, int]  # prompt, seed, contender, tokens


def _generate_cut(
    session: BlindSession, keys: Sequence[tuple[int, int, int, int | None]]
) -> dict[CutKey, ColumnResult]:
    """The cut texts again, each to the token it was cut at (one run per prompt and seed)."""
    groups: dict[tuple[int, int], list[CutKey]] = {}
    for key in dict.fromkeys(k for k in keys if k[3]):  # 0 tokens: nothing to generate (max_tokens 0 is no limit)
        groups.setdefault(key[:2], []).append(key)  # type: ignore[arg-type]
    made: dict[CutKey, ColumnResult] = {}
    for (prompt_index, seed), group in groups.items():
        columns = [
            Column(session.names[c], session.file.contenders[c].settings.replace(seed=seed, max_tokens=tokens))
            for _, _, c, tokens in group
        ]
        made.update(zip(group, run_columns(session.backend, request_of(session.header, prompt_index), columns)))
    return made


def _text_difference(
    session: BlindSession, cut: Mapping[CutKey, ColumnResult], number: int, vote: VoteRecord, side: int, contender: int
) -> str | None:
    """Where the text generated again departs from the recorded one (its text, then how it ended)."""
    where = f"line {number}: {session.names[contender]!r} (prompt {vote.prompt_index}, seed {vote.seed})"
    text, ending, tokens = vote.texts[side], vote.finish[side], vote.cut[side]
    if ending == "cancelled":
        if tokens is None:
            return (
                f"{where} was cut before its end (ending 'cancelled') and the file does not say after how many "
                "tokens, so it cannot be generated again; vote on a new test to record it"
            )
        expected = "length"  # generated to the token it was cut at, it ends there by length
        fresh = cut.get((vote.prompt_index, vote.seed, contender, tokens))
        fresh_text, fresh_end = (fresh.text, fresh.finish_reason or "") if fresh else ("", expected)  # 0 tokens
    else:
        again = session._text(vote.prompt_index, vote.seed, contender)
        fresh_text, fresh_end, expected = again.text, again.finish_reason or "", ending
    if fresh_text != text:
        at = next((i for i, (a, b) in enumerate(zip(text, fresh_text)) if a != b), min(len(text), len(fresh_text)))
        return f"{where} differs at character {at}: recorded {text[at : at + 20]!r}, now {fresh_text[at : at + 20]!r}"
    if fresh_end != expected:
        told = f"cut at token {tokens}, so {expected!r}" if ending == "cancelled" else repr(ending)
        return f"{where} ended {fresh_end!r}, recorded {told}"
    return None
