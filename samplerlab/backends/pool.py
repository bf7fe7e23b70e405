"""Several llama-servers as one backend: columns spread over all of them, each fed only what its
slots can take, and a server that fails mid-run has its unfinished columns retried on the others.

A column's text depends only on its settings, seed and prompt (checked by the independence
probe), so which server ran it does not change it; every result says which one did.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from ..events import Column, ColumnDone, Event, GenerationError, Queued, Request, TokenEvent
from ..schema.params import Settings
from . import BackendError


class ServerPool:
    """Servers that run the same model; ``notes`` says what went wrong and was retried."""

    def __init__(self, backends: Sequence[Any]) -> None:
        self.backends = list(backends)
        self.notes: list[str] = []
        self.lock = threading.Lock()
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

    def refuse(self, settings: Settings) -> str | None:
        return self.backends[0].refuse(settings)

    def generate(
        self,
        request: Request,
        columns: Sequence[Column],
        cancel: threading.Event | None = None,
        info: dict | None = None,
    ) -> Iterator[Event]:
        with self.lock:
            yield from _Spread(
                self, request, list(columns), cancel or threading.Event(), info if info is not None else {}
            ).events()

    def close(self) -> None:
        for backend in self.backends:
            backend.close()

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Spread:
    """One run over the pool: a queue of column indices that every live server takes from."""

    def __init__(
        self, pool: ServerPool, request: Request, columns: list[Column], cancel: threading.Event, info: dict
    ) -> None:
        self.pool, self.request, self.columns, self.cancel, self.info = pool, request, columns, cancel, info
        self.todo: queue.Queue = queue.Queue()
        for index in range(len(columns)):
            self.todo.put(index)
        self.out: queue.Queue = queue.Queue()
        self.done: set[int] = set()  # columns the consumer has seen finish
        self.finished: set[int] = set()  # columns a worker has finished (sooner than ``done``)
        self.dead: set[int] = set()
        self.lock = threading.Lock()

    def events(self) -> Iterator[Event]:
        workers = [threading.Thread(target=self._work, args=(backend,), daemon=True) for backend in self.pool.backends]
        for worker in workers:
            worker.start()
        waiting = len(self.columns) - self.pool.info.parallel
        if waiting > 0:
            yield Queued(tuple(range(self.pool.info.parallel, len(self.columns))), self.pool.info.parallel)
        while len(self.done) < len(self.columns):
            item = self.out.get()
            if isinstance(item, BaseException):
                self.cancel.set()
                for worker in workers:
                    worker.join()
                raise item
            if isinstance(item, ColumnDone):
                self.done.add(item.column)
            yield item

    def _work(self, backend: Any) -> None:
        slots = backend.info.parallel
        while not self.cancel.is_set():
            batch = self._take(slots)
            if not batch:
                return
            try:
                self._run(backend, batch)
            except BackendError as error:
                if self._fail(backend, batch, error):
                    return
            except BaseException as error:  # a column's own error: the run cannot go on anywhere
                self.out.put(error)
                return

    def _take(self, count: int) -> list[int]:
        batch: list[int] = []
        while len(batch) < count:
            try:
                batch.append(self.todo.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self, backend: Any, batch: list[int]) -> None:
        info: dict = {}
        for event in backend.generate(self.request, [self.columns[i] for i in batch], self.cancel, info):
            if isinstance(event, Queued):
                continue
            index = batch[event.column]
            if isinstance(event, ColumnDone):
                if event.result.finish_reason == "cancelled" and not self.cancel.is_set():
                    continue  # cut short by its server's failure: retried elsewhere
                self.finished.add(index)
                event = replace(event, column=index)
            elif isinstance(event, TokenEvent):
                event = replace(event, column=index)
            self.out.put(event)
        self.info.setdefault("prompt_text", info.get("prompt_text"))
        self.info.setdefault("prompt_tokens", info.get("prompt_tokens"))
        self.info.setdefault("prompt_seconds", info.get("prompt_seconds"))

    def _fail(self, backend: Any, batch: list[int], error: BackendError) -> bool:
        """Put the batch's columns back for the other servers; True if this worker should stop."""
        with self.lock:
            self.dead.add(id(backend))
            living = [b for b in self.pool.backends if id(b) not in self.dead]
        unfinished = [i for i in batch if i not in self.finished]
        if not living:
            self.out.put(GenerationError(f"every server failed; last: {error}"))
            return True
        self.pool.notes.append(
            f"{backend.info.location} failed mid-run ({error}); "
            f"{len(unfinished)} column(s) retried on the other servers"
        )
        for index in unfinished:
            self.todo.put(index)
        for other in living:  # their workers may have found the queue empty and left: start them again
            threading.Thread(target=self._work, args=(other,), daemon=True).start()
        return True
