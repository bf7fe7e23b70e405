"""Presets: named sampling settings stored as small, readable YAML files.

A preset file holds ``name``, an optional ``description`` (and ``description_ja``, the same in Japanese,
which the app and the CLI show in Japanese mode), ``schema_version`` and
only the knobs that differ from llama.cpp's defaults, so a reader sees at a
glance what the preset changes. Loading fills in the rest from the schema, and
every value goes through ``Settings`` validation: a file from the internet is
untrusted input and either loads cleanly or fails with one line naming the file
and key.

Built-in presets live in the repository's ``presets/`` directory and are
read-only; user presets live in ``./presets`` (or ``SAMPLERLAB_PRESETS_DIR``, or
the directory passed in). Names may be in any language but never a path: the
file name is derived from the name, and writes are atomic.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import yaml

from .. import __version__
from ..files import safe_yaml
from ..files.atomic import atomic_write
from ..files.leftovers import PRESET_TEMP, remove_leftovers
from ..files.stat_cache import StatCache
from ..schema.params import KNOB_BY_NAME, KNOB_NAMES, Settings, SettingsError, order_names, suggest
from .yaml_text import InlineList, InlineMapping, dump_yaml

SCHEMA_VERSION = 1
MAX_FILE_BYTES = 64 * 1024
MAX_NODES = 20_000  # a preset is a few dozen values; a 64 KiB logit_bias ban list is under 10,000
MAX_NAME_LENGTH = 64
# File names are limited to 255 bytes; 64 characters of 4 bytes each would exceed that. 200 leaves room
# for ".yaml" and the temporary file's prefix and suffix.
MAX_STEM_BYTES = 200
MAX_MESSAGE_LENGTH = 300
BUILTIN_DIR = Path(__file__).resolve().parent.parent.parent / "presets"
PRESETS_DIR_ENV = "SAMPLERLAB_PRESETS_DIR"
META_KEYS = ("name", "description", "description_ja", "schema_version")
HEADER = f"# samplerlab preset (schema {SCHEMA_VERSION}), written by samplerlab {__version__}\n"
# Windows also reserves COM and LPT with superscript digits (¹ ² ³), which are letters-or-digits here.
WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"{device}{digit}" for device in ("COM", "LPT") for digit in (*"123456789", *"¹²³"))}
)


class PresetError(ValueError):
    """A preset that cannot be read, named or stored; the message is one line meant for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


def _one_line(message: str) -> str:
    """Messages end up in a status bar: keep them on one line and bounded even for hostile input."""
    flat = " ".join(str(message).split())
    return flat if len(flat) <= MAX_MESSAGE_LENGTH else flat[: MAX_MESSAGE_LENGTH - 1] + "…"


@dataclass(frozen=True)
class Preset:
    """A named, validated set of settings; ``path`` is where it was read from, if anywhere."""

    name: str
    description: str = ""
    settings: Settings = field(default_factory=Settings)
    builtin: bool = False
    path: Path | None = None
    description_ja: str = ""  # the description in Japanese, if its author wrote one

    def describe(self, lang: str = "en") -> str:
        """The description in ``lang``: the Japanese one in Japanese where there is one, else the description.
        One file holds both, so a preset shared or exported is one file whichever language wrote it."""
        return (self.description_ja or self.description) if lang == "ja" else self.description


# -- names -------------------------------------------------------------------


