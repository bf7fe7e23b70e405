"""The llama-server backend: each column is its own streaming ``POST /completion``.

The columns go out at once (as many as the server has slots; the rest wait their turn), so the
server's parallel slots batch them. Each asks for the raw top candidates of every token
(``n_probs``) and for no prompt caching (llama-server's README warns caching can change results).
The token view a local column shows is rebuilt by replaying the column's chain on those
candidates (``replay``). Field names come from the schema's llama-server spellings.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..chats.conversation import fit_request, raw_prompt, request_messages
from ..events import (
    KEEP,
    Column,
    ColumnDone,
    ColumnResult,
    Event,
    GenerationError,
    Request,
    TokenEvent,
    resolve_seed,
)
from ..llama.replay import ChainReplay, Recorded  # llama.cpp's samplers, replayed on the server's candidates
from ..llama.textstream import TextStream
from ..schema.chains import active_stage_names, selector_name, server_refusal
from ..schema.load_settings import LOAD_KNOBS
from ..schema.params import KNOBS, STAGE_BY_NAME, Settings, order_names
from . import BackendError, BackendInfo, model_fields
from .http import Endpoint, Stream, call
from .server_model import describe_model
from .slots import MAX_COLUMNS, Member, SlotScheduler, held

UNREPORTED = -1  # the id of a token llama-server generated without reporting it
INCOMPLETE = b"\xff"  # decodes to U+FFFD: the bytes of a character the run ended inside were never sent
N_PROBS = KEEP  # raw candidates per token: more than the default top-k 40, so its cuts replay exactly
FINISH = {"eos": "end", "word": "stop"}
# Knobs sent under their own llama-server names; these few are sent another way.
SENT_OTHERWISE = {"samplers", "seed", "max_tokens", "logit_bias", "stop"}
# What a server claims is clamped to what samplerlab could have asked for: a context no larger than a
# local load may have (the schema's n_ctx bound) (a vocabulary: server_model.MAX_VOCAB),
# and, for a column without a token limit on a server that reports no context, a hard ceiling.
MAX_CONTEXT = int(next(knob.maximum or 0 for knob in LOAD_KNOBS if knob.name == "n_ctx"))
UNBOUNDED_CEILING = 1 << 16


@dataclass(frozen=True)
class Prepared:
    """What a run needs of one server before its first request: the prompt's tokens, and each text
    key of the columns' logit biases as that server tokenizes it."""

    tokens: list[int]
    words: Mapping[str, list[int]]


def draw_seeds(columns: Sequence[Column]) -> list[int]:
    """Each column's seed, a -1 drawn once for the whole run, so every such column shares it."""
    drawn = secrets.randbelow(2**31)
    return [resolve_seed(column.settings.seed, drawn) for column in columns]


