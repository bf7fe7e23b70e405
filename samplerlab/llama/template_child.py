"""The child process that renders chat templates (``templates``): one JSON request a line on stdin,
one JSON answer a line on stdout, until stdin closes.

Run as ``python -m samplerlab.llama.template_child``. The parent bounds its memory (RLIMIT_AS) and
its time per request, so a hostile template in a GGUF (``'x'*1000000000``, nested ``range`` loops)
ends this process, never the app. It renders with llama-cpp-python's own Jinja2ChatFormatter, so the
prompt is what llama-cpp-python would render.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from functools import lru_cache
from typing import Any

MAX_OUTPUT = 16 << 20  # characters: four times what the largest context the schema allows can hold


@lru_cache(maxsize=8)
def _formatter(template: str, eos: str, bos: str) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The rendered prompt, or the error as one line."""
    try:
        formatter = _formatter(request["template"], request["eos"], request["bos"])
        prompt = formatter(messages=request["messages"]).prompt
    except MemoryError:
        return {"error": "memory", "message": ""}
    except Exception as error:  # jinja errors are varied, and raise_exception('') has no message at all
        lines = str(error).strip().splitlines()
        return {"error": type(error).__name__, "message": lines[0][:300] if lines else ""}
    if len(prompt) > MAX_OUTPUT:
        return {"error": "size", "message": str(len(prompt))}
    return {"prompt": prompt}


def _exit_when_orphaned(parent: int) -> None:
    """A render caught in a loop when samplerlab dies would spin on: leave as soon as the parent is gone.
    (PR_SET_PDEATHSIG cannot serve here: it fires when the *thread* that started this child ends, and
    this child outlives the run that started it.)"""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def main() -> int:
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    import llama_cpp.llama_chat_format  # noqa: F401  # before saying so: a render's time starts after it

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except MemoryError:
            reply = {"error": "memory", "message": ""}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
