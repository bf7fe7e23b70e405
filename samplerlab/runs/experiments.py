"""Experiment files: a comparison written down as YAML, so anyone can run it again and get the same text.

An experiment names a model, prompts, seeds and columns (a preset and/or settings each,
or a sweep of one or two knobs). ``load_experiment`` validates it with one-line messages
that name the file, the line and the key; nothing in it is trusted. ``runner`` runs it on a
backend (the model here, or llama-servers); ``comparisons.run_file`` writes down everything
needed to reproduce the run, which ``runner.check_result`` then does.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..chats.chat_files import load_chat, parse_messages, parse_policy
from ..events import DEFAULT_POLICY, ChatError, Column, Message, Mode, Request
from ..files import safe_yaml
from ..files.model_files import ModelError, check_path
from ..presets.store import PresetError, load_preset
from ..schema.load_settings import LoadSettings
from ..schema.params import KNOB_BY_NAME, KNOB_NAMES, RUN_LEVEL_KNOBS, KnobValues, Settings, SettingsError, suggest

MAX_FILE_BYTES = 1 << 20
MAX_NODES = 100_000  # YAML values (aliases are refused): the largest shipped experiment has under 100
MAX_COLUMNS = 64
MAX_PROMPTS = MAX_SEEDS = 32
SEED = next(name for name in RUN_LEVEL_KNOBS if KNOB_BY_NAME[name].kind == "seed")  # one per run, or a list
SEEDS = f"{SEED}s"
RANDOM_SEED = KNOB_BY_NAME[SEED].minimum  # -1: draw one; a result records the drawn seed
RUN_LEVEL = tuple(name for name in RUN_LEVEL_KNOBS if name != SEED)  # every column's, unless a column sets it
TOP_KEYS = (
    "description",
    "model",
    "load",
    "mode",
    "system",
    "messages",
    "chat",
    "chat_select",
    "context_policy",
    "prefix",
    "prompt",
    "prompts",
    *(key for name in RUN_LEVEL_KNOBS for key in ((name, SEEDS) if name == SEED else (name,))),
    "columns",
    "base",
    "sweep",
)
COLUMN_KEYS = ("label", "preset", "settings")
HF_KEYS = ("hf_repo", "hf_file")
MAX_SERVERS = 16
EMBEDDED = "embedded"

Path_ = tuple[Any, ...]  # a key path inside the document: ("columns", 2, "settings")


class ExperimentError(ValueError):
    """An experiment file that cannot be run; one line naming file, line and key."""


@dataclass(frozen=True)
class PlannedColumn:
    """One column of an experiment, its settings complete; the seed is filled in per run."""

    label: str
    settings: Settings
    seeded: bool = False  # the column's own settings fix the seed, so run-level seeds do not apply
    sweep: Mapping[str, Any] | None = None  # the swept knobs' values, for sweep columns

    def for_seed(self, seed: int) -> Column:
        return Column(self.label, self.settings if self.seeded else self.settings.replace(**{SEED: seed}))


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file."""

    source: str
    spec: Mapping[str, Any]  # the file as given
    model: Any  # 'embedded', an absolute path, or {hf_repo, hf_file}: as a result file records it
    load: LoadSettings
    mode: Mode
    system: str | None
    prompts: tuple[str, ...]
    seeds: tuple[int, ...]
    columns: tuple[PlannedColumn, ...]
    sweep: tuple[str, ...] = ()
    description: str = ""
    history: tuple[Message, ...] = ()  # the conversation before each prompt (messages: or chat:)
    context_policy: str = DEFAULT_POLICY
    prefix: str = ""  # the forced start of every reply (a branch)

    def request(self, prompt: str) -> Request:
        return Request(prompt, self.mode, self.system, self.history, self.context_policy, self.prefix)

    def with_settings(self, **changes: Any) -> Experiment:
        """Every column with ``changes`` forced (e.g. a short max_tokens for a quick trial)."""
        columns = tuple(
            replace(c, settings=Settings({**c.settings, **changes}, source="override")) for c in self.columns
        )
        return replace(self, columns=columns)

    def with_model(self, model: Any) -> Experiment:
        return replace(self, model=parse_model(model, Path.cwd(), "--model"))

    def with_drawn_seeds(self) -> Experiment:
        """Every run-level seed -1 replaced by a drawn one, so the result records what was run."""
        return replace(
            self, seeds=tuple(secrets.randbelow(2**31) if seed == RANDOM_SEED else seed for seed in self.seeds)
        )

    @property
    def runs(self) -> int:
        """How many columns are generated in all: every prompt x seed runs every column."""
        return len(self.prompts) * len(self.seeds) * len(self.columns)