def check_name(name: Any) -> str:
    """The name, NFC-normalised and trimmed, or a PresetError saying why it cannot name a preset."""
    if not isinstance(name, str):
        raise PresetError(f"a preset name must be text, got {name!r}")
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise PresetError("the preset name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise PresetError(f"the preset name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")
    control = next((ch for ch in name if unicodedata.category(ch) == "Cc"), None)
    if control is not None:
        raise PresetError(f"the preset name {name!r} contains a control character (U+{ord(control):04X})")
    invisible = next((ch for ch in name if unicodedata.category(ch) == "Cf"), None)
    if invisible is not None:  # zero-width spaces, joiners, bidi overrides: 'greedy\u200b' looks like 'greedy'
        raise PresetError(
            f"the preset name {name!r} contains an invisible formatting character (U+{ord(invisible):04X}); "
            "type the name without it"
        )
    if "/" in name or "\\" in name or not name.strip("."):
        raise PresetError(f"the preset name {name!r} looks like a path; use a plain name without / or \\")
    stem = file_stem(name)
    if not stem:
        raise PresetError(f"the preset name {name!r} needs at least one letter or digit")
    size = len(stem.encode("utf-8"))
    if size > MAX_STEM_BYTES:
        raise PresetError(
            f"the preset name is {size} bytes long as a file name (UTF-8); the limit is "
            f"{MAX_STEM_BYTES}: use fewer characters"
        )
    if stem.upper() in WINDOWS_RESERVED:
        raise PresetError(f"the preset name {name!r} is reserved by Windows; choose another name")
    return name


def file_stem(name: str) -> str:
    """A file name stem from a preset name: Unicode letters and digits kept, the rest as single dashes.

    Lowercased so names differing only in case share a file on every file system.
    """
    kept = [
        ch if ch.isalnum() or unicodedata.category(ch).startswith("M") else "-"
        for ch in unicodedata.normalize("NFC", name).lower()
    ]
    return "-".join(part for part in "".join(kept).split("-") if part)


def same_name(first: str, second: str) -> bool:
    return unicodedata.normalize("NFC", first).casefold() == unicodedata.normalize("NFC", second).casefold()


def looks_like(first: str, second: str) -> bool:
    """Names a reader cannot tell apart: equal after NFKC and case folding ('ｇｒｅｅｄｙ' and 'greedy')."""
    return unicodedata.normalize("NFKC", first).casefold() == unicodedata.normalize("NFKC", second).casefold()


# -- reading -------------------------------------------------------------------


def parse_preset_text(text: str, source: str = "upload", *, builtin: bool = False, path: Path | None = None) -> Preset:
    """A preset from YAML text (a file's contents or an upload), validated against the schema."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise PresetError(f"{source}: the file is larger than {MAX_FILE_BYTES // 1024} KiB; a preset is a few lines")
    document = load_yaml(text, source)
    if document is None:
        raise PresetError(f"{source}: the file is empty; expected name, schema_version and settings")
    if not isinstance(document, dict):
        raise PresetError(f"{source}: expected a mapping of keys to values, got {type(document).__name__}")
    _check_keys(document, source)
    _check_schema_version(document, source)
    name = _check_meta_name(document, source)
    description, description_ja = _text(document, "description", source), _text(document, "description_ja", source)
    values = {key: _plain(document[key], f"{source}: {key}") for key in document if key not in META_KEYS}
    try:
        settings = Settings(values, source=source)
    except SettingsError as error:
        raise PresetError(str(error)) from None
    return Preset(name, description, settings, builtin, path, description_ja)


def _text(document: dict, key: str, source: str) -> str:
    """An optional text value such as the description, trimmed; absent or empty is ''."""
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise PresetError(f"{source}: {key}: expected text, got {value!r}")
    return (value or "").strip()


def read_small_text(path: Path) -> str:
    """A file's text, refusing oversized files before reading them whole and anything but a regular
    file before opening it (a FIFO would block): a preset may be given anything."""
    try:
        return safe_yaml.read_text(path, MAX_FILE_BYTES)
    except safe_yaml.TooLarge:
        raise PresetError(
            f"{path}: the file is larger than {MAX_FILE_BYTES // 1024} KiB; a preset is a few lines"
        ) from None
    except safe_yaml.ReadError as error:
        raise PresetError(str(error)) from None


def read_preset_file(path: Path | str, *, builtin: bool = False) -> Preset:
    path = Path(path)
    return parse_preset_text(read_small_text(path), str(path), builtin=builtin, path=path)


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses duplicate keys: a shared file must mean what it first appears to.
    Aliases, deep nesting and floods of values are refused before it runs (safe_yaml)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # unhashable: SafeLoader reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep)


def load_yaml(text: str, source: str) -> Any:
    """Safe constructors only: tags such as !!python/object become a clean error, never an object;
    aliases, deep nesting and floods of values are refused before anything is built."""
    try:
        return safe_yaml.load(text, max_nodes=MAX_NODES, loader=_StrictLoader)
    except (yaml.constructor.ConstructorError, safe_yaml.Refused) as error:
        hint = "; presets hold plain values only" if "tag" in str(error.problem) else ""
        raise PresetError(f"{source}:{_line(error)} {error.problem}{hint}") from None
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error)
        raise PresetError(f"{source}:{_line(error)} YAML syntax error: {problem}") from None


def _line(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f" line {mark.line + 1}:" if mark is not None else ""


def _check_keys(document: dict, source: str) -> None:
    known = (*META_KEYS, *KNOB_NAMES)
    for key in document:
        if key not in known:
            hint = suggest(key, known) if isinstance(key, str) else ""
            if key == "settings":  # an experiment file's spelling
                hint = "; in a preset the knobs go at the top level (temperature: 0.7), not under settings:"
            raise PresetError(f"{source}: unknown key {key!r}{hint}")


def _check_schema_version(document: dict, source: str) -> None:
    """A hand-written preset may leave the version out: it then means the current one."""
    if "schema_version" not in document:
        return
    version = document["schema_version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise PresetError(
            f"{source}: schema_version {version}: written by a newer samplerlab; "
            f"this one reads version {SCHEMA_VERSION}"
        )
    if isinstance(version, bool) or version != SCHEMA_VERSION or not isinstance(version, int):
        raise PresetError(f"{source}: schema_version: expected {SCHEMA_VERSION}, got {version!r}")


def _check_meta_name(document: dict, source: str) -> str:
    if document.get("name") in (None, ""):
        raise PresetError(f"{source}: missing name; add 'name: my preset'")
    try:
        return check_name(document["name"])
    except PresetError as error:
        raise PresetError(f"{source}: name: {error}") from None


def _plain(value: Any, where: str) -> Any:
    """Refuse nested structures before validation: their reprs in messages could be enormous."""
    parts = [*value, *value.values()] if isinstance(value, dict) else value if isinstance(value, list) else []
    if any(isinstance(part, (list, dict)) for part in parts):
        raise PresetError(f"{where}: expected a plain value, a list or a mapping, got nested data")
    return value


# -- writing -------------------------------------------------------------------


def preset_yaml(preset: Preset) -> str:
    """The file text: header comment, name, descriptions, schema_version, then the changed knobs."""
    document: dict[str, Any] = {"name": preset.name}
    for key, text in (("description", preset.description), ("description_ja", preset.description_ja)):
        if text:
            document[key] = text
    document["schema_version"] = SCHEMA_VERSION
    document.update({name: _yaml_value(name, value) for name, value in preset.settings.changed().items()})
    return HEADER + dump_yaml(document)


def _yaml_value(name: str, value: Any) -> Any:
    """Plain YAML types: stage names for the order, lists for tuples, ``false`` for a ban."""
    kind = KNOB_BY_NAME[name].kind
    if kind == "order":
        return InlineList(order_names(value))
    if kind == "strings":
        return InlineList(value)
    if kind == "bias":
        return InlineMapping({token: (False if bias == float("-inf") else bias) for token, bias in value.items()})
    return value


# -- the store -------------------------------------------------------------------
_READ = StatCache(keep=(PresetError,))  # every listing reads each file once per change, not once per request


def user_presets_dir(user_dir: Path | str | None = None) -> Path:
    """The argument, else $SAMPLERLAB_PRESETS_DIR, else ./presets."""
    chosen = user_dir or os.environ.get(PRESETS_DIR_ENV) or Path.cwd() / "presets"
    return Path(chosen).expanduser()


def _is_builtin_dir(directory: Path) -> bool:
    return directory.resolve() == BUILTIN_DIR.resolve()


def _scan_dir(directory: Path, builtin: bool) -> tuple[list[Preset], dict[Path, PresetError]]:
    """Every preset file in a directory, read independently so one bad file spoils nothing else."""
    presets: list[Preset] = []
    broken: dict[Path, PresetError] = {}
    try:
        if not directory.is_dir():
            return presets, broken
        files = sorted(
            p
            for p in directory.iterdir()
            if p.suffix in (".yaml", ".yml") and not p.name.startswith(".") and p.is_file()
        )
    except OSError as error:  # e.g. no permission: one problem line, and the other directory still lists
        broken[directory] = PresetError(f"{directory}: cannot read the directory ({error.strerror or error})")
        return presets, broken
    for path in files:
        try:
            presets.append(_READ.get(path, lambda p: read_preset_file(p, builtin=builtin), variant=builtin))
        except PresetError as error:
            broken[path] = error
    return presets, broken


def _scan(user_dir: Path | str | None) -> tuple[list[Preset], list[Preset], dict[Path, PresetError]]:
    """Built-in and user presets; name clashes are reported as problems of the later file."""
    builtins, broken = _scan_dir(BUILTIN_DIR, builtin=True)
    directory = user_presets_dir(user_dir)
    found, user_broken = ([], {}) if _is_builtin_dir(directory) else _scan_dir(directory, builtin=False)
    broken.update(user_broken)
    users: list[Preset] = []
    for preset in found:
        clash = next((other for other in builtins if looks_like(other.name, preset.name)), None) or next(
            (other for other in users if same_name(other.name, preset.name)), None
        )
        if clash is None:
            users.append(preset)
        else:
            owner = "a built-in preset" if clash.builtin else f"{clash.path}"
            broken[cast(Path, preset.path)] = PresetError(  # read from a file: it has its path
                f"{preset.path}: the name {preset.name!r} is already used by {owner}; rename this one"
            )
    return builtins, users, broken


def _by_name(presets: list[Preset]) -> list[Preset]:
    return sorted(presets, key=lambda preset: preset.name.casefold())


def list_presets(user_dir: Path | str | None = None) -> tuple[list[Preset], list[str]]:
    """Good presets, built-ins first and each group by name, plus one line per bad file."""
    builtins, users, broken = _scan(user_dir)
    return _by_name(builtins) + _by_name(users), [str(error) for error in broken.values()]


def load_preset(name: str, user_dir: Path | str | None = None) -> Preset:
    """A preset by name (case-insensitive, or by its file name); a broken file reports its own error."""
    builtins, users, broken = _scan(user_dir)
    found = _find(name, builtins + users)
    if found is not None:
        return found
    stem = file_stem(str(name))
    for path, error in broken.items():
        if path.stem.lower() == stem:
            raise error
    names = [preset.name for preset in _by_name(builtins) + _by_name(users)]
    raise PresetError(f"unknown preset {name!r}{suggest(name, names)}; known: {', '.join(names)}")


def _find(name: str, presets: list[Preset]) -> Preset | None:
    for matches in (
        lambda p: p.name == name,
        lambda p: same_name(p.name, name),
        lambda p: p.path is not None and p.path.stem.lower() == file_stem(str(name)),
    ):
        found = next((preset for preset in presets if matches(preset)), None)
        if found is not None:
            return found
    return None


def _writable_dir(user_dir: Path | str | None) -> Path:
    directory = user_presets_dir(user_dir)
    if _is_builtin_dir(directory):
        raise PresetError(
            f"{directory} holds the built-in presets, which are read-only; "
            f"choose another directory with --presets-dir or {PRESETS_DIR_ENV}"
        )
    return directory


def save_preset(preset: Preset, user_dir: Path | str | None = None, overwrite: bool = False) -> Preset:
    """Write a user preset atomically; replacing one of the same name needs ``overwrite``."""
    return _save(preset, _writable_dir(user_dir), overwrite, replacing=None)


def _save(preset: Preset, directory: Path, overwrite: bool, replacing: Path | None) -> Preset:
    """Save into ``directory``; the file at ``replacing`` (a preset being renamed) may be reused."""
    name = check_name(preset.name)
    builtins, users, broken = _scan(directory)
    builtin = next((other for other in builtins if looks_like(other.name, name)), None)
    if builtin is not None and same_name(builtin.name, name):
        raise PresetError(f"{name!r} is the name of a built-in preset; save yours under another name")
    if builtin is not None:
        raise PresetError(
            f"{name!r} looks the same as the built-in preset {builtin.name!r}; save yours under another name"
        )
    existing = next((other for other in users if same_name(other.name, name)), None)
    if existing is not None and not overwrite and existing.path != replacing:
        raise PresetError(
            f"a preset named {existing.name!r} already exists in {directory}; choose overwrite to replace it"
        )
    # a user preset is read from a file, so it has its path
    target = cast(Path, existing.path) if existing is not None else directory / f"{file_stem(name)}.yaml"
    _check_target_free(target, name, (users, broken), overwrite, replacing)
    saved = replace(preset, name=name, builtin=False, path=target)
    text = _readable_size(preset_yaml(saved), name)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        remove_leftovers(directory, PRESET_TEMP)  # of writes killed before their rename
        atomic_write(target, text, exclusive=existing is None and not overwrite and target != replacing)
    except FileExistsError:  # another save of the same name won the race since the scan above
        raise PresetError(
            f"a preset named {name!r} already exists in {directory}; choose overwrite to replace it"
        ) from None
    except OSError as error:
        raise PresetError(f"could not save preset {name!r} to {target}: {error.strerror or error}") from None
    return saved


def _readable_size(text: str, name: str) -> str:
    """``text`` if the store will read it back: a file above MAX_FILE_BYTES would be saved, then refused
    on every later read as 'larger than 64 KiB'."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise PresetError(
            f"preset {name!r} would be a {size / 1024:.0f} KiB file, above the {MAX_FILE_BYTES // 1024} "
            "KiB a preset file may have; shorten its description"
        )
    return text


