"""Several llama-servers as one backend: every slot of every server runs a column, the next waiting
column starts the moment a slot frees (``slots``), and a server that fails mid-run has its
unfinished columns started again on the others.

A column's text depends only on its settings, seed and prompt (the independence probe checks
each server, and that the servers agree with each other), so which server ran it does not change
it; every result says which one did. Before the run, each server tokenizes the prompt on its own
thread and outside the pool's lock (a slow or dead server holds up nobody waiting for the lock);
a server that cannot is left out of this run with a note, and servers that tokenize the prompt
differently are refused, since their texts would differ.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from ..events import Column, Event, GenerationError, Request
from ..schema.params import Settings
from . import BackendError
from .server import Prepared, ServerBackend, draw_seeds
from .slots import MAX_COLUMNS, SlotScheduler, held

GRACE = 5.0  # seconds the other servers get to prepare a run beyond twice the first one's time


class ServerPool:
    """Servers that run the same model; ``notes`` says what went wrong and was retried."""

    def __init__(self, backends: Sequence[ServerBackend]) -> None:
        self.backends = list(backends)
        self.notes: list[str] = []
        self.lock = threading.Lock()  # one run at a time: two would queue inside the servers, unseen
        first = self.backends[0].info
        for backend in self.backends[1:]:
            if backend.info.file_name != first.file_name:
                raise BackendError(
                    f"{backend.info.location} runs {backend.info.file_name}, "
                    f"{first.location} runs {first.file_name}: every server must run the same model"
                )
        self.info = replace(
            first,
            location=" ".join(b.info.location for b in self.backends),
            parallel=sum(b.info.parallel for b in self.backends),
        )

    @property
    def max_columns(self) -> int:
        """Columns one ``generate`` takes: far more than the slots, which it keeps busy (see ``slots``)."""
        return MAX_COLUMNS

    def refuse(self, settings: Settings) -> str | None:
        return self.backends[0].refuse(settings)

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
        info = info if info is not None else {}
        ready = self._prepare(request, columns, info)
        seeds = draw_seeds(columns)
        members = [backend.member(prepared, columns, seeds) for backend, prepared in ready]
        cancel = cancel or threading.Event()
        with held(self.lock, cancel):
            yield from SlotScheduler(members, len(columns), cancel, self.notes).events()

    def _prepare(self, request: Request, columns: Sequence[Column], info: dict) -> list[tuple[ServerBackend, Prepared]]:
        """Every server's tokens of the prompt, asked at once. Once one has prepared it, the others get
        twice its time and ``GRACE`` s more: a server slower than that (stalled, far away) is left
        out of this run rather than hold up its start by a whole read timeout."""
        answers: list[Any] = [None] * len(self.backends)
        infos: list[dict] = [{} for _ in self.backends]
        answered: queue.Queue = queue.Queue()

        def ask(i: int) -> None:
            try:
                answers[i] = self.backends[i].prepare(request, columns, infos[i])
            except BaseException as error:  # handed to the caller's thread below
                answers[i] = error
            answered.put(i)

        started = time.monotonic()
        for i in range(len(self.backends)):
            threading.Thread(target=ask, args=(i,), daemon=True, name=f"samplerlab-prepare{i}").start()
        due, waiting = float("inf"), len(self.backends)
        while waiting:  # every ask ends within the read timeout; the grace counts from the first success
            try:
                i = answered.get(timeout=max(0.0, min(due - time.monotonic(), 3600)))
            except queue.Empty:
                break
            waiting -= 1
            if isinstance(answers[i], Prepared) and due == float("inf"):
                due = time.monotonic() + 2 * (time.monotonic() - started) + GRACE
        return self._agreeing(list(answers), infos, info)

    def _agreeing(self, answers: list[Any], infos: list[dict], info: dict) -> list[tuple[ServerBackend, Prepared]]:
        """The servers that prepared the run; refused if none did, or if they tokenized it differently."""
        ready = [(b, a, i) for b, a, i in zip(self.backends, answers, infos) if isinstance(a, Prepared)]
        if not ready:
            first = answers[0]
            if isinstance(first, BaseException) and not isinstance(first, BackendError):
                raise first  # the prompt itself (empty, too long, a bad conversation): the same everywhere
            raise BackendError(f"no server of the pool could take the run; the first: {first}")
        for backend, answer in zip(self.backends, answers):
            if not isinstance(answer, Prepared):
                why = (
                    answer
                    if answer is not None
                    else f"it was still tokenizing the prompt {GRACE:g} s after another had"
                )
                self.notes.append(f"{backend.info.location} left out of this run ({why})")
        first, tokens, details = ready[0]
        for backend, answer, _ in ready[1:]:
            if answer.tokens != tokens.tokens or answer.words != tokens.words:
                raise BackendError(
                    f"{backend.info.location} and {first.info.location} tokenize the prompt differently "
                    "(another chat template or tokenizer?): their texts would differ, so they cannot share a run"
                )
        info.update(details)
        return [(backend, answer) for backend, answer, _ in ready]

    def close(self) -> None:
        for backend in self.backends:
            backend.close()

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