# -- reading YAML with line numbers ---------------------------------------------------
class _Document:
    """The parsed file plus the line of every key, so errors can point at it."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        try:
            root = safe_yaml.compose(text, max_nodes=MAX_NODES)
            self.data = safe_yaml.construct(root)
        except safe_yaml.Refused as error:
            raise ExperimentError(f"{source}:{safe_yaml.line_of(error)}: {error.problem}") from None
        except yaml.YAMLError as error:
            line = safe_yaml.line_of(error)
            where = f"{source}:{line}" if line else source
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ExperimentError(f"{where}: not valid YAML: {problem}") from None
        self.lines: dict[Path_, int] = {}
        if root is not None:
            self._index(root)

    def _index(self, root: yaml.Node) -> None:
        stack: list[tuple[yaml.Node, Path_]] = [(root, ())]
        while stack:
            node, path = stack.pop()
            self.lines.setdefault(path, node.start_mark.line + 1)
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for key, value in node.value:
                    if key.value in seen:
                        raise ExperimentError(
                            f"{self.source}:{key.start_mark.line + 1}: "
                            f"{_dotted(path) or 'top level'}: duplicate key {key.value!r}"
                        )
                    seen.add(key.value)
                    self.lines.setdefault(path + (key.value,), key.start_mark.line + 1)
                    stack.append((value, path + (key.value,)))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend((item, path + (i,)) for i, item in enumerate(node.value))

    def where(self, path: Path_, at: Path_ | None = None) -> str:
        """'file:line: key.path' for messages; the line is of ``at`` (default ``path``) or its nearest parent."""
        at = path if at is None else at
        for end in range(len(at), -1, -1):
            line = self.lines.get(at[:end])
            if line is not None:
                break
        location = f"{self.source}:{line}" if line is not None else self.source
        return f"{location}: {_dotted(path)}" if path else location

    def fail(self, path: Path_, message: str) -> ExperimentError:
        return ExperimentError(f"{self.where(path)}: {message}")


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expect(doc: _Document, path: Path_, value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        raise doc.fail(path, f"expected {what}, got {_describe(value)}")
    return value


def _check_keys(doc: _Document, path: Path_, mapping: Mapping, known: Sequence[str], hint: str) -> None:
    for key in mapping:
        if key not in known:
            raise doc.fail(path + (key,), f"unknown key{suggest(str(key), tuple(known)) or f'; expected {hint}'}")


# -- the experiment ----------------------------------------------------------------------
def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; every problem is an ExperimentError of one line."""
    path = Path(path)
    source = str(path)
    try:
        text = safe_yaml.read_text(path, MAX_FILE_BYTES)
    except safe_yaml.TooLarge as error:
        raise ExperimentError(
            f"{source}: {error.size / 2**20:.1f} MiB is too large for an experiment file "
            f"(limit {MAX_FILE_BYTES // 2**20} MiB)"
        ) from None
    except safe_yaml.ReadError as error:
        raise ExperimentError(str(error)) from None
    return parse_experiment(text, source, path.parent)


def parse_experiment(text: str, source: str = "<experiment>", base_dir: Path | None = None) -> Experiment:
    """Validate experiment YAML; relative model paths are relative to ``base_dir`` (the file's folder)."""
    doc = _Document(source, text)
    spec = doc.data
    if spec is None:
        raise doc.fail((), "the file is empty; an experiment needs at least a prompt and columns")
    if not isinstance(spec, dict):
        raise doc.fail((), f"expected a mapping of experiment keys ({', '.join(TOP_KEYS)}), got {_describe(spec)}")
    _check_keys(doc, (), spec, TOP_KEYS, ", ".join(TOP_KEYS))
    run_level = _run_level(doc, spec)
    seeds = _one_or_many(
        doc, spec, SEED, SEEDS, MAX_SEEDS, lambda p, v: _knob(doc, p, SEED, v), (KNOB_BY_NAME[SEED].default,)
    )
    history = _history(doc, spec, base_dir or Path.cwd())
    prompts = _one_or_many(doc, spec, "prompt", "prompts", MAX_PROMPTS, lambda p, v: _text(doc, p, v), None)
    prompts = _reply_prompt(doc, history) if prompts is None else prompts
    run_level[SEED] = seeds[0]
    columns, sweep = _columns(doc, spec, run_level, len(seeds))
    mode = _mode(doc, spec)
    return Experiment(
        source=source,
        spec=spec,
        model=parse_model(spec.get("model"), base_dir or Path.cwd(), doc.where(("model",))),
        load=LoadSettings() if spec.get("load") is None else _values(doc, ("load",), spec["load"], LoadSettings),
        mode=mode,
        system=None if spec.get("system") is None else _text(doc, ("system",), spec["system"], empty=True),
        prompts=prompts,
        seeds=seeds,
        columns=columns,
        sweep=sweep,
        description="" if spec.get("description") is None else _text(doc, ("description",), spec["description"], True),
        history=history,
        context_policy=_policy(doc, spec),
        prefix="" if spec.get("prefix") is None else _text(doc, ("prefix",), spec["prefix"]),
    )


