"""`samplerlab bench-servers`: one sweep on the first llama-server alone and on all the given ones."""

from __future__ import annotations

import click

from ..backends import API_KEY_ENV
from ..events import GenerationError
from ..words.errors_ja import localize
from .output import echo


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
        lang = click.get_current_context().find_root().params.get("lang", "en")  # samplerlab --lang ja bench-servers
        raise click.ClickException(localize(str(error), lang)) from None
    for line in report.lines():
        echo(line)
