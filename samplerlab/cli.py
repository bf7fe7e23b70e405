"""The command line: it parses arguments, calls the library and prints; nothing else."""

from __future__ import annotations

import sys
from typing import Sequence

import click

from . import __version__, bench as bench_module, docs
from .engine import Column, GenerationError, Request, TokenEvent, generate, RunResult, ColumnDone
from .models import Model, ModelError, resolve_model_path
from .params import LoadSettings, Settings, SettingsError, parse_assignments
from .render import side_by_side

USER_ERRORS = (SettingsError, ModelError, GenerationError, ValueError, OSError)


def fail(error: Exception) -> None:
    raise click.ClickException(str(error))


def model_options(function):
    """--model / --hf-repo / --hf-file and the load-time knobs, shared by every command that loads one."""
    function = click.option("--model", "model_path", default=None, help="A .gguf path (default: the embedded SmolLM2-135M-Instruct).")(function)
    function = click.option("--hf-repo", default=None, help="Hugging Face repository to fetch the model from.")(function)
    function = click.option("--hf-file", default=None, help="The .gguf file in --hf-repo.")(function)
    function = click.option("--load", "load_text", default="", metavar="NAME=VALUE,...",
                            help="Load-time settings, e.g. n_ctx=4096,n_threads=2,repack=true.")(function)
    return function


def open_model(model_path: str | None, hf_repo: str | None, hf_file: str | None, load_text: str) -> Model:
    load = LoadSettings(_parse_load(load_text), source="--load")
    return Model(resolve_model_path(model_path, hf_repo, hf_file), load)


def _parse_load(text: str) -> dict:
    values = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, raw = part.partition("=")
        lowered = raw.strip().lower()
        values[name.strip()] = {"true": True, "false": False}.get(lowered, _number_or_text(raw.strip()))
    return values


def _number_or_text(raw: str) -> int | str:
    try:
        return int(raw)
    except ValueError:
        return raw


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="samplerlab")
@click.pass_context
def main(context: click.Context) -> None:
    """Compare llama.cpp sampling settings side by side on one prompt and seed."""
    if context.invoked_subcommand is None:
        click.echo(context.get_help())


@main.command()
@click.argument("prompt")
@click.option("--column", "columns", multiple=True, metavar="NAME=VALUE,...",
              help="One column's settings, e.g. 'temperature=3,top_k=100'. Repeat for more columns.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for every column; -1 draws one.")
@click.option("--max-tokens", type=int, default=128, show_default=True, help="0 = until the context is full.")
@click.option("--mode", type=click.Choice(["chat", "raw"]), default="chat", show_default=True,
              help="chat applies the model's chat template; raw sends the prompt as written.")
@click.option("--system", default=None, help="System prompt (chat mode).")
@click.option("--stop", multiple=True, help="Stop before this string (repeatable).")
@click.option("--width", type=int, default=None, help="Total output width (default: the terminal's).")
@model_options
def compare(prompt: str, columns: Sequence[str], seed: int, max_tokens: int, mode: str, system: str | None,
            stop: Sequence[str], width: int | None, model_path, hf_repo, hf_file, load_text) -> None:
    """Generate PROMPT with each --column's settings and print the outputs side by side."""
    try:
        shared = {"seed": seed, "max_tokens": max_tokens, "stop": list(stop)}
        specs = columns or ("temperature=0.8",)
        parsed = [Column(spec, Settings({**shared, **parse_assignments(spec, f"--column {spec!r}")},
                                        source=f"--column {spec!r}")) for spec in specs]
        model = open_model(model_path, hf_repo, hf_file, load_text)
        result = _stream(model, Request(prompt, mode, system), parsed)
    except USER_ERRORS as error:
        fail(error)
    click.echo(side_by_side(result, width))


def _stream(model: Model, request: Request, columns: list[Column]) -> RunResult:
    """Runs the columns, showing live token counts on a terminal's stderr."""
    info: dict = {}
    counts = [0] * len(columns)
    finished: dict[int, object] = {}
    live = sys.stderr.isatty()
    for event in generate(model, request, columns, info=info):
        if isinstance(event, TokenEvent):
            counts[event.column] += 1
        elif isinstance(event, ColumnDone):
            finished[event.column] = event.result
        if live:
            status = "  ".join(f"{c.label[:18]}: {n}" for c, n in zip(columns, counts))
            click.echo(f"\r{status}", err=True, nl=False)
    if live:
        click.echo("\r\033[K", err=True, nl=False)
    return RunResult(info["prompt_text"], info["prompt_tokens"], info["prompt_seconds"],
                     [finished[i] for i in range(len(columns))])


@main.command()
@click.option("--columns", type=click.IntRange(1, 8), default=4, show_default=True)
@click.option("--tokens", type=click.IntRange(1, 4096), default=128, show_default=True)
@click.option("--repeat", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Runs of each contender; the fastest counts.")
@model_options
def bench(columns: int, tokens: int, repeat: int, model_path, hf_repo, hf_file, load_text) -> None:
    """Time samplerlab against sequential create_completion calls and a bare batched loop."""
    try:
        model = open_model(model_path, hf_repo, hf_file, load_text)
        report = bench_module.run_benchmark(model, columns, tokens, repeat)
    except USER_ERRORS as error:
        fail(error)
    for line in report.lines():
        click.echo(line)


@main.command()
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True)
@click.option("--load", "show_load", is_flag=True, help="Show the load-time settings instead.")
@click.option("--orders", is_flag=True, help="Show the sampler stages and named orders instead.")
def knobs(lang: str, show_load: bool, orders: bool) -> None:
    """Every setting with its llama.cpp default and explanation (Markdown)."""
    if orders:
        click.echo(docs.order_table())
    else:
        click.echo(docs.knob_table(lang, docs.LOAD_KNOBS if show_load else docs.KNOBS))
