"""The command line: it parses arguments, calls the library and prints; nothing else.

This module holds the `samplerlab` group (which, without a command, serves the app) and `knobs`; the
commands live beside it, grouped by what they do: compare (compare, --seeds in seeds), run and report
(run), bench and bench-servers (bench), presets (presets), explain and replay (understand), stats,
history, votes and blind (blind). Their shared options and the one-line error are in common."""

from __future__ import annotations

from pathlib import Path

import click

from .. import __version__
from ..app.share import SHARE_WRITES, ShareLimits
from ..schema import docs
from ..schema.load_settings import LOAD_KNOBS
from ..schema.params import KNOBS
from .common import USER_ERRORS, fail, lang_of, model_options, open_model
from .history import app_store, history_command, store_options
from .output import VisibleGroup, echo


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


@click.command()
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True)
@click.option("--load", "show_load", is_flag=True, help="Show the load-time settings instead.")
@click.option("--orders", is_flag=True, help="Show the sampler stages and named orders instead.")
def knobs(lang: str, show_load: bool, orders: bool) -> None:
    """Every setting with its llama.cpp default and explanation (Markdown)."""
    lang = lang_of()  # `samplerlab --lang ja knobs` too
    echo(docs.order_table(lang) if orders else docs.knob_table(lang, LOAD_KNOBS if show_load else KNOBS))


def _register() -> None:
    """Every command on the group; each module defines its commands without knowing the group."""
    from .bench import bench, bench_servers_command
    from .blind import blind_command, votes_command
    from .compare import compare
    from .presets import presets_group
    from .run import report_command, run_command
    from .stats import stats_command
    from .understand import explain_command, replay_command

    for command in (
        compare,
        bench,
        knobs,
        run_command,
        report_command,
        presets_group,
        explain_command,
        replay_command,
        stats_command,
        history_command,
        bench_servers_command,
        votes_command,
        blind_command,
    ):
        main.add_command(command)


_register()
