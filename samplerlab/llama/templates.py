"""Chat templates rendered where a hostile one cannot hurt: in a child process with bounded memory
and time (``template_child``).

A GGUF's chat template is Jinja code from whoever made the file. Jinja's sandbox stops it reading
files or attributes, but not ``{{ 'x'*1000000000 }}`` (4 GB) or ``range(100000)`` loops nested two
deep (39 s, 5.5 GB), and it runs under the model lock. One long-lived child renders every template
(a round trip costs about a millisecond, so fitting a conversation that renders it many times stays
cheap); its address space is capped, each request has a deadline, and a child that overran is killed
and replaced on the next request.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from .template_child import MAX_OUTPUT

TIME_LIMIT = 3.0  # seconds per render: real templates take milliseconds
STARTUP = 30.0  # seconds for the child to start (its imports), before any render's time counts
MEMORY_LIMIT = 512 << 20  # the child's address space: Python, jinja2 and llama-cpp-python map 160 MiB of it


class TemplateError(ValueError):
    """A chat template that failed or overran; the message is the reason, in one line."""


def _limit_child() -> None:
    # no die_with_parent(): it would end this long-lived child with the thread that started it;
    # the child leaves by itself when samplerlab is gone (template_child._exit_when_orphaned)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class _Renderer:
    """The one child, started on first use and again after it overran or died."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None

    def render(self, template: str, messages: Sequence[dict[str, Any]], eos: str, bos: str) -> str:
        request = json.dumps({"template": template, "messages": list(messages), "eos": eos, "bos": bos})
        with self.lock:
            reply = self._ask(request + "\n")
        if "prompt" in reply:
            return reply["prompt"]
        raise TemplateError(_reason(reply))

    def _ask(self, request: str) -> dict[str, Any]:
        process = self._child()
        try:
            assert process.stdin is not None
            process.stdin.write(request.encode("utf-8"))
            process.stdin.flush()
            line = _read_line(process, time.monotonic() + TIME_LIMIT)
        except OSError:
            line = None
        if line is None:  # too slow, or it died: a fresh child next time
            code = process.poll()
            self._stop()
            if code is None:
                raise TemplateError(f"did not finish within {TIME_LIMIT:g} s")
            raise TemplateError(f"ended its renderer (exit {code}; out of memory?)")
        return json.loads(line)

    def _child(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "samplerlab.llama.template_child"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                preexec_fn=_limit_child,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            # its imports take a moment (longer on a busy machine); only then does a render's time start
            if _read_line(self.process, time.monotonic() + STARTUP) != b"ready\n":
                self._stop()
                raise TemplateError(f"its renderer did not start within {STARTUP:g} s")
        return self.process

    def _stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _read_line(process: subprocess.Popen, deadline: float) -> bytes | None:
    """One line from the child by ``deadline``; None when it is late or gone."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    chunks: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(max(0.0, deadline - time.monotonic())):
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                return b"".join(chunks)
    return None


def _reason(reply: dict[str, Any]) -> str:
    kind, message = reply.get("error"), reply.get("message") or ""
    if kind == "memory":
        return f"needed more than {MEMORY_LIMIT >> 20} MiB"
    if kind == "size":
        return f"rendered {message} characters, more than the {MAX_OUTPUT} allowed"
    if kind in ("ValueError", "TemplateError") and not message:  # raise_exception('')
        return "raised an error without a message"
    return message or f"{kind} without a message"


RENDERER = _Renderer()


def render_chat(template: str, messages: Sequence[dict[str, Any]], eos: str, bos: str) -> str:
    """``messages`` rendered with ``template`` for the reply; TemplateError says why it could not be."""
    return RENDERER.render(template, messages, eos, bos)