def _check_target_free(
    target: Path, name: str, scan: tuple[list[Preset], dict[Path, PresetError]], overwrite: bool, replacing: Path | None
) -> None:
    """Refuse to clobber a file that belongs to a differently named preset (e.g. 'a b' vs 'a-b')."""
    users, broken = scan
    holder = next((other for other in users if other.path == target and not same_name(other.name, name)), None)
    if holder is not None and holder.path != replacing:
        raise PresetError(
            f"the name {name!r} would use the file {target.name}, which holds preset "
            f"{holder.name!r}; choose another name"
        )
    if target in broken and not overwrite:
        raise PresetError(f"{target} exists but is not a valid preset; choose overwrite to replace it")


def _user_preset(name: str, user_dir: Path | str | None) -> Preset:
    preset = load_preset(name, user_dir)
    if preset.builtin:
        raise PresetError(f"{preset.name!r} is a built-in preset and read-only; save a copy under another name")
    return preset


def rename_preset(old: str, new: str, user_dir: Path | str | None = None, overwrite: bool = False) -> Preset:
    """Save under the new name first, then remove the old file, so a failure loses nothing."""
    directory = _writable_dir(user_dir)
    current = _user_preset(old, directory)
    renamed = _save(replace(current, name=new), directory, overwrite, replacing=current.path)
    if current.path is not None and current.path != renamed.path:
        _unlink(current.path)
    return renamed


def delete_preset(name: str, user_dir: Path | str | None = None) -> Path:
    """Remove a user preset's file and return its path; built-ins cannot be deleted."""
    path = _user_preset(name, _writable_dir(user_dir)).path
    assert path is not None, "user presets are always read from a file"
    _unlink(path)
    return path


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError as error:
        raise PresetError(f"could not delete {path}: {error.strerror or error}") from None
