"""The child process of a trial load (``load_guard``): load as the parent would, decode, exit.

Run as ``python -m samplerlab.llama.trial_child PATH LOAD_JSON``. Its exit says everything: 0 when the
load and a few batched decodes worked, 1 with one stderr line when llama.cpp refused the file in an
ordinary way (the parent's own load then reports it), killed by a signal when llama.cpp crashed.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from ..events import Column, Request
from ..schema.load_settings import LoadSettings
from ..schema.params import Settings
from .engine import run
from .load_guard import CRASH_SEAM
from .models import Model


def _trial(path: str, load_json: str) -> None:
    """The child's work: load as the parent would, then decode a few tokens for two columns in a batch."""
    load = LoadSettings(json.loads(load_json), source="trial")
    with Model(path, load, trial=False) as model:
        crash = os.environ.get(CRASH_SEAM)
        if crash:
            os.kill(os.getpid(), signal.Signals[crash])
        columns = [
            Column("greedy", Settings({"temperature": 0, "max_tokens": 4})),
            Column("sampled", Settings({"max_tokens": 4, "seed": 1})),
        ]
        run(model, Request("Hello", "raw"), columns)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        _trial(*args)
    except Exception as error:  # the parent's own load reports ordinary errors; here they only end the child
        print(f"trial: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