def _mode(doc: _Document, spec: Mapping) -> Mode:
    mode = spec.get("mode", "chat")
    if mode not in ("chat", "raw"):
        raise doc.fail(("mode",), f"expected chat or raw, got {_describe(mode)}")
    for key in ("system", "messages", "chat"):
        if mode == "raw" and spec.get(key) is not None:
            raise doc.fail((key,), "only applies in chat mode; remove it, or use mode: chat")
    return mode


# -- conversations ---------------------------------------------------------------------------
def _history(doc: _Document, spec: Mapping, base_dir: Path) -> tuple[Message, ...]:
    """The turns before each prompt: ``messages:`` inline, or ``chat:`` a chat file relative to the experiment."""
    if "messages" in spec and "chat" in spec:
        raise doc.fail(("chat",), "give messages or chat, not both")
    if "chat_select" in spec and "chat" not in spec:
        raise doc.fail(("chat_select",), "picks one chat of a chat: file; give chat as well")
    try:
        if "messages" in spec:
            if not _expect(doc, ("messages",), spec["messages"], list, "a list of {role, content} messages"):
                raise doc.fail(("messages",), "holds no messages; expected at least one")
            return parse_messages(spec["messages"], doc.where((), at=("messages",))).messages
        if "chat" in spec:
            path = Path(_text(doc, ("chat",), spec["chat"])).expanduser()
            select = _chat_select(doc, spec.get("chat_select"))
            return load_chat(path if path.is_absolute() else base_dir / path, select=select).messages
    except ChatError as error:
        key = "messages" if "messages" in spec else "chat"
        raise ExperimentError(str(error) if key == "messages" else f"{doc.where((key,))}: {error}") from None
    return ()


def _chat_select(doc: _Document, value: Any) -> int | str | None:
    if (
        value is None
        or isinstance(value, str)
        and value
        or isinstance(value, int)
        and not isinstance(value, bool)
        and value >= 0
    ):
        return value
    raise doc.fail(("chat_select",), f"expected a chat's index (from 0) or title, got {_describe(value)}")


def _reply_prompt(doc: _Document, history: tuple[Message, ...]) -> tuple[str, ...]:
    """Without prompt, a conversation's next reply: its last turn must be the user's."""
    if not history:
        raise doc.fail((), "no prompt: give prompt (a string) or prompts (a list of strings)")
    if history[-1].role != "user":
        key = "chat" if "chat" in doc.data else "messages"
        raise doc.fail(
            (key,),
            f"ends with a{'n' if history[-1].role == 'assistant' else ''} {history[-1].role} "
            "turn; give prompt (the next user message)",
        )
    return ("",)  # the reply to the conversation's last user turn


def _policy(doc: _Document, spec: Mapping) -> str:
    """error (the default), drop_oldest or keep_last:N; only a conversation is fitted to the context."""
    value = spec.get("context_policy", DEFAULT_POLICY)
    if "context_policy" in spec and "messages" not in spec and "chat" not in spec:
        raise doc.fail(("context_policy",), "applies to a conversation; give messages or chat as well")
    try:
        return str(parse_policy(value if isinstance(value, str) else repr(value)))
    except ChatError as error:
        raise doc.fail(("context_policy",), str(error)) from None


def _text(doc: _Document, path: Path_, value: Any, empty: bool = False) -> str:
    _expect(doc, path, value, str, "a string")
    if not value and not empty:
        raise doc.fail(path, "is empty")
    return value


_Values = TypeVar("_Values", bound=KnobValues)


