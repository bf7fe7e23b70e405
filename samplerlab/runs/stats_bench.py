"""Bench of `samplerlab stats` on a 1,000-generation result (no test; run it on a quiet machine):

    python -m samplerlab.runs.stats_bench [--generations 1000] [--tokens 128]

It writes a result file of the real shape (every token with its 10 alternatives before and after the chain,
through results.column_record) from generated numbers, 4 columns x 10 prompts x 25 seeds by default, then
times reading it, the statistics alone, and the whole `samplerlab stats` command in a fresh process."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..events import Candidate, ColumnResult, TokenEvent
from ..schema.params import Settings
from .results import FORMAT, column_record, dump, load_result, write_new
from .stats import across_seeds
from .verdicts import stats_lines

COLUMNS = ("defaults", "temperature 3", "min-p creative", "greedy")


def _column(label: str, seed: int, tokens: int, rng: np.random.Generator, spread: float) -> ColumnResult:
    ids = rng.zipf(1.0 + spread, tokens) % 4000
    events = []
    for index, token_id in enumerate(ids):
        p = float(rng.uniform(0.05, 1.0))
        alternatives = tuple(Candidate(int(token_id) + k, f"t{int(token_id) + k}", p / (k + 1)) for k in range(10))
        events.append(
            TokenEvent(0, index, int(token_id), f" t{token_id}", p, p * 0.9, alternatives, alternatives, 8, 1.2)
        )
    text = "".join(event.text for event in events)
    return ColumnResult(label, Settings({"seed": seed}), seed, "chain", text, "length", tokens=events, seconds=1.0)


def records(generations: int, tokens: int) -> list[dict]:
    """``generations`` records of ``tokens`` tokens: 4 columns x 10 prompts x the seeds that make them up."""
    rng = np.random.default_rng(0)
    per_column = generations // len(COLUMNS)
    prompts = 10 if per_column >= 20 else 1
    seeds = per_column // prompts
    return [
        {"prompt_index": prompt, **column_record(_column(label, seed, tokens, rng, 0.6 + i * 0.3), f"prompt {prompt}")}
        for prompt in range(prompts)
        for seed in range(seeds)
        for i, label in enumerate(COLUMNS)
    ]


def write_result(folder: Path, generations: int, tokens: int) -> Path:
    columns = records(generations, tokens)
    document = {
        "samplerlab_result": FORMAT,
        "mode": "chat",
        "model": {"spec": "embedded"},
        "load": {},
        "columns": columns,
    }
    return write_new(folder / "bench-result.yaml", dump(document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--in-memory", action="store_true", help="Time the statistics alone, on records in memory.")
    options = parser.parse_args()
    if options.in_memory:
        made = records(options.generations, options.tokens)
        started = time.perf_counter()
        lines = stats_lines(across_seeds(made))
        print(
            f"statistics of {len(made)} generations x {options.tokens} tokens ({len(lines)} lines): "
            f"{time.perf_counter() - started:.2f} s"
        )
        return
    with tempfile.TemporaryDirectory() as folder:
        path = write_result(Path(folder), options.generations, options.tokens)
        started = time.perf_counter()
        document = load_result(path)
        loaded = time.perf_counter()
        lines = stats_lines(across_seeds(document["columns"]))
        computed = time.perf_counter()
        command = [sys.executable, "-m", "samplerlab", "stats", str(path)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        whole = time.perf_counter() - computed
        print(
            f"{len(document['columns'])} generations x {options.tokens} tokens, {path.stat().st_size / 2**20:.1f} MiB"
        )
        print(f"read the result file: {loaded - started:.2f} s")
        print(f"statistics ({len(lines)} lines): {computed - loaded:.2f} s")
        print(f"`samplerlab stats` in a fresh process: {whole:.2f} s")


if __name__ == "__main__":
    main()
