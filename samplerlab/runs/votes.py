"""The votes file of a blind test: JSON Lines, one header then one line per vote, never half-written.

Line 1 is the test itself: the model (spec, file name, sha256), the backend and machine, the mode,
system prompt and conversation, the prompts, seeds and every contender's full settings. Each later
line is one vote: which prompt and seed, which contender was shown left and right, both texts and
how they ended, the vote (A = left, B = right, tie, bad = both bad), the time, an anonymous voter id,
and ``judge`` when a model voted. A text cut before its end (a shared app's time limit: its ending is
'cancelled') also records ``cut``, how many tokens it had then, so that ``check_votes`` can generate
exactly those tokens again instead of a longer text that could never match. The texts make the file self-contained evidence: ``check_votes``
generates them again from the header and compares.

Every vote rewrites the file through ``atomic_write`` (beside it, fsync, rename), so a crash or a
full disk leaves the file with or without that vote, never with half a line. Reading is bounded
(size, depth, lines) and a bad line is refused in one line naming the file, the line and the key.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import safe_yaml
from ..files.atomic import atomic_write
from ..schema.params import Settings, SettingsError
from .results import plain

FORMAT = 1
MAX_VOTES_BYTES = 64 << 20
MAX_TEXT = 1 << 20  # characters of one reply
CHOICES = ("A", "B", "tie", "bad")
MODES = ("chat", "raw")
# Every vote rewrites the whole file, so a file is kept to a size that rewrites in well under a second;
# a group whose visitors vote without end stops here instead of filling the disk.
MAX_VOTES = 5000


class VotesError(ValueError):
    """A votes file that cannot be read or written; one line naming the file, line and key."""


@dataclass(frozen=True)
class Contender:
    name: str
    settings: Settings


@dataclass(frozen=True)
class VoteRecord:
    """One vote; ``left``/``right`` index the header's contenders."""

    prompt_index: int
    seed: int
    left: int
    right: int
    texts: tuple[str, str]
    finish: tuple[str, str]
    choice: str
    voter: str
    time: str
    judge: str | None = None
    cut: tuple[int | None, int | None] = (None, None)  # tokens of a text cut before its end ('cancelled')

    def line(self, names: Sequence[str]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "prompt_index": self.prompt_index,
            "seed": self.seed,
            "left": names[self.left],
            "right": names[self.right],
            "texts": list(self.texts),
            "finish": list(self.finish),
            "vote": self.choice,
            "voter": self.voter,
            "time": self.time,
        }
        if self.judge is not None:
            record["judge"] = self.judge
        if self.cut != (None, None):
            record["cut"] = list(self.cut)
        return record