def _values(doc: _Document, path: Path_, value: Any, kind: type[_Values]) -> _Values:
    """Knob values validated by the schema one key at a time, so a message points at the key's line."""
    _expect(doc, path, value, dict, "a mapping of setting names to values")
    try:
        for name, item in value.items():
            kind({name: item}, source=doc.where(path, at=path + (name,)))
        return kind(value, source=doc.where(path))
    except SettingsError as error:
        raise ExperimentError(str(error)) from None


def _knob(doc: _Document, path: Path_, name: str, value: Any) -> Any:
    """One run-level knob (params.RUN_LEVEL_KNOBS) validated by the schema."""
    try:
        return Settings({name: value}, source=doc.where(path[:-1], at=path))[name]
    except SettingsError as error:
        raise ExperimentError(str(error)) from None


def _one_or_many(
    doc: _Document, spec: Mapping, one: str, many: str, limit: int, check: Callable[[Path_, Any], Any], default: Any
) -> Any:
    """``seed: 0`` or ``seeds: [0, 1]`` (never both) as a tuple."""
    if one in spec and many in spec:
        raise doc.fail((many,), f"give {one} or {many}, not both")
    if one in spec:
        return (check((one,), spec[one]),)
    if many not in spec:
        return default
    values = _expect(doc, (many,), spec[many], list, f"a list of 1 to {limit} values")
    if not 1 <= len(values) <= limit:
        raise doc.fail((many,), f"expected 1 to {limit} values, got {len(values)}")
    return tuple(check((many, i), value) for i, value in enumerate(values))


def _run_level(doc: _Document, spec: Mapping) -> dict[str, Any]:
    return {name: _knob(doc, (name,), name, spec[name]) for name in RUN_LEVEL if name in spec}


def parse_model(value: Any, base_dir: Path, where: str = "model") -> Any:
    """'embedded' (the default), a .gguf path (made absolute; it must exist), {hf_repo, hf_file},
    {server: URL} or {servers: [URL, ...]} (llama-servers; URLs without credentials)."""
    if value is None or value == EMBEDDED:
        return EMBEDDED
    if isinstance(value, str) and value:
        try:
            check_path(value)
        except ModelError as error:
            raise ExperimentError(f"{where}: {error}") from None
        path = Path(value).expanduser()
        path = path if path.is_absolute() else (base_dir / path).resolve()
        if not path.is_file():
            raise ExperimentError(f"{where}: {path}: no such file")
        return str(path)
    if isinstance(value, Mapping) and set(value) == set(HF_KEYS) and all(isinstance(value[k], str) for k in HF_KEYS):
        return {key: value[key] for key in HF_KEYS}
    if isinstance(value, Mapping) and set(value) == {"server"} and _url(value["server"]):
        return {"server": value["server"]}
    if (
        isinstance(value, Mapping)
        and set(value) == {"servers"}
        and isinstance(value["servers"], list)
        and 1 <= len(value["servers"]) <= MAX_SERVERS
        and all(_url(url) for url in value["servers"])
    ):
        return {"servers": list(value["servers"])}
    raise ExperimentError(
        f"{where}: expected 'embedded', a .gguf path, {{hf_repo: ..., hf_file: ...}}, "
        f"{{server: URL}} or {{servers: [URL, ...]}} (at most {MAX_SERVERS}), got {_describe(value)}"
    )


def _url(value: Any) -> bool:
    """A server URL as a file may give it: http(s), no credentials (they would end up in result files)."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return False
    return "@" not in value.split("/")[2]


def model_spec_kind(model: Any) -> str:
    """'server' for llama-servers, 'hf' for a Hugging Face file, 'file' for a path or the embedded model."""
    if isinstance(model, Mapping):
        return "server" if ("server" in model or "servers" in model) else "hf"
    return "file"


# -- columns and sweeps --------------------------------------------------------------------
def format_value(value: Any) -> str:
    """A knob value as a short label part: 0.4, 100, true, '\\n|.'."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "|".join(map(str, value)).encode("unicode_escape").decode()
    return str(value)


