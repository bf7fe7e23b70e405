"""Everything the CLI prints goes through here, so no text from a model, a server or a file can send
the terminal escape sequences (window titles, cursor moves, hidden text): control characters are
shown as symbols (``render.visible``). Error lines too (``VisibleGroup``)."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..report.render import visible


def echo(message: Any = "", data: bool = False, **options: Any) -> None:
    """click.echo with control characters made visible; ``data`` (an export, YAML) is written as it
    is when it goes to a file or a pipe, where its bytes are the point, and made visible on a terminal."""
    stream = sys.stderr if options.get("err") else sys.stdout
    text = str(message)
    if not data or stream.isatty():
        text = visible(text)
    click.echo(text, **options)


class VisibleGroup(click.Group):
    """A command group whose one-line errors (``Error: ...``) show control characters as symbols."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            setattr(error, "message", visible(error.message))  # noqa: B010 - click types it Final, but shows it later
            raise
