"""The command line: it parses arguments, calls the library and prints; nothing else."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import click

from .. import __version__
from ..app.share import SHARE_WRITES, ShareLimits
from ..backends import API_KEY_ENV, Backend, open_backend
from ..chats.chat_files import load_chat, parse_policy
from ..chats.conversation import request_messages
from ..events import (
    DEFAULT_POLICY,
    KEEP,
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
from ..files.model_files import ModelError
from ..presets.formats import EXPORT_FORMATS, export_preset
from ..presets.formats_import import IMPORTERS, import_file
from ..presets.store import (
    PRESETS_DIR_ENV,
    Preset,
    PresetError,
    delete_preset,
    list_presets,
    load_preset,
    preset_yaml,
    read_preset_file,
    rename_preset,
    save_preset,
)
from ..report.page import render_report, text_table
from ..report.render import LiveTable, display_width, pad, side_by_side
from ..runs.results import load_result
from ..runs.runner import check_result, opened_backend
from ..schema import docs
from ..schema.assignments import parse_column, process_escapes
from ..schema.load_settings import LOAD_KNOBS, LoadSettings
from ..schema.params import KNOB_BY_NAME, KNOBS, Settings, SettingsError, coerce
from ..words.errors_ja import localize
from .history import app_store, durable_run, history_command, store_options
from .output import VisibleGroup, echo
from .seeds import compare_seeds, parse_seeds

USER_ERRORS = (SettingsError, ModelError, GenerationError, ValueError, OSError)


def fail(error: Exception) -> None:
    """One line, in the language of `samplerlab --lang ja ...` when it was given."""
    context = click.get_current_context(silent=True)
    lang = context.find_root().params.get("lang", "en") if context is not None else "en"
    raise click.ClickException(localize(str(error), lang))


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


@click.group(cls=VisibleGroup, invoke_without_command=True)
@click.version_option(__version__, prog_name="samplerlab")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve the app on.")
@click.option("--port", type=int, default=None, help="Port (default: 7860 or the next free one).")
@click.option("--share", is_flag=True, help="Create a public Gradio share link (anyone with it can use the app).")
@click.option("--auth", default=None, metavar="USER:PASSWORD|FILE", help="Require a login.")
@click.option(
    "--presets-dir",
    type=click.Path(file_okay=False),
    default=None,
    envvar="SAMPLERLAB_PRESETS_DIR",
    help="Where user presets are saved (default: ./presets).",
)
@click.option(
    "--experiments-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    envvar="SAMPLERLAB_EXPERIMENTS_DIR",
    help="The app's experiment files, and where it saves comparisons (default: the shipped experiments/).",
)
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="With --share, the only place models may be loaded from.",
)
@click.option(
    "--share-limits",
    "share_limits",
    default="",
    metavar="NAME=VALUE,...",
    help=f"With --share, what one request may cost (default: {ShareLimits().describe()}): most tokens per "
    "column (max_tokens 0 runs this many), columns per comparison, and seconds per run.",
)
@click.option(
    "--share-writes",
    type=click.Choice(SHARE_WRITES),
    default="off",
    show_default=True,
    help="With --share, what visitors may write: nothing, or new presets (never overwriting one).",
)
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True)
@store_options
@model_options
@click.pass_context
def main(
    context: click.Context,
    store_file,
    store_max_mib,
    host,
    port,
    share,
    auth,
    presets_dir,
    experiments_dir,
    models_dir,
    share_limits,
    share_writes,
    lang,
    model_path,
    hf_repo,
    hf_file,
    load_text,
    servers,
    api_key,
) -> None:
    """Compare llama.cpp sampling settings side by side on one prompt and seed.

    Without a command, opens the app in the browser on the embedded model.
    """
    if context.invoked_subcommand is not None:
        return
    from ..app.ui import parse_auth, serve
    from ..app.workbench import Workbench

    try:
        limits = ShareLimits.parse(share_limits)  # before the model loads: a bad limit is refused at once
        bench = Workbench(
            open_model(model_path, hf_repo, hf_file, load_text, servers, api_key),
            presets_dir=Path(presets_dir) if presets_dir else None,
            models_dir=Path(models_dir) if models_dir else None,
            allow_any_path=not share,
            shared=share,
            limits=limits,
            writes=share_writes,
            **({"experiments_dir": experiments_dir} if experiments_dir else {}),
            **app_store(store_file, store_max_mib),
        )
        bench.check()
        serve(bench, lang, host, port, share, parse_auth(auth), say=echo)
    except USER_ERRORS as error:
        fail(error)


@main.command()
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
    if prefix:
        echo(f"every reply starts with the forced {prefix!r}; the columns show what follows")
    echo(side_by_side(result, width))


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
        base = dict(load_preset(preset, _user_dir(None)).settings) if preset is not None else {}
    except PresetError as error:
        raise PresetError(f"{source}: {error}") from None
    return Column(spec, Settings({**base, **shared, **own}, source=source))


def _stream(backend: Backend, request: Request, columns: list[Column], width: int | None) -> RunResult:
    """Runs the columns; on a terminal the side-by-side table grows as the tokens arrive."""
    info: dict = {}
    finished: dict[int, ColumnResult] = {}
    live = LiveTable([c.label for c in columns], sys.stdout, width) if sys.stdout.isatty() else None
    for event in backend.generate(request, columns, info=info):
        if isinstance(event, TokenEvent) and live is not None:
            live.add(event.column, event.text, first=event.index == 0)
        elif isinstance(event, Queued):
            echo(f"{len(event.columns)} column(s) wait for a free slot ({event.slots} at once)", err=True)
        elif isinstance(event, ColumnDone):
            finished[event.column] = event.result
    if live is not None:
        live.clear()
    for note in getattr(backend, "notes", ()):
        echo(f"note: {note}", err=True)
    if info.get("context", {}).get("dropped"):
        echo(
            f"note: context policy {info['context']['policy']} left out the "
            f"{info['context']['dropped']} oldest message(s)",
            err=True,
        )
    return RunResult.of(info, [finished[i] for i in range(len(columns))])


@main.command()
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
        lines = (
            scale_benchmark(backend, what, columns, tokens, repeat)
            if what
            else bench_module.run_benchmark(backend, columns, tokens, repeat, settings).lines()
        )
    except USER_ERRORS as error:
        fail(error)
    for line in lines:
        echo(line)


@main.command()
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True)
@click.option("--load", "show_load", is_flag=True, help="Show the load-time settings instead.")
@click.option("--orders", is_flag=True, help="Show the sampler stages and named orders instead.")
def knobs(lang: str, show_load: bool, orders: bool) -> None:
    """Every setting with its llama.cpp default and explanation (Markdown)."""
    if orders:
        echo(docs.order_table())
    else:
        echo(docs.knob_table(lang, LOAD_KNOBS if show_load else KNOBS))


@main.command("run")
@click.argument("experiment", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Result file (default: runs/<name>-<UTC time>.yaml beside the experiment); never overwritten.",
)
@click.option(
    "--check",
    "check_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Instead: run a result file again from its recorded settings and compare token by token.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(0, 1_000_000),
    default=None,
    help="Override every column's max_tokens (a quick look; recorded in the result).",
)
@click.option("--model", "model_spec", default=None, help="Run on this .gguf instead of the experiment's model.")
@click.option(
    "--keep-candidates",
    type=click.IntRange(0, KEEP),
    default=0,
    show_default=True,
    metavar="K",
    help=f"Write each token's K most likely raw candidates (up to {KEEP}) into the result, so "
    "`samplerlab replay` can try other settings on it without the model.",
)
@click.option(
    "--resume",
    is_flag=False,
    flag_value="latest",
    default=None,
    metavar="[RUN_ID]",
    help="Go on with a killed or stopped run: EXPERIMENT's latest unfinished one, or run RUN_ID (samplerlab history).",
)
@store_options
@server_options
def run_command(
    experiment: Path | None,
    out: Path | None,
    check_path: Path | None,
    max_tokens: int | None,
    model_spec: str | None,
    keep_candidates: int,
    resume: str | None,
    store_file: Path | None,
    store_max_mib: int | None,
    servers: tuple[str, ...],
    api_key: str | None,
) -> None:
    """Run EXPERIMENT (a YAML file) headless, write a result file and print a table of the columns."""
    if check_path is not None:
        if experiment or out or max_tokens is not None or model_spec:
            raise click.UsageError(
                "--check takes only the result file (and --server); it reruns exactly what was recorded"
            )
        _check(check_path, servers, api_key)
        return
    if experiment is None and resume in (None, "latest"):
        raise click.UsageError("give an EXPERIMENT file, or --check RESULT, or --resume RUN_ID")
    try:
        document, target = durable_run(
            experiment,
            resume,
            out,
            max_tokens,
            model_spec,
            keep_candidates,
            servers,
            api_key,
            store_file,
            store_max_mib,
        )
    except USER_ERRORS as error:
        fail(error)
    echo(text_table(document))
    for note in document.get("notes", ()):
        echo(f"note: {note}")
    echo(f"wrote {target}")


def _check(path: Path, servers: Sequence[str], api_key: str | None) -> None:
    try:
        document = load_result(path)
        load = LoadSettings(document["load"], source="load")
        with opened_backend(document["model"]["spec"], load, servers, api_key) as backend:
            outcome = check_result(backend, document)
    except (KeyError, TypeError) as error:
        fail(ValueError(f"{path}: not a samplerlab result file (missing {error})"))
    except USER_ERRORS as error:
        fail(error)
    echo(outcome.describe())
    if not outcome.reproduced:
        raise SystemExit(1)


@main.command("report")
@click.argument("result", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML file (default: the result file with .html).",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "ja"]),
    default="en",
    show_default=True,
    help="Language of the report's headings, labels and explanations.",
)
def report_command(result: Path, out: Path | None, lang: str) -> None:
    """Write a self-contained HTML report of a RESULT file: columns side by side, where they part, stats and
    sweep charts."""
    target = out or result.with_suffix(".html")
    try:
        target.write_text(render_report(load_result(result), lang), encoding="utf-8")
    except USER_ERRORS as error:
        fail(error)
    echo(f"wrote {target}")


# -- presets ----------------------------------------------------------------------------------


def presets_dir_option(function):
    """--presets-dir on every presets command, so it can follow the command word like any other option."""
    return click.option(
        "--presets-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        envvar=PRESETS_DIR_ENV,
        help="Where user presets live (default: ./presets).",
    )(function)


def _user_dir(presets_dir: Path | None) -> Path | str | None:
    """The command's --presets-dir, else the one given before it: `samplerlab --presets-dir X presets list`."""
    return presets_dir or click.get_current_context().find_root().params.get("presets_dir")