class ServerBackend:
    """A llama-server a user started, at ``url``; its model and slots are what its /props say."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        self.endpoint = Endpoint.parse(url, api_key)
        self.lock = threading.Lock()  # one comparison at a time, as with a local model
        self.props = self._props()
        self.meta = self._model_meta()
        self.info = self._info()

    # -- what the server is --------------------------------------------------------
    def _props(self) -> dict[str, Any]:
        props = call(self.endpoint, "GET", "/props")
        if (
            not isinstance(props, dict)
            or not isinstance(props.get("default_generation_settings"), dict)
            or "total_slots" not in props
        ):
            raise BackendError(
                f"{self.endpoint.shown}: GET /props did not describe a llama-server "
                "(no default_generation_settings / total_slots)"
            )
        return props

    def _model_meta(self) -> dict[str, Any]:
        try:
            models = call(self.endpoint, "GET", "/v1/models")
            meta = models["data"][0].get("meta") or {}
        except (BackendError, KeyError, IndexError, TypeError, AttributeError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def _info(self) -> BackendInfo:
        props, model = self.props, describe_model(self.props, self.meta)
        return BackendInfo(
            **model_fields(model),
            chat_template=bool(props.get("chat_template")),
            kind="llama-server",
            location=self.endpoint.shown,
            context_per_column=min(_int(props["default_generation_settings"].get("n_ctx")), MAX_CONTEXT),
            llama_cpp_build=str(props.get("build_info") or "unknown"),
            parallel=min(max(1, _int(props.get("total_slots"))), 1024),
            traces_stages="replayed",
        )

    @property
    def max_columns(self) -> int:
        """Columns one ``generate`` takes: far more than the slots, which it keeps busy (see ``slots``)."""
        return MAX_COLUMNS

    def refuse(self, settings: Settings) -> str | None:
        return server_refusal(settings)

    # -- the prompt ------------------------------------------------------------------
    def prompt_text(self, request: Request) -> str:
        """Raw text as written; chat turns rendered by the server's own template (POST /apply-template)."""
        if request.mode == "raw":
            return raw_prompt(request) + request.prefix
        return self.render(request_messages(request)) + request.prefix

    def render(self, messages: list[dict[str, str]]) -> str:
        """Messages rendered by the server's own chat template (POST /apply-template)."""
        if not self.info.chat_template:
            raise GenerationError(f"{self.endpoint.shown}: the server's model has no chat template; use raw mode")
        answer = call(self.endpoint, "POST", "/apply-template", {"messages": messages})
        if not isinstance(answer, dict) or not isinstance(answer.get("prompt"), str):
            raise BackendError(f"{self.endpoint.shown}: /apply-template did not return a prompt")
        return answer["prompt"]

    def tokenize(self, text: str, add_special: bool, parse_special: bool = True) -> list[int]:
        answer = call(
            self.endpoint,
            "POST",
            "/tokenize",
            {"content": text, "add_special": add_special, "parse_special": parse_special},
        )
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise BackendError(f"{self.endpoint.shown}: /tokenize did not return token ids")
        return tokens

    # -- generating ----------------------------------------------------------------------
    def generate(
        self,
        request: Request,
        columns: Sequence[Column],
        cancel: threading.Event | None = None,
        info: dict | None = None,
    ) -> Iterator[Event]:
        for column in columns:
            refusal = self.refuse(column.settings)
            if refusal is not None:
                raise GenerationError(f"column {column.label!r}: {refusal}")
        cancel = cancel or threading.Event()
        # The prompt and the logit-bias keys are tokenized by the server before the lock: a slow
        # server then holds up only this run, not every visitor waiting for the lock.
        prepared = self.prepare(request, columns, info if info is not None else {})
        member = self.member(prepared, columns, draw_seeds(columns))
        with held(self.lock, cancel):
            yield from SlotScheduler([member], len(columns), cancel, []).events()

    def prepare(self, request: Request, columns: Sequence[Column], info: dict) -> Prepared:
        """The prompt as this server tokenizes it (fitted to its context) and every text key of the
        columns' logit biases tokenized: all the network a run needs before its first request."""
        started = time.perf_counter()
        limit = self.info.context_per_column - 1 if self.info.context_per_column else 2**31  # 0: not reported
        request = fit_request(request, lambda messages: len(self.tokenize(self.render(messages), False)), limit, info)
        text = self.prompt_text(request)
        tokens = self.tokenize(text, add_special=request.mode == "raw")
        n_ctx = self.info.context_per_column
        if not tokens:
            raise GenerationError("the prompt is empty")
        if n_ctx and len(tokens) >= n_ctx:
            raise GenerationError(
                f"the prompt is {len(tokens)} tokens but {self.endpoint.shown} holds {n_ctx} "
                "per slot; shorten the prompt or restart the server with a larger -c"
            )
        keys = {key for column in columns for key in column.settings.logit_bias if not isinstance(key, int)}
        words = {key: self.tokenize(key, add_special=False, parse_special=False) for key in sorted(keys)}
        info.update(
            prompt_text=text,
            prompt_tokens=len(tokens),
            prompt_token_ids=tokens,
            prompt_seconds=time.perf_counter() - started,
        )
        return Prepared(tokens, words)

    def member(self, prepared: Prepared, columns: Sequence[Column], seeds: Sequence[int]) -> Member:
        """This server as one member of a run: each column's request made only when a slot takes it."""
        n_ctx = self.info.context_per_column

        def make(index: int) -> _ColumnRun:
            bias = self.resolved_bias(columns[index].settings, prepared.words)
            return _ColumnRun(index, columns[index], self, prepared.tokens, seeds[index], n_ctx, bias)

        return Member(self, self.info.parallel, make)

    def completion_body(
        self, settings: Settings, seed: int, prompt: list[int], bias: Sequence[tuple[int, float]]
    ) -> dict[str, Any]:
        """A /completion request: every knob under its llama-server name, from the schema; ``bias`` is the
        settings' logit bias with text keys already tokenized (``resolved_bias``)."""
        body: dict[str, Any] = {
            knob.llama_server: _plain(settings[knob.name])
            for knob in KNOBS
            if knob.llama_server and knob.name not in SENT_OTHERWISE
        }
        body.update(
            prompt=prompt,
            stream=True,
            cache_prompt=False,
            n_probs=N_PROBS,
            return_tokens=True,
            seed=seed,
            n_predict=settings.max_tokens or -1,
            samplers=_server_order(settings),
            logit_bias=[[token, False if value == -math.inf else value] for token, value in bias],
            stop=list(settings.stop),
        )
        return body

    def resolved_bias(self, settings: Settings, words: Mapping[str, list[int]]) -> list[tuple[int, float]]:
        """(token id, bias) pairs, -inf for a ban; text keys as llama-server tokenized them (``words``, from
        ``prepare``; a token that occurs twice in a key is biased twice, as there)."""
        pairs: list[tuple[int, float]] = []
        for key, bias in settings.logit_bias.items():
            ids = [key] if isinstance(key, int) else words[key]
            pairs += [(token, bias) for token in ids]
        return pairs

    def close(self) -> None:
        pass

    def __enter__(self) -> ServerBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _server_order(settings: Settings) -> str:
    """The order as llama.cpp letters, without stages llama-server no longer has (tail-free, off here)."""
    return "".join(STAGE_BY_NAME[name].letter for name in order_names(settings.samplers) if name != "tail_free")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


