"""The llama-server sweep bench on this machine: two llama-servers of the tests' build, each
``-np 4 -t 1`` (with the parity flags: -fa off, one KV stream per slot, --no-repack), and a
64-generation sweep (4 temperatures x 16 seeds, 64 tokens) on the first alone and on both.

    PYTHONPATH=$PWD python tests/bench_servers.py [--repeat 3] [--tokens 64] [--seeds 16]

Run it on a quiet machine: the ratio is of one run, but other work on the same cores skews it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import click  # noqa: E402

from samplerlab.llama.models import embedded_model_path  # noqa: E402
from samplerlab.runs.sweep_bench import bench_servers  # noqa: E402
from tests.conftest import PARITY_FLAGS, LlamaServer  # noqa: E402

FLAGS = (*PARITY_FLAGS, "-t", "1")  # the later -t wins over LlamaServer's -t 2


@click.command()
@click.option("--repeat", type=click.IntRange(1, 20), default=3, show_default=True)
@click.option("--tokens", type=click.IntRange(1, 1024), default=64, show_default=True)
@click.option("--seeds", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--settings", type=click.IntRange(1, 8), default=4, show_default=True)
def main(repeat: int, tokens: int, seeds: int, settings: int) -> None:
    servers = [LlamaServer(embedded_model_path(), *FLAGS) for _ in range(2)]
    try:
        click.echo(f"servers: 2 x llama-server {' '.join(FLAGS)} --no-repack")
        for line in bench_servers([s.url for s in servers], None, settings, seeds, tokens, repeat).lines():
            click.echo(line)
    finally:
        for running in servers:
            running.stop()


if __name__ == "__main__":
    main()