def sweep_label(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={format_value(value)}" for name, value in values.items())


def _columns(
    doc: _Document, spec: Mapping, run_level: Mapping[str, Any], seeds: int
) -> tuple[tuple[PlannedColumn, ...], tuple[str, ...]]:
    if "columns" not in spec and "sweep" not in spec:
        raise doc.fail((), "no columns: give columns (a list) or sweep (one or two knobs with value lists)")
    if "base" in spec and "sweep" not in spec:
        raise doc.fail(("base",), "base only applies to a sweep; put the settings in columns instead")
    columns: list[PlannedColumn] = []
    if "columns" in spec:
        specs = _expect(doc, ("columns",), spec["columns"], list, "a list of columns")
        columns += [_column(doc, ("columns", i), item, run_level, seeds, i) for i, item in enumerate(specs)]
    swept: tuple[str, ...] = ()
    if "sweep" in spec:
        swept, grid = _sweep(doc, spec["sweep"], spec.get("base"), run_level, seeds)
        columns += grid
    if not 1 <= len(columns) <= MAX_COLUMNS:
        raise doc.fail(
            ("columns",) if "sweep" not in spec else ("sweep",),
            f"expected 1 to {MAX_COLUMNS} columns, got {len(columns)}",
        )
    labels: dict[str, int] = {}
    for index, column in enumerate(columns):
        if column.label in labels:
            raise doc.fail(("columns", index), f"label {column.label!r} is used twice; labels tell columns apart")
        labels[column.label] = index
    return tuple(columns), swept


def _column(
    doc: _Document,
    path: Path_,
    item: Any,
    run_level: Mapping[str, Any],
    seeds: int,
    index: int,
    sweep: Mapping[str, Any] | None = None,
) -> PlannedColumn:
    """A column: its preset (or the defaults), then run-level values, then its own settings.

    A column's own seed goes with one run-level seed only: with several it would run the same
    way once per seed and pose as a setting whose seeds never diverge.
    """
    item = _expect(doc, path, item, dict, "a mapping with label, preset and/or settings")
    _check_keys(doc, path, item, COLUMN_KEYS + KNOB_NAMES, "label, preset, settings or a setting name")
    if sweep is not None and "label" in item:
        raise doc.fail(path + ("label",), "sweep columns are labelled by their values; remove the label")
    given = {} if item.get("settings") is None else item["settings"]
    _values(doc, path + ("settings",), given, Settings)
    inline = {key: value for key, value in item.items() if key not in COLUMN_KEYS}
    _values(doc, path, inline, Settings)
    for name in sorted(set(inline) & set(given)):
        raise doc.fail(path + (name,), "set both here and under settings; keep one")
    overrides = {**given, **inline, **(sweep or {})}
    if SEED in overrides and seeds > 1:
        at = path + (SEED,) if SEED in inline else path + ("settings", SEED) if SEED in given else ("sweep", SEED)
        raise doc.fail(at, f"a column's own seed cannot go with {seeds} {SEEDS}; remove it or give one {SEED}")
    preset = item.get("preset")
    base = _preset(doc, path + ("preset",), preset) if preset is not None else {}
    label = item.get("label")
    if label is None:
        label = (
            sweep_label(sweep)
            if sweep
            else (" + ".join(filter(None, [preset, sweep_label(overrides)])) or f"column {index + 1}")
        )
    settings = _values(doc, path, {**base, **run_level, **overrides}, Settings)
    return PlannedColumn(_text(doc, path + ("label",), label), settings, SEED in overrides, sweep)


def _preset(doc: _Document, path: Path_, name: Any) -> dict[str, Any]:
    try:
        return dict(load_preset(_text(doc, path, name)).settings)
    except PresetError as error:
        raise doc.fail(path, str(error)) from None


def _sweep(
    doc: _Document, sweep: Any, base: Any, run_level: Mapping[str, Any], seeds: int
) -> tuple[tuple[str, ...], list[PlannedColumn]]:
    """The grid of one or two knobs' values, first knob outermost, each on top of ``base``."""
    sweep = _expect(doc, ("sweep",), sweep, dict, "a mapping of one or two knobs to lists of values")
    if not 1 <= len(sweep) <= 2:
        raise doc.fail(("sweep",), f"expected one or two knobs, got {len(sweep)}")
    axes = []
    for name, values in sweep.items():
        if name not in KNOB_NAMES:
            raise doc.fail(("sweep", name), f"unknown setting {name!r}{suggest(str(name), KNOB_NAMES)}")
        values = _expect(doc, ("sweep", name), values, list, "a list of values")
        if not values:
            raise doc.fail(("sweep", name), "expected at least one value")
        axes.append([(name, _knob(doc, ("sweep", name, i), name, v)) for i, v in enumerate(values)])
    base = {} if base is None else base
    grid = [dict(point) for point in itertools.product(*axes)]
    if len(grid) > MAX_COLUMNS:
        raise doc.fail(("sweep",), f"the grid has {len(grid)} columns; the limit is {MAX_COLUMNS}")
    return tuple(sweep), [_column(doc, ("base",), base, run_level, seeds, i, point) for i, point in enumerate(grid)]
