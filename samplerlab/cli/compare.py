"""`samplerlab compare`: one prompt (or a conversation's next reply) with each --column's settings, side
by side. Parsing and printing only; the backend generates, report.render lays out the table."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import click

from ..backends import Backend
from ..chats.chat_files import load_chat, parse_policy
from ..chats.conversation import request_messages
from ..events import (
    DEFAULT_POLICY,
    ChatError,
    Column,
    ColumnDone,
    ColumnResult,
    GenerationError,
    Queued,
    Request,
    RunResult,
    TokenEvent,
)
from ..presets.store import PresetError, load_preset
from ..report.render import LiveTable, side_by_side
from ..schema.assignments import parse_column
from ..schema.params import KNOB_BY_NAME, Settings, coerce
from ..words.cli_words import say
from ..words.errors_ja import localize
from .common import ESCAPES, USER_ERRORS, escaped, fail, lang_of, model_options, open_model, user_dir
from .output import echo
from .seeds import compare_seeds, parse_seeds


@click.command()
@click.argument("prompt", required=False, callback=escaped)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="NAME=VALUE,...",
    help="One column's settings, e.g. 'temperature=3,top_k=100' or 'preset=greedy,max_tokens=4' "
    "(a preset plus overrides). Repeat for more columns. Lists use | (stop=\\n|END); text values "
    "take the escapes of PROMPT.",
)
@click.option(
    "--seed",
    type=int,
    default=KNOB_BY_NAME["seed"].default,
    show_default=True,
    help="Seed for every column; -1 draws one.",
)
@click.option(
    "--seeds",
    default=None,
    metavar="N|LIST",
    help="Run every column on N seeds from --seed on, or on a list (0,1,2), batched together; prints the "
    "first seed side by side and each figure across the seeds with its 95% interval and the paired tests.",
)
@click.option(
    "--max-tokens",
    type=int,
    default=KNOB_BY_NAME["max_tokens"].default,
    show_default=True,
    help="0 = until the context is full.",
)
@click.option(
    "--mode",
    type=click.Choice(["chat", "raw"]),
    default="chat",
    show_default=True,
    help="chat applies the model's chat template; raw sends the prompt as written.",
)
@click.option("--system", default=None, callback=escaped, help=f"System prompt (chat mode). {ESCAPES}")
@click.option(
    "--chat",
    "chat_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Compare the next reply of this conversation: a SillyTavern .jsonl, an Open WebUI export or "
    "an OpenAI-style .json. PROMPT, if given, is the next user message.",
)
@click.option(
    "--chat-select",
    default=None,
    metavar="N|TITLE",
    help="Which chat of an Open WebUI export (index from 0, or title; default the first).",
)
@click.option(
    "--context-policy",
    default=DEFAULT_POLICY,
    show_default=True,
    metavar="POLICY",
    help="When the conversation is longer than the context: error, drop_oldest or keep_last:N.",
)
@click.option("--stop", multiple=True, callback=escaped, help=f"Stop before this string (repeatable). {ESCAPES}")
@click.option(
    "--prefix",
    default="",
    callback=escaped,
    help=f"The forced start of every reply: all columns continue from it (a branch). {ESCAPES}",
)
@click.option(
    "--width",
    type=click.IntRange(1, 10_000),
    default=None,
    help="Total output width, 1 to 10000 (default: the terminal's).",
)
@model_options
def compare(
    prompt: str | None,
    columns: Sequence[str],
    seed: int,
    seeds: str | None,
    max_tokens: int,
    mode: str,
    system: str | None,
    chat_file: Path | None,
    chat_select: str | None,
    context_policy: str,
    stop: Sequence[str],
    prefix: str,
    width: int | None,
    model_path,
    hf_repo,
    hf_file,
    load_text,
    servers,
    api_key,
) -> None:
    """Generate PROMPT with each --column's settings and print the outputs side by side.

    With --chat, PROMPT is optional: without it the chat's last user turn gets the reply.

    PROMPT, --stop, --system and --column text values process escapes as llama-cli does: \\n \\r \\t
    \\' \\" \\\\ and \\xHH (a byte); any other backslash stays as typed, so 'ユーザー: おはよう\\n魔理沙: '
    ends in a newline and --stop '\\n' stops at one.
    """
    try:
        request = replace(_compare_request(prompt, mode, system, chat_file, chat_select, context_policy), prefix=prefix)
        shared = shared_values(seed, max_tokens, stop)
        parsed = [_typed_column(spec, shared) for spec in columns or ("temperature=0.8",)]
        seed_list = parse_seeds(seeds, seed) if seeds is not None else [seed]
        backend = open_model(model_path, hf_repo, hf_file, load_text, servers, api_key)
        if len(seed_list) > 1:
            return compare_seeds(backend, request, parsed, seed_list, width)
        result = _stream(backend, request, parsed, width)
    except USER_ERRORS as error:
        fail(error)
    lang = lang_of()
    if prefix:
        echo(say("forced_prefix", lang, prefix=repr(prefix)))
    echo(side_by_side(result, width, lang))


def shared_values(seed: int, max_tokens: int, stop: Sequence[str]) -> dict:
    """The values every column shares, each checked under its own option's name: checked only with the
    columns, a bad --stop was reported as the first --column's fault."""
    values = {"seed": seed, "max_tokens": max_tokens, "stop": list(stop)}
    for (name, value), option in zip(values.items(), ("--seed", "--max-tokens", "--stop")):
        coerce(KNOB_BY_NAME[name], value, option)
    return values


