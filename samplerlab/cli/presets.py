"""`samplerlab presets ...`: list, show, export, import, rename, delete and validate presets. Parsing and
printing only; presets.store reads and writes the files, presets.formats* translate other tools' formats."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

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
from ..report.render import display_width, pad
from ..words.cli_words import say
from ..words.errors_ja import localize
from .common import USER_ERRORS, fail, lang_of, user_dir
from .output import echo


def presets_dir_option(function):
    """--presets-dir on every presets command, so it can follow the command word like any other option."""
    return click.option(
        "--presets-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        envvar=PRESETS_DIR_ENV,
        help="Where user presets live (default: ./presets).",
    )(function)


@click.group("presets")
def presets_group() -> None:
    """List, show, export, import, rename, delete and validate presets; built-in presets are read-only."""


@presets_group.command("list")
@presets_dir_option
def presets_list(presets_dir: Path | None) -> None:
    """Every preset, built-ins first: name, built-in or user, and the first line of its description.

    Files that cannot be read are reported on stderr, one line each; the good ones are still listed.
    """
    try:
        found, problems = list_presets(user_dir(presets_dir))
    except USER_ERRORS as error:
        fail(error)
    lang = lang_of()
    for line in _preset_lines(found, lang):
        echo(line)
    for problem in problems:
        echo(localize(problem, lang), err=True)
    if problems and not found:
        raise SystemExit(1)


def _preset_lines(presets: Sequence[Preset], lang: str = "en") -> list[str]:
    """Aligned columns; display widths keep names in Japanese lined up with the rest. The description is
    the preset's own text in ``lang`` where its author wrote one (Preset.describe: description_ja in
    Japanese), else in the language its author wrote it in."""
    width = max((display_width(preset.name) for preset in presets), default=0)
    kinds = {True: say("builtin", lang), False: say("user", lang)}
    kind_width = max(8, *(display_width(kind) for kind in kinds.values()))
    return [
        f"{pad(preset.name, width)}  {pad(kinds[preset.builtin], kind_width)}  "
        f"{first_sentence(preset.describe(lang))}".rstrip()
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
    """The summary a listing needs; the whole description is one `presets show` away. A sentence ends at
    ". " or at a Japanese full stop (。), whichever comes first."""
    line = (text.splitlines() or [""])[0]
    ends = [end + 1 for end in (line.find(". "), line.find("。")) if end >= 0]
    return line[: min(ends)] if ends else line


@presets_group.command("show")
@click.argument("name")
@presets_dir_option
def presets_show(name: str, presets_dir: Path | None) -> None:
    """The preset NAME as YAML, exactly as samplerlab writes its file."""
    try:
        text = preset_yaml(load_preset(name, user_dir(presets_dir)))
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
        text = export_preset(load_preset(name, user_dir(presets_dir)), fmt)
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
        saved = save_preset(preset, user_dir(presets_dir), overwrite)
    except USER_ERRORS as error:
        fail(error)
    lang = lang_of()
    echo(say("saved_to", lang, name=repr(saved.name), path=shown_path(saved.path)))
    for key in unmapped:
        echo(say("unmapped", lang, key=localize(key, lang)))


@presets_group.command("rename")
@click.argument("old")
@click.argument("new")
@click.option("--overwrite", is_flag=True, help="Replace a user preset already named NEW.")
@presets_dir_option
def presets_rename(old: str, new: str, overwrite: bool, presets_dir: Path | None) -> None:
    """Rename the user preset OLD to NEW; its file is renamed to match. Built-in presets are read-only."""
    try:
        renamed = rename_preset(old, new, user_dir(presets_dir), overwrite)
    except USER_ERRORS as error:
        fail(error)
    echo(say("renamed", lang_of(), old=repr(old), new=repr(renamed.name), path=shown_path(renamed.path)))


@presets_group.command("delete")
@click.argument("name")
@presets_dir_option
def presets_delete(name: str, presets_dir: Path | None) -> None:
    """Delete the user preset NAME (its file); built-in presets cannot be deleted."""
    try:
        path = delete_preset(name, user_dir(presets_dir))
    except USER_ERRORS as error:
        fail(error)
    echo(say("deleted", lang_of(), name=repr(name), path=shown_path(path)))


@presets_group.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@presets_dir_option
def presets_validate(paths: tuple[Path, ...], presets_dir: Path | None) -> None:
    """Check preset files or directories (default: every built-in and user preset); exit 1 if any is wrong."""
    try:
        good, problems = _read_presets(paths) if paths else list_presets(user_dir(presets_dir))
    except USER_ERRORS as error:
        fail(error)
    lang = lang_of()
    for problem in problems:
        echo(localize(problem, lang))
    if problems:
        raise SystemExit(1)
    if lang == "en":  # the English count as it always read: '1 preset OK', '12 presets OK'
        echo(f"{len(good)} preset{'' if len(good) == 1 else 's'} OK")
    else:
        echo(say("presets_ok", lang, n=len(good)))


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
