"""What the app refuses before Gradio sees a request: password guessing and uploads past a budget.

Gradio checks ``--auth`` passwords as fast as they arrive (200 wrong ones took 5.2 s) and keeps
every upload until the app stops, whoever sent it (31 anonymous uploads added 47 MB). Its auth
callable never sees who is asking, so both bounds live in one ASGI middleware, passed to
``launch(app_kwargs={"middleware": ...})``:

- after ``FREE_FAILURES`` wrong passwords from one address, that address waits before its next try,
  1 s doubling to ``MAX_WAIT`` (429 with the wait in the message); a right password clears it;
- an upload is refused (507) while the files this app keeps from uploads already hold the budget
  (or MAX_UPLOADS files), and cut off (413) as soon as its own body would pass what is left of it, so
  one request of many files cannot overshoot; other POSTs may not carry more than
  ``MAX_OTHER_BODY`` bytes (Gradio reads multipart bodies of any path into memory);
  Gradio's ``delete_cache`` removes them as they age, so the budget frees itself.

Addresses are the TCP peer's: ``serve`` tells uvicorn to trust no ``X-Forwarded-For`` unless
``FORWARDED_ALLOW_IPS`` names a proxy, so a guesser cannot pose as many addresses, and one address
has one login in flight at a time, so parallel guesses wait like sequential ones. Behind ``--share``
every visitor arrives through the tunnel from one address, so the backoff then applies to all of
them together: guessing stays slow, but an attacker also slows the others' logins. For per-visitor
limits, put a reverse proxy with its own rate limits in front (README).
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

FREE_FAILURES = 5  # wrong passwords an address may send at full speed (typos happen)
MAX_WAIT = 60.0  # seconds: the longest wait after a run of failures
FORGET_AFTER = 15 * 60.0  # seconds of quiet after which an address's failures are forgotten
MAX_CLIENTS = 4096  # addresses remembered; the oldest go first
MAX_UPLOADS = 1000  # files kept from uploads: each upload sums their sizes, so that stays quick
MAX_OTHER_BODY = 1 << 20  # bytes of a POST that is not an upload: events and API calls are small JSON

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


@dataclass
class _Record:
    failures: int = 0
    until: float = 0.0  # monotonic time before which this address may not try again
    last: float = 0.0


class LoginThrottle:
    """Failed logins per address and how long each must wait; ``clock`` is time.monotonic."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._clock = clock

    def wait(self, client: str) -> float:
        """Seconds ``client`` must still wait before its next try (0: it may try now)."""
        with self._lock:
            record = self._records.get(client)
            return 0.0 if record is None else max(0.0, record.until - self._clock())

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            record = self._records.pop(client, None) or _Record()
            if now - record.last > FORGET_AFTER:
                record = _Record()
            record.failures, record.last = record.failures + 1, now
            extra = record.failures - FREE_FAILURES
            if extra > 0:
                record.until = now + min(MAX_WAIT, 2.0 ** (extra - 1))
            self._records[client] = record
            while len(self._records) > MAX_CLIENTS:
                self._records.popitem(last=False)

    def passed(self, client: str) -> None:
        with self._lock:
            self._records.pop(client, None)

    def begin(self, client: str) -> bool:
        """Claim ``client``'s one login in flight; False while another is being checked."""
        with self._lock:
            if client in self._pending:
                return False
            self._pending.add(client)
            return True

    def end(self, client: str) -> None:
        with self._lock:
            self._pending.discard(client)


class RequestGuard:
    """ASGI middleware: the login backoff and the upload budget (see the module's docstring)."""

    def __init__(self, app: Any, throttle: LoginThrottle, uploads: Callable[[], set], budget: int) -> None:
        self.app, self.throttle, self.uploads, self.budget = app, throttle, uploads, budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        path = scope.get("path", "").rstrip("/")
        if path.endswith("/login"):
            return await self._login(scope, receive, send)
        if not path.endswith("/upload"):
            return await self._bounded_call(scope, receive, send, MAX_OTHER_BODY, "a request")
        kept = list(self.uploads())
        left = self.budget - sum(_size(file) for file in kept)
        if len(kept) >= MAX_UPLOADS or left <= 0:
            return await _answer(send, 507, f"{self._budget_words()}; try again in a few minutes")
        await self._bounded_call(scope, receive, send, left, "this upload")

    def _budget_words(self) -> str:
        size = f"{self.budget >> 20} MiB" if self.budget >= 1 << 20 else f"{self.budget >> 10} KiB"
        return f"this app keeps at most {size} or {MAX_UPLOADS} files of uploads"

    async def _bounded_call(self, scope: Scope, receive: Receive, send: Send, limit: int, what: str) -> None:
        """Pass the request on with its body cut at ``limit`` bytes; past it, answer 413 in one line."""
        tracked = _unless_sent(send)
        try:
            await self.app(scope, _bounded(receive, limit), tracked)
        except BodyTooLarge:
            if tracked.started:  # type: ignore[attr-defined]
                raise
            await _answer(send, 413, f"{what} may carry at most {limit} bytes here ({self._budget_words()})")

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = (scope.get("client") or ("unknown",))[0]
        wait = self.throttle.wait(client)
        if wait > 0:
            return await _answer(send, 429, f"too many wrong passwords; try again in {math.ceil(wait)} s")
        if not self.throttle.begin(client):
            return await _answer(send, 429, "another login from this address is being checked; try again in 1 s")
        try:
            await self._checked_login(scope, receive, send, client)
        finally:
            self.throttle.end(client)

    async def _checked_login(self, scope: Scope, receive: Receive, send: Send, client: str) -> None:

        async def watched(message: dict) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 200:
                    self.throttle.passed(client)
                elif 400 <= status < 500:
                    self.throttle.failed(client)
            await send(message)

        await self.app(scope, receive, watched)


class BodyTooLarge(Exception):
    """A request body past its bound: answered 413 by ``_unless_sent``'s caller, never passed on."""


def _bounded(receive: Receive, limit: int) -> Receive:
    """``receive`` that stops a body at ``limit`` bytes, counted as it streams in (no Content-Length needed)."""
    seen = 0

    async def bounded() -> dict:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return bounded


def _unless_sent(send: Send) -> Send:
    """``send`` that remembers whether the app began its answer (then a late 413 cannot be sent)."""

    async def tracked(message: dict) -> None:
        if message["type"] == "http.response.start":
            tracked.started = True  # type: ignore[attr-defined]
        await send(message)

    tracked.started = False  # type: ignore[attr-defined]
    return tracked


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # deleted by delete_cache meanwhile
        return 0


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
