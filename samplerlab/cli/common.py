"""What every command shares: the one-line error, the options that open a model or a server, the
escapes of typed text, and where user presets live. Parsing only; the library opens and runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click
from click.core import ParameterSource

from ..backends import API_KEY_ENV, Backend, open_backend
from ..events import GenerationError
from ..files.model_files import ModelError
from ..schema.assignments import process_escapes
from ..schema.load_settings import LoadSettings
from ..schema.params import SettingsError
from ..words.errors_ja import localize

USER_ERRORS = (SettingsError, ModelError, GenerationError, ValueError, OSError)


def lang_of(context: click.Context | None = None) -> str:
    """The reader's language: a command's own --lang when it was given (`stats --lang ja`), else the one
    given before the command (`samplerlab --lang ja stats`), else English."""
    context = context or click.get_current_context(silent=True)
    while context is not None:
        given = context.params.get("lang")
        if given is not None and context.get_parameter_source("lang") is not ParameterSource.DEFAULT:
            return str(given)
        context = context.parent
    return "en"


def fail(error: Exception, lang: str | None = None) -> NoReturn:
    """One line, in the reader's language (lang_of); the language goes with it, so its ``Error:`` frame is
    worded alike (output.VisibleGroup) after the command's context has closed."""
    lang = lang or lang_of()
    exception = click.ClickException(localize(str(error), lang))
    exception.lang = lang  # type: ignore[attr-defined]
    raise exception from None


ESCAPES = "Escapes as in llama-cli: \\n \\r \\t \\' \\\" \\\\ \\xHH; any other backslash stays as typed."


def escaped(context: click.Context, parameter: click.Parameter, value):
    """click callback: text typed in a terminal means what llama-cli makes of it (assignments.process_escapes),
    so PROMPT, --stop and --system read '\\n' as a newline, as --column text values do (parse_assignments)."""
    if value is None:
        return None
    try:
        return tuple(map(process_escapes, value)) if isinstance(value, tuple) else process_escapes(value)
    except ValueError as error:
        name = parameter.opts[0] if isinstance(parameter, click.Option) else parameter.human_readable_name
        raise click.ClickException(f"{name}: {error}") from None


def model_options(function):
    """--model / --hf-repo / --hf-file, the load-time knobs, and --server / --api-key, for every command
    that generates."""
    function = click.option(
        "--model", "model_path", default=None, help="A .gguf path (default: the embedded SmolLM2-135M-Instruct)."
    )(function)
    function = click.option("--hf-repo", default=None, help="Hugging Face repository to fetch the model from.")(
        function
    )
    function = click.option("--hf-file", default=None, help="The .gguf file in --hf-repo.")(function)
    function = click.option(
        "--load",
        "load_text",
        default="",
        metavar="NAME=VALUE,...",
        help="Load-time settings, e.g. n_ctx=4096,n_threads=2,repack=true.",
    )(function)
    return server_options(function)


def server_options(function):
    function = click.option(
        "--server",
        "servers",
        multiple=True,
        metavar="URL",
        help="Run on this llama-server (its model) instead of loading one; repeat to spread the columns over several.",
    )(function)
    function = click.option(
        "--api-key",
        default=None,
        envvar=API_KEY_ENV,
        show_envvar=True,
        help="The servers' API key (sent as a Bearer token, never shown or recorded).",
    )(function)
    return function


def open_model(
    model_path: str | None,
    hf_repo: str | None,
    hf_file: str | None,
    load_text: str,
    servers: Sequence[str] = (),
    api_key: str | None = None,
) -> Backend:
    load = LoadSettings(_parse_load(load_text), source="--load")
    if servers and load_text:
        raise click.UsageError("--load sets how a local model loads; a llama-server loads its own (drop --load)")
    return open_backend(model_path, hf_repo, hf_file, load, servers, api_key)


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


def user_dir(presets_dir: Path | None) -> Path | str | None:
    """The command's --presets-dir, else the one given before it: `samplerlab --presets-dir X presets list`."""
    return presets_dir or click.get_current_context().find_root().params.get("presets_dir")
