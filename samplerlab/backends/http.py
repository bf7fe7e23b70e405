"""A small HTTP client for llama-server: JSON calls and server-sent event streams, with timeouts.

The standard library's http.client, so a stalled server cannot hold a run forever (every read
has a timeout) and a stream can be cut from another thread (closing the connection stops the
server's slot). Errors become one line naming the server and what was expected.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import BackendError

TIMEOUT_ENV = "SAMPLERLAB_SERVER_TIMEOUT"


def read_timeout() -> float:
    """Seconds without a byte before a server counts as stalled (120, or $SAMPLERLAB_SERVER_TIMEOUT):
    long enough for a big model's prompt on a busy GPU, short enough that a hung server ends the run."""
    try:
        return max(0.1, float(os.environ.get(TIMEOUT_ENV, "120")))
    except ValueError:
        return 120.0


MAX_LINE = 16 << 20  # one event of a stream; a token with 100 candidates is a few KiB
MAX_BODY = 64 << 20


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


def _safe(url: str) -> str:
    """A URL as it may be shown: without user and password."""
    try:
        parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<unparsable URL>"


class Stream:
    """One streaming request; ``close`` from any thread ends it (the server then frees the slot)."""

    def __init__(self, endpoint: Endpoint, path: str, body: dict[str, Any], timeout: float | None = None) -> None:
        self.endpoint = endpoint
        self.closed = False
        self.timeout = timeout or read_timeout()
        self._connection = _send(endpoint, "POST", path, body, self.timeout)
        self._response = _response(endpoint, self._connection, path)
        if self._connection.sock is not None:
            self._connection.sock.settimeout(self.timeout)

    def events(self) -> Iterator[dict[str, Any]]:
        """Each ``data:`` line's JSON object, until the stream ends."""
        try:
            while True:
                line = self._response.readline(MAX_LINE + 1)
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
        except TimeoutError:
            if self.closed:
                return
            raise BackendError(
                f"{self.endpoint.shown}: sent nothing for {self.timeout:g} s (stalled or overloaded?)"
            ) from None
        except (OSError, http.client.HTTPException, AttributeError, ValueError) as error:
            if self.closed:  # closed from another thread while reading: http.client fails in various ways
                return
            raise BackendError(f"{self.endpoint.shown}: the connection broke mid-run ({_reason(error)})") from None

    def close(self) -> None:
        self.closed = True
        try:
            if self._connection.sock is not None:
                self._connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._connection.close()


def call(
    endpoint: Endpoint, method: str, path: str, body: dict[str, Any] | None = None, timeout: float | None = None
) -> Any:
    """One JSON request and its JSON answer."""
    timeout = timeout or read_timeout()
    connection = _send(endpoint, method, path, body, timeout)
    try:
        response = _response(endpoint, connection, path)
        data = response.read(MAX_BODY + 1)
    except TimeoutError:
        raise BackendError(f"{endpoint.shown}: no answer to {method} {path} within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:
        raise BackendError(f"{endpoint.shown}: {method} {path} failed ({_reason(error)})") from None
    finally:
        connection.close()
    if len(data) > MAX_BODY:
        raise BackendError(f"{endpoint.shown}: the answer to {path} is larger than {MAX_BODY >> 20} MiB")
    return _json(endpoint, data, path)


def _send(
    endpoint: Endpoint, method: str, path: str, body: dict[str, Any] | None, timeout: float
) -> http.client.HTTPConnection:
    connection = endpoint.connection(timeout)
    payload = None if body is None else json.dumps(body).encode("utf-8")
    try:
        connection.request(method, endpoint.prefix + path, body=payload, headers=endpoint.headers(body is not None))
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
    except TimeoutError:
        connection.close()
        raise BackendError(
            f"{endpoint.shown}: no connection within {timeout:g} s; is llama-server running there?"
        ) from None
    except OSError as error:
        connection.close()
        raise BackendError(
            f"{endpoint.shown}: cannot connect ({_reason(error)}); is llama-server running there?"
        ) from None
    return connection


def _response(endpoint: Endpoint, connection: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    try:
        response = connection.getresponse()
    except TimeoutError:
        connection.close()
        raise BackendError(f"{endpoint.shown}: no answer to {path} (timed out)") from None
    except (OSError, http.client.HTTPException) as error:
        connection.close()
        raise BackendError(f"{endpoint.shown}: {path} failed ({_reason(error)}); not a llama-server?") from None
    if response.status in (401, 403):
        connection.close()
        hint = "wrong API key" if endpoint.api_key else "it needs an API key"
        raise BackendError(
            f"{endpoint.shown}: refused with HTTP {response.status} ({hint}; pass --api-key or set SAMPLERLAB_API_KEY)"
        )
    if response.status >= 400:
        data = response.read(1 << 16)
        connection.close()
        try:
            message = _error_message(json.loads(data))
        except ValueError:
            message = f"HTTP {response.status}; not a llama-server?"
        raise BackendError(f"{endpoint.shown}: {path}: {message}")
    return response


def _json(endpoint: Endpoint, data: bytes, path: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise BackendError(f"{endpoint.shown}: {path} did not answer with JSON; not a llama-server?") from None


def _error_message(document: Any) -> str:
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        error = document["error"]
        return " ".join(str(error.get("message", "error")).split())[:300]
    return "an error without a message"


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or (str(error).splitlines() or [type(error).__name__])[0]
