"""Everything the CLI prints goes through here, so no text from a model, a server or a file can send
the terminal escape sequences (window titles, cursor moves, hidden text): control characters are
shown as symbols (``render.visible``). Error lines too (``VisibleGroup``), in the reader's language."""

from __future__ import annotations

import sys
from typing import IO, Any

import click

from ..report.render import visible
from ..words.cli_words import say
from ..words.errors_ja import localize


def echo(message: Any = "", data: bool = False, **options: Any) -> None:
    """click.echo with control characters made visible; ``data`` (an export, YAML) is written as it
    is when it goes to a file or a pipe, where its bytes are the point, and made visible on a terminal."""
    stream = sys.stderr if options.get("err") else sys.stdout
    text = str(message)
    if not data or stream.isatty():
        text = visible(text)
    click.echo(text, **options)


class VisibleGroup(click.Group):
    """A command group whose one-line errors (``Error: ...``) show control characters as symbols, and are
    worded in the reader's language: the message by its shape (errors_ja), click's frame by cli_words."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            from .common import lang_of

            lang = getattr(error, "lang", None) or lang_of(getattr(error, "ctx", None) or ctx)
            setattr(error, "message", visible(localize(error.message, lang)))  # noqa: B010 - click types it Final
            if lang != "en":
                setattr(error, "show", _shown_in(error, lang))  # noqa: B010
            raise


def _shown_in(error: click.ClickException, lang: str):
    """``error.show`` in ``lang``: the usage line and help hint of a usage error, then the error line."""

    def show(file: IO[Any] | None = None) -> None:
        file = file or sys.stderr
        context = getattr(error, "ctx", None)
        if isinstance(error, click.UsageError) and context is not None:
            usage = context.get_usage().removeprefix("Usage: ")
            click.echo(say("usage", lang, usage=usage), file=file, color=getattr(error, "color", None))
            if context.command.get_help_option(context) is not None:
                click.echo(say("try_help", lang, command=context.command_path), file=file)
            click.echo("", file=file)
        # format_message, not message: click adds its frame ("Invalid value for '--width': ...") only here
        click.echo(say("error", lang, message=localize(error.format_message(), lang)), file=file)

    return show
