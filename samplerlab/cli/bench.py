"""`samplerlab bench` (samplerlab against plain llama-cpp-python calls, or N columns at once on a server)
and `samplerlab bench-servers` (one sweep on one llama-server against several). Parsing and printing only;
the timing is the library's (runs.bench, runs.bench_scale, runs.sweep_bench)."""

from __future__ import annotations

import click

from ..backends import API_KEY_ENV
from ..events import GenerationError
from .common import USER_ERRORS, fail, lang_of, model_options, open_model
from .output import echo


@click.command()
@click.option(
    "--columns",
    type=click.IntRange(1, 256),
    default=None,
    help="Columns, each its own temperature and seed [default: 4].",
)
@click.option(
    "--settings", type=click.IntRange(1, 8), default=None, help="A sweep instead: this many temperatures x --seeds."
)
@click.option("--seeds", type=click.IntRange(1, 256), default=None, help="Seeds of each of --settings.")
@click.option("--tokens", type=click.IntRange(1, 4096), default=128, show_default=True)
@click.option(
    "--repeat",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="Runs of each contender; the fastest counts.",
)
@click.option(
    "--rerun", is_flag=True, help="Time to first token of a re-run of a 1,500-token chat against its first run."
)
@click.option("--memory", is_flag=True, help="Peak memory of a run, KV sized by the columns' needs against n_ctx each.")
@model_options
def bench(
    columns: int | None,
    settings: int | None,
    seeds: int | None,
    tokens: int,
    repeat: int,
    rerun: bool,
    memory: bool,
    model_path,
    hf_repo,
    hf_file,
    load_text,
    servers,
    api_key,
) -> None:
    """Time samplerlab against sequential create_completion calls and a bare batched loop; with --server,
    N columns sent at once against the same N sent one after another. --settings S --seeds K times a
    sweep of S x K columns, which samplerlab runs as `samplerlab run` does."""
    # imported here, not at the top, so that importing this module does not load llama.cpp
    from ..runs import bench as bench_module
    from ..runs.bench_scale import scale_benchmark

    try:
        columns = bench_module.bench_columns(columns, settings, seeds)
        backend = open_model(model_path, hf_repo, hf_file, load_text, servers, api_key)
        what = "rerun" if rerun else "memory" if memory else None
        lang = lang_of()
        lines = (
            scale_benchmark(backend, what, columns, tokens, repeat, lang)
            if what
            else bench_module.run_benchmark(backend, columns, tokens, repeat, settings).lines(lang)
        )
    except USER_ERRORS as error:
        fail(error)
    for line in lines:
        echo(line)


@click.command("bench-servers")
@click.option(
    "--server", "servers", multiple=True, required=True, metavar="URL", help="A llama-server; give two or more."
)
@click.option("--api-key", default=None, envvar=API_KEY_ENV, show_envvar=True, help="The servers' API key.")
@click.option("--settings", type=click.IntRange(1, 8), default=4, show_default=True, help="Temperatures swept.")
@click.option("--seeds", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--tokens", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option(
    "--repeat", type=click.IntRange(1, 20), default=3, show_default=True, help="Runs of each; the fastest counts."
)
def bench_servers_command(
    servers: tuple[str, ...], api_key: str | None, settings: int, seeds: int, tokens: int, repeat: int
) -> None:
    """Time a sweep (SETTINGS temperatures x SEEDS seeds, TOKENS each) on the first --server alone and
    on every --server at once, in turns; print the speedup and whether the texts agree."""
    from ..runs.sweep_bench import bench_servers

    try:
        report = bench_servers(servers, api_key, settings, seeds, tokens, repeat)
    except (GenerationError, ValueError, OSError) as error:
        fail(error)
    for line in report.lines(lang_of()):
        echo(line)
