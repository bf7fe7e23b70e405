"""A hostile fake llama-server on 127.0.0.1 (http.server): it answers like llama-server, then lies,
drips, echoes the API key or streams for ever, as a test asks. Only for what a real llama-server
cannot be made to do; everything else is tested against a real one."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable
from typing import Any

PROPS: dict[str, Any] = {
    "default_generation_settings": {"n_ctx": 2048},
    "total_slots": 1,
    "model_path": "/models/fake.Q4_0.gguf",
    "build_info": "b1-fake",
    "chat_template": "",
}


def token(text: str = "a", token_id: int = 97, logprob: float = -0.5) -> dict[str, Any]:
    """One completion_probabilities entry as llama-server streams it (its own candidate on top)."""
    data = text.encode()
    top = [{"id": token_id, "token": text, "bytes": list(data), "logprob": logprob}]
    return {"id": token_id, "token": text, "bytes": list(data), "logprob": logprob, "top_logprobs": top}


def event(**fields: Any) -> bytes:
    return b"data: " + json.dumps(fields).encode() + b"\n\n"


class HostileServer:
    """``answers`` maps a path to bytes, or to a callable writing the answer itself (given the handler
    and the request body); ``drip`` paths send their answer a byte every ``drip_seconds``."""

    def __init__(
        self,
        answers: dict[str, bytes | Callable[[Any, dict], None]] | None = None,
        props: dict[str, Any] | None = None,
        drip: tuple[str, ...] = (),
        drip_seconds: float = 0.5,
    ) -> None:
        self.answers = {
            "/props": json.dumps({**PROPS, **(props or {})}).encode(),
            "/tokenize": json.dumps({"tokens": [1, 2, 3]}).encode(),
            **(answers or {}),
        }
        self.drip, self.drip_seconds = drip, drip_seconds
        self.stopped = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                owner.answer(self, {})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                owner.answer(self, json.loads(self.rfile.read(length) or b"{}"))

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, handler: Any, body: dict) -> None:
        path = handler.path
        answer = self.answers.get(path)
        if answer is None:
            handler.send_response(404)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        try:
            if callable(answer):
                answer(handler, body)
                return
            if path in self.drip:
                self.send_slowly(handler, answer)
                return
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
        except OSError:  # the client hung up: what a hostile server expects
            pass

    def send_slowly(self, handler: Any, data: bytes) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        for i in range(len(data)):
            if self.stopped.wait(self.drip_seconds):
                return
            handler.wfile.write(data[i : i + 1])
            handler.wfile.flush()

    @staticmethod
    def start_stream(handler: Any) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Connection", "close")
        handler.end_headers()

    def stop(self) -> None:
        self.stopped.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def forever(handler: Any, body: dict) -> None:
    """An endless stream: a token at a time, never a final event."""
    HostileServer.start_stream(handler)
    count = 0
    while True:
        count += 1
        handler.wfile.write(event(content="a", stop=False, tokens_predicted=count, completion_probabilities=[token()]))
        handler.wfile.flush()
        time.sleep(0)