def _compare_request(
    prompt: str | None,
    mode: str,
    system: str | None,
    chat_file: Path | None,
    chat_select: str | None,
    context_policy: str,
) -> Request:
    """The request `compare` runs: PROMPT alone, or the next reply of a --chat conversation."""
    if chat_file is None:
        if prompt is None:
            raise click.UsageError("give a PROMPT, or --chat FILE to compare the next reply of a conversation")
        if chat_select is not None or context_policy != DEFAULT_POLICY:
            raise click.UsageError("--chat-select and --context-policy apply to a --chat conversation")
        return Request(prompt, mode, system)  # type: ignore[arg-type]
    if mode == "raw":
        raise click.UsageError("--chat needs chat mode: a conversation is rendered by the model's chat template")
    select = int(chat_select) if chat_select is not None and chat_select.isdecimal() else chat_select
    history = load_chat(chat_file, select=select).messages
    try:
        policy = str(parse_policy(context_policy))
        request = Request(prompt or "", "chat", system, history, policy)
        request_messages(request)  # a chat ending with an assistant turn and no PROMPT: refused before loading
    except (ChatError, GenerationError) as error:
        raise GenerationError(str(error) if isinstance(error, ChatError) else f"{chat_file}: {error}") from None
    return request


def _typed_column(spec: str, shared: dict) -> Column:
    """A --column: its preset's settings (if it names one), then the run-level values, then its own."""
    source = f"--column {spec!r}"
    preset, own = parse_column(spec, source)
    try:
        base = dict(load_preset(preset, user_dir(None)).settings) if preset is not None else {}
    except PresetError as error:
        raise PresetError(f"{source}: {error}") from None
    return Column(spec, Settings({**base, **shared, **own}, source=source))


def _stream(backend: Backend, request: Request, columns: list[Column], width: int | None) -> RunResult:
    """Runs the columns; on a terminal the side-by-side table grows as the tokens arrive."""
    info: dict = {}
    finished: dict[int, ColumnResult] = {}
    lang = lang_of()
    live = LiveTable([c.label for c in columns], sys.stdout, width, lang=lang) if sys.stdout.isatty() else None
    for event in backend.generate(request, columns, info=info):
        if isinstance(event, TokenEvent) and live is not None:
            live.add(event.column, event.text, first=event.index == 0)
        elif isinstance(event, Queued):
            echo(say("queued", lang, n=len(event.columns), slots=event.slots), err=True)
        elif isinstance(event, ColumnDone):
            finished[event.column] = event.result
    if live is not None:
        live.clear()
    for note in getattr(backend, "notes", ()):
        echo(say("note", lang, note=localize(note, lang)), err=True)
    if info.get("context", {}).get("dropped"):
        dropped = say("dropped", lang, policy=info["context"]["policy"], n=info["context"]["dropped"])
        echo(say("note", lang, note=dropped), err=True)
    return RunResult.of(info, [finished[i] for i in range(len(columns))])