@main.group("presets")
def presets_group() -> None:
    """List, show, export, import, rename, delete and validate presets; built-in presets are read-only."""


@presets_group.command("list")
@presets_dir_option
def presets_list(presets_dir: Path | None) -> None:
    """Every preset, built-ins first: name, built-in or user, and the first line of its description.

    Files that cannot be read are reported on stderr, one line each; the good ones are still listed.
    """
    try:
        found, problems = list_presets(_user_dir(presets_dir))
    except USER_ERRORS as error:
        fail(error)
    for line in _preset_lines(found):
        echo(line)
    for problem in problems:
        echo(problem, err=True)
    if problems and not found:
        raise SystemExit(1)


def _preset_lines(presets: Sequence[Preset]) -> list[str]:
    """Aligned columns; display widths keep names in Japanese lined up with the rest."""
    width = max((display_width(preset.name) for preset in presets), default=0)
    return [
        f"{pad(preset.name, width)}  {'built-in' if preset.builtin else 'user':<8}  "
        f"{first_sentence(preset.description)}".rstrip()
        for preset in presets
    ]


def shown_path(path: Path | None) -> str:
    """Relative to the working directory when inside it: shorter, and what the user typed."""
    if path is None:  # every saved preset has its path
        return "?"
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def first_sentence(text: str) -> str:
    """The summary a listing needs; the whole description is one `presets show` away."""
    line = (text.splitlines() or [""])[0]
    end = line.find(". ")
    return line if end < 0 else line[: end + 1]


