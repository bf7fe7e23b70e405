"""One run's peak memory, in a process of its own: ``python -m samplerlab.llama.memory_child MODEL
COLUMNS TOKENS RULE LOAD_JSON`` prints one JSON line (``runs.bench_scale`` starts it).

RULE ``n_ctx`` gives every column a stream of the whole context, as the engine did before its
KV cache was sized by the columns' needs; ``needs`` is the engine's rule now (``kv_plan``). Both run
the same batched loop (``baselines._bare_loop``), so only the KV sizing differs.
"""

from __future__ import annotations

import json
import resource
import sys

from ..schema.load_settings import LoadSettings
from .baselines import _bare_loop
from .kv_plan import KvShape, kv_bytes_per_cell, padded
from .models import Model

PROMPT = "Write a short poem praising light-emitting diodes."


def main(argv: list[str]) -> None:
    path, columns, tokens, rule, load = argv[0], int(argv[1]), int(argv[2]), argv[3], json.loads(argv[4])
    with Model(path, LoadSettings(load)) as model:
        prompt = model.tokenize(PROMPT)
        n_ctx = model.load.n_ctx
        shape = (
            KvShape(columns, padded(n_ctx)) if rule == "n_ctx" else KvShape.of(len(prompt), [tokens] * columns, n_ctx)
        )
        _bare_loop(model, PROMPT, columns, tokens, shape)
        kv = shape.n_ctx * kv_bytes_per_cell(model)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"rule": rule, "cells": shape.cells, "kv_mib": kv / 2**20, "peak_rss_mib": peak / 1024}))


if __name__ == "__main__":
    main(sys.argv[1:])
