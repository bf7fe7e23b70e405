"""What a backend streams and what everything above it reads: requests, columns and token events.

Pure data, no llama.cpp: the app, the CLI, result files and reports see only these types, whether
the columns ran in this process (the local backend) or on a llama-server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .schema.params import Settings

Mode = Literal["chat", "raw"]
FinishReason = Literal["end", "stop", "length", "context", "cancelled"]
TOP_N = 10  # alternatives reported per token, before and after the chain
# Raw candidates kept per token for replaying other settings without the model: as many as a
# llama-server reports (backends.server.N_PROBS), and more than the default top-k 40, so the
# default chain's cuts replay exactly.
KEEP = 64
TOKEN_ID_LIMIT = 1 << 30  # no vocabulary reaches it (the largest have ~262,144): a bigger id in a file is bad data


ROLES = ("system", "user", "assistant")

DEFAULT_POLICY = "error"  # a conversation longer than the context is refused unless a policy says otherwise


class ChatError(ValueError):
    """A chat that cannot be used; one line naming the source, the place and what was expected."""


# An unknown probability: a token llama-server generated without reporting it (it ends inside a
# character, common in Japanese) has none. In memory it is NaN (TokenEvent's floats), in records and
# result files null (NaN in files written before); both are unknown.
def is_known(value: float | None) -> bool:
    return value is not None and value == value


def known(values: Sequence[float | None]) -> list[float]:
    """The values that are known (not None, not NaN)."""
    return [value for value in values if value is not None and value == value]


@dataclass(frozen=True)
class Message:
    """One turn; ``name`` is the speaker's name where the source records one (SillyTavern always does)."""

    role: str
    content: str
    name: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ChatError(f"message role {self.role!r}: expected one of {', '.join(ROLES)}")
        if not isinstance(self.content, str) or not isinstance(self.name, (str, type(None))):
            raise ChatError("message: content and name must be text")


class GenerationError(RuntimeError):
    """A run that cannot start or go on (prompt too long, server gone ...); one line for a person."""


class ModelClosed(GenerationError):
    """The model a run took was closed (another was loaded) before the run could use it; nothing ran,
    so the run may go to the model loaded now."""


@dataclass(frozen=True)
class Request:
    """What is generated from: the same for every column.

    In chat mode the model sees [system] + ``history`` + [the user's ``prompt``]; with an empty
    prompt the history alone, which then ends with the user turn being replied to
    (``conversation.request_messages`` is the one rule). ``context_policy`` (chats.parse_policy:
    error, drop_oldest, keep_last:N) says what happens when that conversation is longer than the
    context. Raw mode sends ``prompt`` as written and takes no history.

    ``prefix`` is the start of the reply, forced (prefill): every column continues from it, so one
    can branch all settings from a token another column chose. It is appended to the prompt as
    the model sees it, in both modes, and is not part of a column's generated text.
    """

    prompt: str
    mode: Mode = "chat"
    system: str | None = None
    history: tuple[Message, ...] = ()
    context_policy: str = DEFAULT_POLICY
    prefix: str = ""


@dataclass(frozen=True)
class Column:
    label: str
    settings: Settings


@dataclass(frozen=True)
class Candidate:
    token_id: int
    text: str
    prob: float


@dataclass(frozen=True)
class TokenEvent:
    """One sampled token of one column, with what the chain did to the distribution.

    ``approximate`` names what could not be known exactly when the chain was replayed on a
    server's top candidates (None: every number is exact); see ``replay``.
    """

    column: int
    index: int
    token_id: int
    text: str  # the new complete characters; '' while a multi-byte character is unfinished
    prob: float  # probability after the chain: the distribution it was drawn from
    raw_prob: float  # probability under the model alone
    before: tuple[Candidate, ...]  # top alternatives of the raw distribution
    after: tuple[Candidate, ...]  # top alternatives after the chain
    survivors: int  # candidates left with non-zero probability
    entropy: float  # of the distribution after the chain, in nats
    cut_by: Mapping[int, str] = field(default_factory=dict)  # raw top alternatives the chain cut: id -> stage
    approximate: str | None = None
    candidates: tuple[tuple[int, float], ...] = ()  # the KEEP most likely raw tokens: (id, log-probability)


@dataclass
class ColumnResult:
    label: str
    settings: Settings
    seed: int
    chain: str
    text: str = ""
    finish_reason: FinishReason | None = None
    stopped_by: str | None = None
    tokens: list[TokenEvent] = field(default_factory=list)
    seconds: float = 0.0
    backend: str | None = None  # which backend produced it, when a run used several

    @property
    def tokens_per_second(self) -> float:
        return len(self.tokens) / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ColumnDone:
    """A column has finished; ``result.text`` is final.

    ``tail`` is the text its TokenEvents never carried: held back at the end because it could
    have been the start of a stop string, or the rest of an unfinished character. The events'
    texts followed by ``tail`` always add up to ``result.text``.
    """

    column: int
    result: ColumnResult
    tail: str = ""


@dataclass(frozen=True)
class Queued:
    """Columns wait for a free slot of the backend (more columns than it runs at once)."""

    columns: tuple[int, ...]
    slots: int


@dataclass
class RunResult:
    prompt_text: str
    prompt_tokens: int
    prompt_seconds: float
    columns: list[ColumnResult]
    context: Mapping[str, Any] | None = None  # what the context policy did to a conversation
    prompt_token_ids: list[int] | None = None
    prompt_reused: bool = False  # the local engine kept this very prompt's evaluation from the last run

    @classmethod
    def of(cls, info: Mapping[str, Any], columns: list[ColumnResult]) -> RunResult:
        """From the ``info`` a backend's generate fills, and the finished columns."""
        return cls(
            info["prompt_text"],
            info["prompt_tokens"],
            info["prompt_seconds"],
            columns,
            info.get("context"),
            info.get("prompt_token_ids"),
            bool(info.get("prompt_reused")),
        )

    def rendered(self) -> dict[str, Any]:
        """The prompt as sent, as a result file records it (``rendered``)."""
        return rendered_record(
            {
                "prompt_text": self.prompt_text,
                "prompt_tokens": self.prompt_tokens,
                "prompt_token_ids": self.prompt_token_ids,
                "context": self.context,
            }
        )


# What a result file records of each prompt as sent; the token ids let `replay` count the prompt in penalties.
RENDERED = ("prompt_text", "prompt_tokens", "prompt_token_ids", "context")


def rendered_record(info: Mapping[str, Any]) -> dict[str, Any]:
    """From the ``info`` a backend's generate fills: the prompt's text, token count and context outcome."""
    return {key: info[key] for key in RENDERED if info.get(key) is not None}


Event = TokenEvent | ColumnDone | Queued


@dataclass(frozen=True)
class Independence:
    """Whether a column's numbers are the same alone and beside others, on this model and hardware."""

    independent: bool
    max_difference: float


PROBE_PROMPT = "Write a short poem praising light-emitting diodes."


def resolve_seed(seed: int, drawn: int) -> int:
    return drawn if seed == -1 else seed


def collect(events, columns: int) -> list[ColumnResult]:
    """The finished columns of an event stream, in column order."""
    finished = {event.column: event.result for event in events if isinstance(event, ColumnDone)}
    return [finished[i] for i in range(columns)]
