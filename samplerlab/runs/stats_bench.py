"""Bench of `samplerlab stats` on a 1,000-generation result (no test; run it on a quiet machine):

    python -m samplerlab.runs.stats_bench [--generations 1000] [--tokens 128]

It writes a result file of the real shape (every token with its 10 alternatives before and after the chain,
through results.column_record and results.result_text) from generated numbers, 4 columns x 10 prompts x 25
seeds by default, then times reading it as `samplerlab stats` does (without the alternatives) and whole (as
`report` and `run --check` do), the statistics alone, and the whole `samplerlab stats` command in a fresh
process. ``--format 1`` writes the file as results were written before format 2 (every token as YAML)."""

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
from .results import FORMAT, column_record, dump, load_result, result_text, write_new
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


def write_result(folder: Path, generations: int, tokens: int, file_format: int = FORMAT) -> Path:
    columns = records(generations, tokens)
    document = {
        "samplerlab_result": file_format,
        "mode": "chat",
        "model": {"spec": "embedded"},
        "load": {},
        "columns": columns,
    }
    return write_new(folder / "bench-result.yaml", result_text(document) if file_format >= 2 else dump(document))


def _seconds(since: float) -> str:
    return f"{time.perf_counter() - since:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--format", type=int, choices=(1, 2), default=FORMAT, help="The result file's format.")
    parser.add_argument("--in-memory", action="store_true", help="Time the statistics alone, on records in memory.")
    options = parser.parse_args()
    if options.in_memory:
        made = records(options.generations, options.tokens)
        started = time.perf_counter()
        lines = stats_lines(across_seeds(made))
        print(
            f"statistics of {len(made)} generations x {options.tokens} tokens ({len(lines)} lines): {_seconds(started)}"
        )
        return
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        path = write_result(Path(folder), options.generations, options.tokens, options.format)
        size = path.stat().st_size / 2**20
        print(f"{options.generations} generations x {options.tokens} tokens, format {options.format}, {size:.1f} MiB")
        print(f"make and write the result file: {_seconds(started)}")
        started = time.perf_counter()
        document = load_result(path, alternatives=False)
        print(f"read it as `stats` does (no alternatives): {_seconds(started)}")
        started = time.perf_counter()
        whole = load_result(path)
        print(f"read it whole, as `report` and `run --check` do: {_seconds(started)}")
        del whole
        started = time.perf_counter()
        lines = stats_lines(across_seeds(document["columns"]))
        print(f"statistics ({len(lines)} lines): {_seconds(started)}")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "samplerlab", "stats", str(path)], check=True, stdout=subprocess.DEVNULL)
        print(f"`samplerlab stats` in a fresh process: {_seconds(started)}")


if __name__ == "__main__":
    main()
