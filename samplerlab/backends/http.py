"""A small HTTP client for llama-server: JSON calls and server-sent event streams, with timeouts.

The standard library's http.client, so a stalled server cannot hold a run forever (every read
has a timeout, and a deadline bounds a whole answer or one streamed event, so a server sending a
byte a second cannot either) and a stream can be cut from another thread (closing the connection
stops the server's slot). Errors become one line naming the server and what was expected. Our own
API key is redacted from everything a server sends back, so an echoing server cannot get it printed
or written into a result file.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import BackendError

TIMEOUT_ENV = "SAMPLERLAB_SERVER_TIMEOUT"


class Refused(BackendError):
    """The server answered with an HTTP client error (4xx): it is there, and it said no to this
    request (a 5xx, or a proxy's 502 for a server gone, is a failure of the server instead)."""


def read_timeout() -> float:
    """Seconds without a byte before a server counts as stalled (120, or $SAMPLERLAB_SERVER_TIMEOUT):
    long enough for a big model's prompt on a busy GPU, short enough that a hung server ends the run."""
    try:
        return max(0.1, float(os.environ.get(TIMEOUT_ENV, "120")))
    except ValueError:
        return 120.0


MAX_LINE = 16 << 20  # one event of a stream; a token with 100 candidates is a few KiB
MAX_BODY = 64 << 20
REDACTED = "[api key]"
MIN_REDACTED = 4  # a shorter key would blank ordinary text; such a key guesses in seconds anyway


@dataclass(frozen=True)
class Endpoint:
    """A server's address; the API key and any credentials in the URL are kept out of ``shown``."""

    scheme: str
    host: str
    port: int
    prefix: str
    api_key: str | None = None

    @classmethod
    def parse(cls, url: str, api_key: str | None = None) -> Endpoint:
        text = url.strip()
        if "://" not in text:
            text = "http://" + text
        try:
            parts = urllib.parse.urlsplit(text)
            port = parts.port
        except ValueError as error:
            raise BackendError(f"--server {_safe(url)!r}: not a URL ({error})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(f"--server {_safe(url)!r}: expected http://HOST:PORT")
        key = api_key or (urllib.parse.unquote(parts.password) if parts.password else None)
        return cls(
            parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), parts.path.rstrip("/"), key
        )

    @property
    def shown(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.prefix}"

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def headers(self, body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if body:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def redact(self, value: Any) -> Any:
        """``value`` (text, or JSON data) with our API key replaced wherever a server echoed it."""
        key = self.api_key
        if not key or len(key) < MIN_REDACTED:
            return value
        if isinstance(value, str):
            return value.replace(key, REDACTED) if key in value else value
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        if isinstance(value, dict):
            return {self.redact(k): self.redact(v) for k, v in value.items()}
        return value


def _safe(url: str) -> str:
    """A URL as it may be shown: without user and password."""
    try:
        parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<unparsable URL>"


class _Deadline:
    """Shuts a connection down once an answer (or one streamed event) has taken ``seconds`` in all.

    A socket timeout counts from the last byte, so a server that drips one byte a second never
    trips it; this watch thread bounds the whole. ``renew`` starts the count again (each event).
    """

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.connection, self.seconds = connection, seconds
        self.due = time.monotonic() + seconds
        self.fired = False
        self._stopped = threading.Event()
        threading.Thread(target=self._watch, daemon=True, name="samplerlab-deadline").start()

    def renew(self) -> None:
        self.due = time.monotonic() + self.seconds

    def stop(self) -> None:
        self._stopped.set()

    def _watch(self) -> None:
        while not self._stopped.wait(max(0.0, self.due - time.monotonic())):
            if time.monotonic() >= self.due:
                self.fired = True
                _shut(self.connection)
                return


def _shut(connection: http.client.HTTPConnection) -> None:
    """Wake any thread reading the connection (shutdown does; close alone may not) and close it."""
    try:
        if connection.sock is not None:
            connection.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Stream:
    """One streaming request; ``close`` from any thread ends it (the server then frees the slot)."""

    def __init__(self, endpoint: Endpoint, path: str, body: dict[str, Any], timeout: float | None = None) -> None:
        self.endpoint = endpoint
        self.closed = False
        self.timeout = timeout or read_timeout()
        self._connection, self._deadline = _send(endpoint, "POST", path, body, self.timeout)
        try:
            self._response = _response(endpoint, self._connection, path, self._deadline)
        finally:
            self._deadline.renew()
        if self._connection.sock is not None:
            self._connection.sock.settimeout(self.timeout)

    def events(self) -> Iterator[dict[str, Any]]:
        """Each ``data:`` line's JSON object, until the stream ends."""
        try:
            while True:
                line = self._response.readline(MAX_LINE + 1)
                if self._deadline.fired and not self.closed:
                    raise self._late()
                self._deadline.renew()
                if not line:
                    return
                if len(line) > MAX_LINE:
                    raise BackendError(
                        f"{self.endpoint.shown}: a streamed event is larger than "
                        f"{MAX_LINE >> 20} MiB; not a llama-server answer"
                    )
                if line.startswith(b"data: "):
                    payload = line[6:].strip()
                    if payload == b"[DONE]":
                        return
                    yield _json(self.endpoint, payload, "/completion")
                elif line.startswith(b"error: "):
                    raise BackendError(
                        f"{self.endpoint.shown}: {_error_message(_json(self.endpoint, line[7:], '/completion'))}"
                    )
        except TimeoutError:  # nothing for ``timeout`` s: the same words as the deadline's, which may fire first
            if self.closed:
                return
            raise self._late() from None
        except (OSError, http.client.HTTPException, AttributeError, ValueError) as error:
            if self.closed:  # closed from another thread while reading: http.client fails in various ways
                return
            if self._deadline.fired:
                raise self._late() from None
            raise BackendError(
                f"{self.endpoint.shown}: the connection broke mid-run ({_reason(self.endpoint, error)})"
            ) from None
        finally:
            self._deadline.stop()

    def _late(self) -> BackendError:
        return BackendError(
            f"{self.endpoint.shown}: sent no complete event within {self.timeout:g} s "
            "(stalled, overloaded, or sending a little at a time?)"
        )

    def close(self) -> None:
        self.closed = True
        self._deadline.stop()
        try:
            if self._connection.sock is not None:
                self._connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._connection.close()


def call(
    endpoint: Endpoint, method: str, path: str, body: dict[str, Any] | None = None, timeout: float | None = None
) -> Any:
    """One JSON request and its JSON answer, all of it within ``timeout`` (connecting included)."""
    timeout = timeout or read_timeout()
    connection, deadline = _send(endpoint, method, path, body, timeout)
    late = BackendError(f"{endpoint.shown}: no complete answer to {method} {path} within {timeout:g} s")
    try:
        response = _response(endpoint, connection, path, deadline, late)
        data = response.read(MAX_BODY + 1)
    except TimeoutError:
        raise late from None
    except (OSError, http.client.HTTPException) as error:
        if deadline.fired:
            raise late from None
        raise BackendError(f"{endpoint.shown}: {method} {path} failed ({_reason(endpoint, error)})") from None
    finally:
        deadline.stop()
        connection.close()
    if deadline.fired:  # cut off part-way: what arrived is not the answer
        raise late
    if len(data) > MAX_BODY:
        raise BackendError(f"{endpoint.shown}: the answer to {path} is larger than {MAX_BODY >> 20} MiB")
    return _json(endpoint, data, path)


def _send(
    endpoint: Endpoint, method: str, path: str, body: dict[str, Any] | None, timeout: float
) -> tuple[http.client.HTTPConnection, _Deadline]:
    """The request sent, and the deadline watching its answer (started first: connecting counts)."""
    connection = endpoint.connection(timeout)
    deadline = _Deadline(connection, timeout)
    payload = None if body is None else json.dumps(body).encode("utf-8")
    try:
        connection.request(method, endpoint.prefix + path, body=payload, headers=endpoint.headers(body is not None))
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
    except TimeoutError:
        deadline.stop()
        connection.close()
        raise BackendError(
            f"{endpoint.shown}: no connection within {timeout:g} s; is llama-server running there?"
        ) from None
    except OSError as error:
        deadline.stop()
        connection.close()
        raise BackendError(
            f"{endpoint.shown}: cannot connect ({_reason(endpoint, error)}); is llama-server running there?"
        ) from None
    return connection, deadline


def _response(
    endpoint: Endpoint,
    connection: http.client.HTTPConnection,
    path: str,
    deadline: _Deadline,
    late: BackendError | None = None,
) -> http.client.HTTPResponse:
    late = late or BackendError(f"{endpoint.shown}: no complete answer to POST {path} within {deadline.seconds:g} s")
    try:
        response = connection.getresponse()
    except TimeoutError:
        deadline.stop()
        connection.close()
        raise late from None
    except (OSError, http.client.HTTPException) as error:
        deadline.stop()
        connection.close()
        if deadline.fired:
            raise late from None
        raise BackendError(
            f"{endpoint.shown}: {path} failed ({_reason(endpoint, error)}); not a llama-server?"
        ) from None
    if response.status in (401, 403):
        deadline.stop()
        connection.close()
        hint = "wrong API key" if endpoint.api_key else "it needs an API key"
        raise Refused(
            f"{endpoint.shown}: refused with HTTP {response.status} ({hint}; pass --api-key or set SAMPLERLAB_API_KEY)"
        )
    if response.status >= 400:
        try:
            data = response.read(1 << 16)
        except (OSError, http.client.HTTPException):
            data = b""
        deadline.stop()
        connection.close()
        try:
            message = _error_message(endpoint.redact(json.loads(data)))
        except (ValueError, RecursionError):
            message = f"HTTP {response.status}; not a llama-server?"
        kind = Refused if response.status < 500 else BackendError
        raise kind(f"{endpoint.shown}: {path}: {message}")
    return response


def _json(endpoint: Endpoint, data: bytes, path: str) -> Any:
    try:
        return endpoint.redact(json.loads(data))
    except (ValueError, RecursionError):
        raise BackendError(f"{endpoint.shown}: {path} did not answer with JSON; not a llama-server?") from None


def _error_message(document: Any) -> str:
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        error = document["error"]
        return " ".join(str(error.get("message", "error")).split())[:300]
    return "an error without a message"


def _reason(endpoint: Endpoint, error: BaseException) -> str:
    """An exception's first line; http.client quotes what the server sent, so our key is redacted."""
    reason = getattr(error, "strerror", None) or (str(error).splitlines() or [type(error).__name__])[0]
    return endpoint.redact(reason[:300])
