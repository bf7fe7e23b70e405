"""Everything the CLI prints goes through here, so no text from a model, a server or a file can send
the terminal escape sequences (window titles, cursor moves, hidden text): control characters are
shown as symbols (``render.visible``). Error lines too (``VisibleGroup``), in the reader's language."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, Any

import click

from ..report.render import visible
from ..words.cli_words import say
from ..words.errors_ja import localize

LANGS = ("en", "ja")


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
    worded in the reader's language: the message by its shape (errors_ja), click's frame by cli_words. Its
    own options' errors too (`samplerlab --lang ja --port abc`), raised while parsing, before any context
    holds the language: that is read from the arguments then (``lang_in``)."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any):
        given = list(args)  # parsing consumes the list
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as error:
            from .common import lang_of

            _in_language(error, lang_in(given) or (lang_of(parent) if parent is not None else "en"))
            raise

    def invoke(self, ctx: click.Context) -> Any:
        given = [*getattr(ctx, "_protected_args", ()), *ctx.args]  # the command's, before click takes them
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            from .common import lang_of

            lang = getattr(error, "lang", None) or lang_of(getattr(error, "ctx", None) or ctx)
            _in_language(error, lang if lang != "en" else lang_in(given) or lang)  # `stats x --lang ja --nope`
            raise


def lang_in(args: Sequence[str]) -> str | None:
    """The last valid ``--lang`` among raw arguments (``--lang ja`` or ``--lang=ja``), for an error raised
    before click has parsed them: `samplerlab --lang ja --lang fr` is refused in Japanese."""
    found = None
    for index, arg in enumerate(args):
        if arg == "--":  # what follows is arguments, not options
            break
        value: str | None
        if arg == "--lang" and index + 1 < len(args):
            value = args[index + 1]
        else:
            value = arg.removeprefix("--lang=") if arg.startswith("--lang=") else None
        found = value if value in LANGS else found
    return found


def _in_language(error: click.ClickException, lang: str) -> None:
    """``error`` shown in ``lang``: its message by its shape, and in Japanese click's frame too."""
    setattr(error, "message", visible(localize(error.message, lang)))  # noqa: B010 - click types it Final
    if lang != "en":
        setattr(error, "show", _shown_in(error, lang))  # noqa: B010


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
