"""Columns over every slot of one or several llama-servers: a request starts the moment a slot frees.

Each server gets at most its slot count of streaming requests at once, so none waits in a server's
own queue (where our read timeout would take the wait for a stall). When a column ends, the next
waiting one starts at once on the server whose slot freed: a long column holds up only itself,
never a batch, and 64 columns over two 4-slot servers keep all 8 slots busy to the end.

A server that fails mid-run (its connection breaks, it stalls past the timeout, it closes a
stream before the final event, it sends what no llama-server sends) is dropped for the rest of
the run: its unfinished columns start again from their first token on the other servers (a
column's text depends only on its settings, seed and prompt, which the independence probe
checks; a retried column's first token comes again with index 0), and a note says so. With no
server left the run ends with one line naming the failure. A server that answers a request with
an HTTP error refused that column, so the run ends with its message instead of trying elsewhere.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..events import ColumnDone, Event, Queued
from . import BackendError
from .http import Refused, Stream

MAX_COLUMNS = 4096  # columns one run takes (a runner cuts more): each column's result is kept whole anyway
POLL = 0.1  # seconds between looks at ``cancel`` while no stream has anything to say
BACKLOG = 1024  # streamed events read but not yet handled; a server that floods waits (bounded memory)
UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError)


@dataclass(eq=False)
class Member:
    """One server of a run: where it is, its slots, and how it makes a column's request (no network:
    the prompt and logit-bias keys were tokenized before the run)."""

    backend: Any  # a ServerBackend: ``endpoint``
    slots: int
    make: Callable[[int], Any]  # column index -> its _ColumnRun on this server
    busy: int = 0
    failed: str | None = None

    @property
    def shown(self) -> str:
        return self.backend.endpoint.shown


@dataclass(eq=False)
class _Attempt:
    """One column's request on one member; a retried column has a new attempt."""

    run: Any
    member: Member


@contextlib.contextmanager
def held(lock: threading.Lock, cancel: threading.Event) -> Iterator[None]:
    """``lock`` held for a run, or not at all once ``cancel`` is set while waiting for it (the run
    then starts nothing and ends every column 'cancelled')."""
    while not lock.acquire(timeout=POLL):
        if cancel.is_set():
            yield
            return
    try:
        yield
    finally:
        lock.release()