@presets_group.command("show")
@click.argument("name")
@presets_dir_option
def presets_show(name: str, presets_dir: Path | None) -> None:
    """The preset NAME as YAML, exactly as samplerlab writes its file."""
    try:
        text = preset_yaml(load_preset(name, _user_dir(presets_dir)))
    except USER_ERRORS as error:
        fail(error)
    echo(text, data=True, nl=False)


@presets_group.command("export")
@click.argument("name")
@click.option("--to", "fmt", required=True, type=click.Choice(list(EXPORT_FORMATS)), help="The tool to export for.")
@presets_dir_option
def presets_export(name: str, fmt: str, presets_dir: Path | None) -> None:
    """The preset NAME in another tool's format; what that tool cannot express is noted in the output."""
    try:
        text = export_preset(load_preset(name, _user_dir(presets_dir)), fmt)
    except USER_ERRORS as error:
        fail(error)
    echo(text, data=True, nl=False)


@presets_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Save under this name (default: the preset's own, else the file name).")
@click.option(
    "--from",
    "fmt",
    type=click.Choice(list(IMPORTERS)),
    default=None,
    help="The file's format (default: detected; a samplerlab preset is copied as it is).",
)
@click.option("--overwrite", is_flag=True, help="Replace a user preset of the same name.")
@presets_dir_option
def presets_import(file: Path, name: str | None, fmt: str | None, overwrite: bool, presets_dir: Path | None) -> None:
    """Save FILE, a text-generation-webui or SillyTavern preset, as a user preset.

    Keys samplerlab has no equivalent for are listed, one per line, so nothing is lost unnoticed.
    """
    try:
        preset, unmapped = import_file(file, fmt, name)
        saved = save_preset(preset, _user_dir(presets_dir), overwrite)
    except USER_ERRORS as error:
        fail(error)
    echo(f"saved {saved.name!r} to {shown_path(saved.path)}")
    for key in unmapped:
        echo(f"unmapped: {key}")


@presets_group.command("rename")
@click.argument("old")
@click.argument("new")
@click.option("--overwrite", is_flag=True, help="Replace a user preset already named NEW.")
@presets_dir_option
def presets_rename(old: str, new: str, overwrite: bool, presets_dir: Path | None) -> None:
    """Rename the user preset OLD to NEW; its file is renamed to match. Built-in presets are read-only."""
    try:
        renamed = rename_preset(old, new, _user_dir(presets_dir), overwrite)
    except USER_ERRORS as error:
        fail(error)
    echo(f"renamed {old!r} to {renamed.name!r} ({shown_path(renamed.path)})")


@presets_group.command("delete")
@click.argument("name")
@presets_dir_option
def presets_delete(name: str, presets_dir: Path | None) -> None:
    """Delete the user preset NAME (its file); built-in presets cannot be deleted."""
    try:
        path = delete_preset(name, _user_dir(presets_dir))
    except USER_ERRORS as error:
        fail(error)
    echo(f"deleted {name!r} ({shown_path(path)})")


@presets_group.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@presets_dir_option
def presets_validate(paths: tuple[Path, ...], presets_dir: Path | None) -> None:
    """Check preset files or directories (default: every built-in and user preset); exit 1 if any is wrong."""
    try:
        good, problems = _read_presets(paths) if paths else list_presets(_user_dir(presets_dir))
    except USER_ERRORS as error:
        fail(error)
    for problem in problems:
        echo(problem)
    if problems:
        raise SystemExit(1)
    echo(f"{len(good)} preset{'' if len(good) == 1 else 's'} OK")


def _read_presets(paths: Sequence[Path]) -> tuple[list[Preset], list[str]]:
    """Each file, or each .yaml/.yml file in a directory, read on its own so one bad file hides no other."""
    files = [
        file
        for path in paths
        for file in (sorted(f for f in path.iterdir() if f.suffix in (".yaml", ".yml")) if path.is_dir() else [path])
    ]
    good: list[Preset] = []
    problems: list[str] = []
    for file in files:
        try:
            good.append(read_preset_file(file))
        except PresetError as error:
            problems.append(str(error))
    return good, problems


def _register_understanding() -> None:
    from .understand import explain_command, replay_command

    main.add_command(explain_command)
    main.add_command(replay_command)
    from .stats import stats_command  # statistics across seeds (issue 18)

    main.add_command(stats_command)
    main.add_command(history_command)
    from .bench_servers import bench_servers_command

    main.add_command(bench_servers_command)


_register_understanding()


def _register_blind() -> None:
    from .blind import register

    register(main)


_register_blind()