class _ColumnRun:
    """One column's request, its text stream and its chain replay."""

    def __init__(
        self,
        index: int,
        column: Column,
        backend: ServerBackend,
        prompt: list[int],
        seed: int,
        n_ctx: int,
        bias: list[tuple[int, float]],
    ) -> None:
        self.index, self.column, self.backend, self.prompt = index, column, backend, prompt
        settings = column.settings.replace(logit_bias=dict(bias))
        self.settings = settings
        self.replay = ChainReplay(settings, seed, n_ctx, backend.info.vocab_size or None)
        if settings.penalize_prompt:
            self.replay.remember(prompt)
        self.stream_text = TextStream(column.settings.stop)
        chain = f"{self.replay.chain} -> {selector_name(settings)}"  # the server's chain: the replay's plus a selector
        self.result = ColumnResult(column.label, column.settings, seed, chain, backend=backend.endpoint.shown)
        self.body = backend.completion_body(column.settings, seed, prompt, bias)
        self.stream: Stream | None = None
        self.unreported: str | None = None
        self.started = 0.0
        self.tail = ""
        self.ceiling = _ceiling(column.settings.max_tokens, n_ctx, len(prompt))

    @property
    def room(self) -> int:
        """Tokens this column may still take, whatever the server claims to have generated."""
        return max(0, self.ceiling - len(self.result.tokens))

    def token(self, item: dict[str, Any]) -> TokenEvent:
        top = (item.get("top_logprobs") or [])[:N_PROBS]  # we asked for N_PROBS
        recorded = Recorded(
            [c["id"] for c in top],
            [c["logprob"] for c in top],
            [c["token"] for c in top],
            item["id"],
            item["logprob"],
            item.get("token", ""),
        )
        step = self.replay.step(recorded)
        approximate = "; ".join(filter(None, [step.approximate, self.unreported]))
        event = TokenEvent(
            column=self.index,
            index=len(self.result.tokens),
            token_id=item["id"],
            text=self.backend.endpoint.redact(self.stream_text.push(bytes(item.get("bytes") or []))),
            prob=step.prob,
            raw_prob=step.raw_prob,
            before=step.before,
            after=step.after,
            survivors=step.survivors,
            entropy=step.entropy,
            cut_by=step.cut_by,
            approximate=approximate or None,
            candidates=tuple((c["id"], c["logprob"]) for c in top),
        )
        self.result.tokens.append(event)
        return event

    def unseen(self, count: int) -> list[TokenEvent]:
        """Tokens the server generated but never reported: it sends a token that ends inside a
        multi-byte character (common in Japanese) only together with the one that completes it, and
        then only the last one's id and candidates. Their bytes arrive with that token."""
        history = {"penalties", "dry", "xtc"} & set(active_stage_names(self.settings))
        if history:
            self.unreported = (
                f"a token llama-server did not report came before, so the replay's "
                f"{', '.join(sorted(history))} may differ from the server's"
            )
        events = []
        for _ in range(min(count, self.room)):
            event = TokenEvent(
                column=self.index,
                index=len(self.result.tokens),
                token_id=UNREPORTED,
                text="",
                prob=math.nan,
                raw_prob=math.nan,
                before=(),
                after=(),
                survivors=0,
                entropy=math.nan,
                approximate="llama-server does not report a token that ends inside a character",
            )
            self.result.tokens.append(event)
            events.append(event)
        return events

    def chunk(self, item: dict[str, Any]) -> Iterator[Event]:
        """One streamed event: its tokens, and the column's end (the server's, or our token limit's)."""
        reported = (item.get("completion_probabilities") or ())[: self.room]
        predicted = item.get("tokens_predicted")
        if isinstance(predicted, int):  # a count the server claims: never more than the column may take
            predicted = min(predicted, self.ceiling)
        if isinstance(predicted, int) and reported:
            yield from self.unseen(predicted - len(self.result.tokens) - len(reported))
        for probs in reported:
            yield self.token(probs)
        if item.get("stop") is True and isinstance(predicted, int) and predicted > len(self.result.tokens):
            yield from self.unseen(predicted - len(self.result.tokens))
            self.stream_text.push(INCOMPLETE)  # the run ended inside a character, as a local column shows it
        if item.get("stop") is True:
            yield self.finish(self.reason(item))
        elif not self.room:  # a server that runs past n_predict, or past its context, is cut here
            yield self.finish("length" if self.column.settings.max_tokens else "context")

    def finish(self, reason: str) -> ColumnDone:
        if self.result.finish_reason is None:
            redact = self.backend.endpoint.redact  # a key echoed across several tokens is whole only here
            self.tail = redact(self.stream_text.finish())
            self.result.text = redact(self.stream_text.text)
            self.result.stopped_by = self.stream_text.stopped_by
            self.result.finish_reason = reason  # type: ignore[assignment]
            self.result.seconds = time.perf_counter() - self.started if self.started else 0.0
            self.replay.close()
        return ColumnDone(self.index, self.result, self.tail)

    def reason(self, final: dict[str, Any]) -> str:
        if self.stream_text.stopped_by is not None:
            return "stop"
        kind = final.get("stop_type")
        if kind in FINISH:
            return FINISH[kind]
        limit = self.column.settings.max_tokens
        return "length" if limit and len(self.result.tokens) >= limit else "context"


def _ceiling(max_tokens: int, n_ctx: int, prompt: int) -> int:
    """The most tokens a column can take: its limit, else what the server's context leaves after the
    prompt, else (a server that reports no context) ``UNBOUNDED_CEILING``; an endless stream stops there."""
    if max_tokens:
        return max_tokens
    return max(1, n_ctx - prompt) if n_ctx else UNBOUNDED_CEILING