class SlotScheduler:
    """Runs ``count`` columns over ``members``' slots and merges their events, numbered as given."""

    def __init__(self, members: Sequence[Member], count: int, cancel: threading.Event, notes: list[str]) -> None:
        self.members, self.cancel, self.notes = list(members), cancel, notes
        self.waiting: deque[int] = deque(range(count))
        self.active: list[_Attempt] = []
        self.items: queue.Queue = queue.Queue(BACKLOG)
        self.over = threading.Event()  # the run has ended: readers stop waiting to hand over events
        self.opened: list[Any] = []  # every run made, for closing its stream and replay at the end

    @property
    def slots(self) -> int:
        return sum(m.slots for m in self.members if m.failed is None)

    def events(self) -> Iterator[Event]:
        try:
            self._fill()
            if self.waiting:
                yield Queued(tuple(self.waiting), self.slots)
            while self.active:
                yield from self._next()
                self._fill()
            yield from self._cancel_all()  # stopped before these could start: they end 'cancelled' too
        finally:
            self.over.set()
            for run in self.opened:
                if run.stream is not None:
                    run.stream.close()
                run.replay.close()

    # -- starting ----------------------------------------------------------------------
    def _fill(self) -> None:
        """Every free slot of every living server gets the next waiting column, the emptiest server first."""
        while self.waiting and not self.cancel.is_set():
            free = [m for m in self.members if m.failed is None and m.busy < m.slots]
            if not free:
                return
            member = min(free, key=lambda m: (m.busy / m.slots, self.members.index(m)))
            self._start(member, self.waiting.popleft())

    def _start(self, member: Member, index: int) -> None:
        run = member.make(index)
        self.opened.append(run)
        attempt = _Attempt(run, member)
        member.busy += 1
        self.active.append(attempt)
        threading.Thread(target=self._read, args=(attempt,), daemon=True, name=f"samplerlab-col{index}").start()

    def _read(self, attempt: _Attempt) -> None:
        """In its own thread: connecting waits for the server's answer, which may come only with the
        first token, so each column connects here and all of them reach the server at once."""
        run = attempt.run
        try:
            run.started = time.perf_counter()
            run.stream = Stream(attempt.member.backend.endpoint, "/completion", run.body)
            if self.cancel.is_set() or self.over.is_set() or attempt not in self.active:
                run.stream.close()  # the run ended or dropped it while it connected
            for item in run.stream.events():
                if not self._hand_over(attempt, item):
                    return
            self._hand_over(attempt, None)
        except BaseException as error:
            self._hand_over(attempt, error)

    def _hand_over(self, attempt: _Attempt, item: Any) -> bool:
        """Queue ``item`` for the run's thread, waiting while the backlog is full; False once the run is over."""
        while not self.over.is_set():
            try:
                self.items.put((attempt, item), timeout=POLL)
                return True
            except queue.Full:
                continue
        return False

    # -- one event ---------------------------------------------------------------------
    def _next(self) -> Iterator[Event]:
        try:
            attempt, item = self.items.get(timeout=POLL)
        except queue.Empty:
            if self.cancel.is_set():
                yield from self._cancel_all()
            return
        if self.cancel.is_set():
            yield from self._cancel_all()
            return
        if attempt not in self.active:  # finished, or dropped with its server: nothing more to say
            return
        if isinstance(item, Refused) or (isinstance(item, BaseException) and not isinstance(item, BackendError)):
            yield from self._cancel_all()
            raise item
        if isinstance(item, BackendError):
            yield from self._failed(attempt.member, item)
            return
        if item is None:  # the stream ended without a final event: the server went away
            shown = attempt.member.shown
            error = BackendError(f"{shown}: the server closed the stream mid-run (it stopped or crashed?)")
            yield from self._failed(attempt.member, error)
            return
        yield from self._chunk(attempt, item)

    def _chunk(self, attempt: _Attempt, item: Any) -> Iterator[Event]:
        events: list[Event] = []
        try:
            events = list(attempt.run.chunk(item))  # all of it read before any goes out: a bad event is whole
        except UNREADABLE as error:
            failure = BackendError(
                f"{attempt.member.shown}: /completion sent a token this client cannot read "
                f"({type(error).__name__}: {str(error)[:80]}); not a llama-server?"
            )
            yield from self._failed(attempt.member, failure)
            return
        for event in events:
            if isinstance(event, ColumnDone):
                self._release(attempt)
            yield event

    def _release(self, attempt: _Attempt) -> None:
        if attempt in self.active:
            self.active.remove(attempt)
            attempt.member.busy -= 1
            if attempt.run.stream is not None:
                attempt.run.stream.close()

    # -- failures ----------------------------------------------------------------------
    def _failed(self, member: Member, error: BackendError) -> Iterator[Event]:
        """Drop ``member`` for the rest of the run; its columns go back to the front of the queue."""
        member.failed = str(error)
        lost = [a for a in self.active if a.member is member]
        for attempt in lost:
            self._release(attempt)
        if all(m.failed is not None for m in self.members):
            self.waiting.extendleft(sorted((a.run.index for a in lost), reverse=True))
            yield from self._cancel_all()
            if len(self.members) == 1:
                raise error
            raise BackendError(f"every server of the pool failed; the last: {error}")
        self.waiting.extendleft(sorted((a.run.index for a in lost), reverse=True))
        self.notes.append(
            f"{member.shown} failed mid-run ({error}); its {len(lost)} unfinished column(s) "
            "started again on the other servers"
        )

    def _cancel_all(self) -> Iterator[Event]:
        """Every column not finished ends 'cancelled', in column order."""
        ending = [a.run for a in self.active]
        for attempt in list(self.active):
            self._release(attempt)
        maker = next((m for m in self.members if m.failed is None), self.members[0]).make
        for index in self.waiting:
            ending.append(maker(index))
            self.opened.append(ending[-1])
        self.waiting.clear()
        for run in sorted(ending, key=lambda r: r.index):
            yield run.finish("cancelled")