@dataclass
class VotesFile:
    """The header (as a mapping, with its contenders parsed) and the votes; ``add`` appends one, atomically."""

    path: Path | None
    header: dict[str, Any]
    contenders: tuple[Contender, ...]
    votes: list[VoteRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.contenders]

    def text(self) -> str:
        lines = [json.dumps(self.header, ensure_ascii=False)]
        lines += [json.dumps(vote.line(self.names), ensure_ascii=False) for vote in self.votes]
        return "\n".join(lines) + "\n"

    def add(self, vote: VoteRecord) -> None:
        """Record one vote; the file on disk then holds it or (had the write failed) the votes before it."""
        with self.lock:
            if len(self.votes) >= MAX_VOTES:
                raise VotesError(f"{self.path}: holds {MAX_VOTES} votes, the most one file takes; start another test")
            self.votes.append(vote)
            if self.path is not None:
                try:
                    atomic_write(self.path, self.text())
                except OSError:
                    self.votes.pop()
                    raise

    def save(self) -> None:
        if self.path is not None:
            with self.lock:
                atomic_write(self.path, self.text())


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def new_header(
    contenders: Sequence[Contender],
    prompts: Sequence[str],
    seeds: Sequence[int],
    model: Mapping[str, Any],
    mode: str = "chat",
    system: str | None = None,
    messages: Sequence[Mapping[str, Any]] = (),
    context_policy: str = "error",
    schedule_seed: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a votes file's first line records: enough to generate every pair's texts again."""
    header: dict[str, Any] = {
        "samplerlab_votes": FORMAT,
        "created": now(),
        "model": dict(model),
        "mode": mode,
        "system": system,
        "messages": [dict(m) for m in messages],
        "context_policy": context_policy,
        "prompts": list(prompts),
        "seeds": list(seeds),
        "schedule_seed": schedule_seed,
        "contenders": [{"name": c.name, "settings": plain(dict(c.settings))} for c in contenders],
    }
    header.update(extra or {})
    return header


# -- reading ----------------------------------------------------------------------------------
def load_votes(path: str | Path) -> VotesFile:
    """A votes file, read within bounds; anything wrong is one VotesError naming the line and key."""
    path = Path(path)
    try:
        text = safe_yaml.read_text(path, MAX_VOTES_BYTES)
    except safe_yaml.TooLarge:
        raise VotesError(f"{path}: larger than {MAX_VOTES_BYTES >> 20} MiB; not a samplerlab votes file") from None
    except safe_yaml.ReadError as error:
        raise VotesError(str(error)) from None
    lines = text.splitlines()
    if not lines:
        raise VotesError(f"{path}: empty; not a samplerlab votes file")
    header = _json(lines[0], path, 1)
    if not isinstance(header, dict) or header.get("samplerlab_votes") != FORMAT:
        raise VotesError(f"{path}:1: not a samplerlab votes file (format {FORMAT})")
    contenders = parse_header(header, f"{path}:1")
    votes = VotesFile(path, header, contenders)
    if len(lines) > MAX_VOTES + 1:
        raise VotesError(f"{path}: more than {MAX_VOTES} votes; not a samplerlab votes file")
    for number, line in enumerate(lines[1:], 2):
        if line.strip():
            votes.votes.append(
                parse_vote(_json(line, path, number), votes.names, len(header["prompts"]), f"{path}:{number}")
            )
    return votes


def _json(line: str, path: Path, number: int) -> Any:
    try:
        return safe_yaml.load_json(line)
    except safe_yaml.JsonTooDeep:
        raise VotesError(f"{path}:{number}: nested too deeply") from None
    except ValueError as error:
        raise VotesError(f"{path}:{number}: not valid JSON ({str(error).split(':')[0]})") from None


def _need(mapping: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in mapping:
        raise VotesError(f"{where}: missing key {key!r}")
    value = mapping[key]
    if (
        not isinstance(value, kind)
        or isinstance(value, bool)
        and bool not in (kind if isinstance(kind, tuple) else (kind,))
    ):
        expected = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise VotesError(f"{where}: key {key!r}: expected {expected}, got {type(value).__name__}")
    return value


def parse_header(header: Mapping[str, Any], where: str) -> tuple[Contender, ...]:
    """The header's shape checked; its contenders' settings checked against the schema."""
    _need(header, "model", dict, where)
    if _need(header, "mode", str, where) not in MODES:
        raise VotesError(f"{where}: key 'mode': expected chat or raw, got {header['mode']!r}")
    prompts = _need(header, "prompts", list, where)
    if not prompts or not all(isinstance(p, str) and len(p) <= MAX_TEXT for p in prompts):
        raise VotesError(f"{where}: key 'prompts': expected a non-empty list of texts")
    seeds = _need(header, "seeds", list, where)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32 for s in seeds):
        raise VotesError(f"{where}: key 'seeds': expected a non-empty list of seeds 0 to 4294967295")
    _need(header, "messages", list, where)
    if header.get("system") is not None and not isinstance(header["system"], str):
        raise VotesError(f"{where}: key 'system': expected text or null")
    listed = _need(header, "contenders", list, where)
    if not 2 <= len(listed) <= 6:
        raise VotesError(f"{where}: key 'contenders': expected 2 to 6 contenders, got {len(listed)}")
    contenders = []
    for index, item in enumerate(listed):
        at = f"{where}: contenders[{index}]"
        if not isinstance(item, dict):
            raise VotesError(f"{at}: expected a mapping with name and settings")
        name = _need(item, "name", str, at)
        try:
            settings = Settings(_need(item, "settings", dict, at), source=f"contenders[{index}].settings")
        except SettingsError as error:
            raise VotesError(f"{where}: {error}") from None
        contenders.append(Contender(name, settings))
    if len({c.name for c in contenders}) != len(contenders):
        raise VotesError(f"{where}: key 'contenders': two contenders share a name")
    return tuple(contenders)


def parse_vote(line: Any, names: Sequence[str], prompts: int, where: str) -> VoteRecord:
    if not isinstance(line, dict):
        raise VotesError(f"{where}: expected a vote (a JSON object)")
    index = _need(line, "prompt_index", int, where)
    if not 0 <= index < prompts:
        raise VotesError(f"{where}: key 'prompt_index': {index} is not one of the header's {prompts} prompts")
    sides = []
    for key in ("left", "right"):
        name = _need(line, key, str, where)
        if name not in names:
            raise VotesError(f"{where}: key {key!r}: {name!r} is not a contender of this test")
        sides.append(names.index(name))
    if sides[0] == sides[1]:
        raise VotesError(f"{where}: left and right are the same contender")
    choice = _need(line, "vote", str, where)
    if choice not in CHOICES:
        raise VotesError(f"{where}: key 'vote': expected one of A, B, tie, bad, got {choice!r}")
    texts = _pair(line, "texts", where)
    finish = _pair(line, "finish", where)
    judge = line.get("judge")
    if judge is not None and not isinstance(judge, str):
        raise VotesError(f"{where}: key 'judge': expected text")
    return VoteRecord(
        index,
        _need(line, "seed", int, where),
        sides[0],
        sides[1],
        texts,
        finish,
        choice,
        _need(line, "voter", str, where)[:64],
        _need(line, "time", str, where)[:40],
        judge,
        _cut(line, finish, where),
    )


def _cut(line: Mapping[str, Any], finish: tuple[str, str], where: str) -> tuple[int | None, int | None]:
    """The tokens each cut text had when it was cut; only a 'cancelled' text has them."""
    value = line.get("cut", [None, None])
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(v is None or isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_TEXT for v in value)
    ):
        raise VotesError(f"{where}: key 'cut': expected two token counts (or null for a text not cut)")
    for side, (count, ending) in enumerate(zip(value, finish)):
        if count is not None and ending != "cancelled":
            raise VotesError(f"{where}: key 'cut': text {side + 1} ended {ending!r}, so it was not cut")
    return value[0], value[1]


def _pair(line: Mapping[str, Any], key: str, where: str) -> tuple[str, str]:
    value = _need(line, key, list, where)
    if len(value) != 2 or not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value):
        raise VotesError(f"{where}: key {key!r}: expected two texts")
    return value[0], value[1]


# -- who agrees with whom -----------------------------------------------------------------------
def outcome(vote: VoteRecord) -> tuple[tuple[int, int, int, int], str]:
    """A vote as (prompt, seed, lower contender, higher contender) and which of the two won: 'low',
    'high' or 'tie' ("both bad" counts as a tie here: neither was preferred)."""
    low, high = sorted((vote.left, vote.right))
    winner = {"A": vote.left, "B": vote.right}.get(vote.choice)
    label = "tie" if winner is None else ("low" if winner == low else "high")
    return (vote.prompt_index, vote.seed, low, high), label


def judge_pairs(votes: Sequence[VoteRecord]) -> tuple[list[str], list[str]]:
    """The person's and the judge's outcome on each pair both voted on (the person's first vote on it)."""
    person: dict[tuple[int, int, int, int], str] = {}
    judge: dict[tuple[int, int, int, int], str] = {}
    for vote in votes:
        key, label = outcome(vote)
        (judge if vote.judge else person).setdefault(key, label)
    shared = [key for key in person if key in judge]
    return [person[k] for k in shared], [judge[k] for k in shared]
