"""The app's state shared by every browser session: the loaded model, runs, cancellation.

The Gradio layer only translates widgets to and from these calls, so scripts and tests can
drive the same code without a browser.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..backends import Backend, BackendError, check_independence
from ..events import (
    ChatError,
    Column,
    ColumnDone,
    Event,
    GenerationError,
    Independence,
    ModelClosed,
    Request,
    RunResult,
    rendered_record,
)
from ..files.model_files import ModelError, check_path, resolve_model_path
from ..files.safe_yaml import JsonTooDeep, load_json
from ..presets.store import BUILTIN_DIR, Preset, PresetError, load_preset, preset_yaml, save_preset, user_presets_dir
from ..runs.comparisons import EXPERIMENTS_DIR, result_path
from ..runs.durable import Reopened, record_page, reopen, same_model
from ..runs.experiments import Experiment, ExperimentError
from ..runs.results import Outcome
from ..runs.store import RunRow, RunStore, StoreError
from ..schema.load_settings import LoadSettings
from ..schema.params import Settings, SettingsError
from ..words.errors_ja import localize
from .share import VISITOR_PRESET_BYTES, VISITOR_PRESETS, ShareLimits, ShareWrites, relative_message

MAX_SESSIONS = 256  # remembered runs (for the token view) are dropped oldest first beyond this


class LastRun(NamedTuple):
    """A session's last finished comparison: for the token view, and for saving it as an experiment."""

    request: Request | None = None
    columns: list = []
    backend: Backend | None = None  # the one it ran on: another session may have loaded another since
    rendered: dict = {}  # the prompt as sent (events.rendered_record), for a saved comparison's result


class WorkbenchError(ValueError):
    """Something a browser sent that cannot be used; one line, shown in the UI."""


class Turns:
    """The page's runs and loads one at a time, first come first served: what Gradio's queue gave them
    when they waited there, kept now that they start at once (so that a session's second run is refused
    instead of filling the queue). Waiting here is not running: the time limit starts after it, and a
    Stop while waiting gives up the place."""

    POLL = 0.05  # seconds between looks at Stop while waiting

    def __init__(self, most_waiting: int = 16) -> None:
        # Each waiting run holds one of Gradio's worker threads (40 by default): beyond this many, a run
        # is refused at once, so that waiting sessions cannot take every thread from other visitors.
        self.most_waiting = most_waiting
        self._changed = threading.Condition()
        self._waiting: deque[object] = deque()
        self._busy = False

    @contextlib.contextmanager
    def take(self, cancel: threading.Event) -> Iterator[bool]:
        """True once it is this run's turn (held until the block ends); False if Stop came first."""
        if not self._wait(cancel):
            yield False
            return
        try:
            yield True
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()

    def _wait(self, cancel: threading.Event) -> bool:
        ticket = object()
        with self._changed:
            if len(self._waiting) >= self.most_waiting:
                raise WorkbenchError(
                    f"{len(self._waiting)} runs are already waiting for the model; try again in a while"
                )
            self._waiting.append(ticket)
            while self._busy or self._waiting[0] is not ticket:
                if cancel.is_set():
                    self._waiting.remove(ticket)
                    self._changed.notify_all()  # the next in line may be first now
                    return False
                self._changed.wait(self.POLL)
            self._waiting.popleft()
            self._busy = True
            return True


@dataclass
class Workbench:
    """One backend (a loaded model, or llama-servers) shared by every session, runs one at a time (its lock)."""

    backend: Backend
    presets_dir: Path | None = None
    models_dir: Path | None = None
    experiments_dir: Path = EXPERIMENTS_DIR
    allow_any_path: bool = True
    independence: Independence | None = None
    shared: bool = False  # strangers may use it: runs bounded by ``limits``, writes by ``writes``, short paths
    limits: ShareLimits = field(default_factory=ShareLimits)
    writes: ShareWrites = "off"  # in share mode: "off" (visitors save nothing) or "presets" (new presets only)
    _results: OrderedDict = field(default_factory=OrderedDict)
    _cancels: dict[str, threading.Event] = field(default_factory=dict)
    _load_lock: threading.Lock = field(default_factory=threading.Lock)
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    turns: Turns = field(default_factory=Turns)  # the page's runs and loads, one at a time (Turns)
    _downloads: Path | None = None
    store: RunStore | None = None  # every page run is recorded here (runs.store); None: not recorded
    store_error: str | None = None  # why there is no store, for the History tab

    def __post_init__(self) -> None:
        if self.shared:
            self.allow_any_path = False  # a visitor never names a path on this machine

    def download(self, file_name: str, text: str) -> str:
        """A copy in this app's temporary folder, the one place Gradio serves files from wherever the
        app was started; one folder for the app's lifetime, not one per click."""
        target = self.scratch() / Path(file_name).name
        target.write_text(text, encoding="utf-8")
        return str(target)

    @property
    def model(self):
        """The local model, when the backend is one (None for servers)."""
        return getattr(self.backend, "model", None)

    def check(self) -> Independence:
        self.independence = check_independence(self.backend)
        _hash_between_runs(self.backend)
        return self.independence

    # -- models -------------------------------------------------------------
    def load_model(
        self, path: str = "", hf_repo: str = "", hf_file: str = "", load: dict[str, Any] | None = None
    ) -> Backend:
        """Load another model; on any failure the current one stays loaded and usable."""
        from ..backends.local import LocalBackend
        from ..llama.models import Model

        if self.model is None:
            raise WorkbenchError(
                f"this app runs the model of {self.backend.info.location}; "
                "load another model there, or start samplerlab without --server"
            )
        settings = LoadSettings(load or {}, source="load settings")
        if not self.allow_any_path:
            settings = self.model.load  # a visitor of a shared app cannot ask for a huge context or mlock
        if (hf_repo or hf_file) and not self.allow_any_path:
            raise WorkbenchError("downloading models is off while the app is shared")
        target = resolve_model_path(self._allowed_path(path) if path else None, hf_repo or None, hf_file or None)
        with self._load_lock:
            fresh = LocalBackend(Model(target, settings))
            try:
                independence = check_independence(fresh)  # also proves a context fits in memory
            except GenerationError:
                fresh.close()
                raise
            old, self.backend, self.independence = self.backend, fresh, independence
            with old.lock:
                old.close()
        _hash_between_runs(fresh)
        return fresh

    def _allowed_path(self, path: str) -> str:
        check_path(path)  # resolve() below would raise a bare ValueError
        if self.allow_any_path:
            return path
        if self.models_dir is None:
            raise WorkbenchError("loading models from paths is off while the app is shared (see --models-dir)")
        root = self.models_dir.resolve()
        check_path(root / path, shown=path)  # the visitor's path may fit while the folder plus it does not
        candidate = (root / path).resolve()
        if root not in candidate.parents or candidate.suffix != ".gguf":
            raise WorkbenchError(f"{path!r}: only .gguf files under --models-dir can be loaded")
        return str(candidate)

    # -- runs ---------------------------------------------------------------
    def expect(self, session: str) -> None:
        """A run was asked for and may wait for the model: from now on Stop applies to it.

        Shared, a session holds at most one waiting or running run, so one visitor cannot queue
        many runs ahead of everyone else."""
        if self.shared and session in self._cancels:
            raise WorkbenchError("you already have a run waiting or running; wait for it or press Stop")
        self._cancels.setdefault(session, threading.Event())

    @contextlib.contextmanager
    def session_run(self, session: str) -> Iterator[threading.Event]:
        """The one door of every event that uses the model (a comparison, an experiment, a model load):
        shared, refused at once while the session has another waiting or running; the place is freed
        however the run ends. Events that take it start at once instead of waiting in Gradio's queue,
        so a refused one never holds a place in the queue either; the model's lock orders the runs."""
        self.expect(session)
        with self.cancellable(session) as cancel:
            yield cancel

    @contextlib.contextmanager
    def cancellable(self, session: str) -> Iterator[threading.Event]:
        """The event this session's Stop sets, for one run (a comparison or an experiment), including a
        Stop pressed while the run still waited for the model; afterwards a Stop changes nothing."""
        cancel = self._cancels.setdefault(session, threading.Event())
        try:
            yield cancel
        finally:
            self._cancels.pop(session, None)

    def stream(
        self, session: str, request: Request, columns: list[Column], notes: list[str] | None = None
    ) -> Iterator[Event]:
        """Generate for one session; its Stop button ends this run (and only this run), while it waits,
        during its setup and between steps.

        Shared, the columns are bounded first and the run stops at the seconds bound; what was
        clamped or stopped is appended to ``notes`` (one line each)."""
        notes = [] if notes is None else notes
        finished: dict[int, Any] = {}
        info: dict = {}
        with self.cancellable(session) as cancel, self.deadline(cancel, notes):
            columns = self.bounded(columns, notes)  # inside: a refused run frees the session's place too
            used: list[Backend] = []
            recorder = record_page(self.store, notes.append, session, request, columns, self.backend)
            with recorder.ending():
                for event in self._generate(request, columns, cancel, info, used):
                    if isinstance(event, ColumnDone):
                        finished[event.column] = event.result
                        recorder.add((0, 0, event.column), Outcome(0, request.prompt, event.result))
                    yield event
                recorder.rendered(rendered_record(info))
        self._remember(
            session, LastRun(request, [finished[i] for i in range(len(columns))], used[-1], rendered_record(info))
        )

    # -- history ------------------------------------------------------------
    def history(self, session: str, limit: int = 50) -> list[RunRow]:
        """Recent runs; shared, only this session's own. A call with no session (Gradio's direct
        ``/run/predict`` route takes a body without ``session_hash``) owns none: its owner filter was None,
        which listed every visitor's runs and the host's."""
        if self.store is None or self.shared and not session:
            return []
        return self.store.runs(limit, owner=session if self.shared else None)

    def reopen(self, session: str, run_id: int) -> Reopened:
        """A stored run made this session's last run, as a fresh run of it would have left it: token views,
        "why do they part", what-if, branching and Save then work on it unchanged. Shared: only its own runs."""
        if self.store is None:
            raise WorkbenchError(self.store_error or "the run store is off")
        if not any(row.id == run_id for row in self.history(session, 1 << 30)):
            raise WorkbenchError(f"no run {run_id} in this session's history")
        opened = reopen(self.store, run_id)
        backend = self.backend if same_model(self.backend, opened.head) else None
        self._remember(session, LastRun(opened.request, opened.columns, backend, opened.rendered))
        return opened

    def _generate(
        self, request: Request, columns: list[Column], cancel: threading.Event, info: dict, used: list[Backend]
    ) -> Iterator[Event]:
        """The backend's events; ``used`` receives the backend that ran them. Another session may load a
        model (closing this one) between taking the backend and getting its lock: the engine says so
        under that lock (ModelClosed, before any token) and the run goes to the model loaded now."""
        for attempt in range(3):
            backend = self.backend
            used.append(backend)
            try:
                yield from backend.generate(request, columns, cancel=cancel, info=info)
                return
            except ModelClosed:
                if attempt == 2:
                    raise

    # -- share-mode bounds ----------------------------------------------------
    def bounded(self, columns: list[Column], notes: list[str]) -> list[Column]:
        """Shared: too many columns or more tokens than the bound are refused (one line); max_tokens 0
        ("until the context is full") is clamped to the bound, and ``notes`` says so."""
        if not self.shared:
            return columns
        limit = self.limits
        if len(columns) > limit.columns:
            raise WorkbenchError(
                f"at most {limit.columns} columns per run while the app is shared (asked for {len(columns)})"
            )
        over = next((c for c in columns if c.settings.max_tokens > limit.tokens), None)
        if over is not None:
            raise WorkbenchError(
                f"{over.label}: max_tokens {over.settings.max_tokens} is above this shared app's "
                f"limit of {limit.tokens} tokens per column"
            )
        if any(c.settings.max_tokens == 0 for c in columns):
            notes.append(f"max_tokens 0 runs at most {limit.tokens} tokens per column while the app is shared")
        return [
            Column(c.label, c.settings.replace(max_tokens=limit.tokens)) if c.settings.max_tokens == 0 else c
            for c in columns
        ]

    @contextlib.contextmanager
    def deadline(self, cancel: threading.Event, notes: list[str]) -> Iterator[None]:
        """Shared: set ``cancel`` once the run has taken the seconds bound, so the model is free again
        for the next visitor; the columns then end 'cancelled' and ``notes`` says why."""
        if not self.shared:
            yield
            return
        seconds = self.limits.seconds

        def expire() -> None:
            if not cancel.is_set():
                notes.append(f"stopped after {seconds:g} s, this shared app's limit per run")
                cancel.set()

        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def cancel(self, session: str) -> None:
        if session in self._cancels:
            self._cancels[session].set()

    def _remember(self, session: str, run: LastRun) -> None:
        self._results[session] = run
        self._results.move_to_end(session)
        while len(self._results) > MAX_SESSIONS:
            self._results.popitem(last=False)

    def last(self, session: str) -> LastRun:
        """This session's last finished comparison (empty before its first)."""
        return self._results.get(session, LastRun())

    def run(self, request: Request, columns: list[Column], notes: list[str] | None = None) -> RunResult:
        """A whole comparison at once, for scripts; bounded like ``stream`` when shared."""
        info: dict = {}
        notes = [] if notes is None else notes
        columns = self.bounded(columns, notes)
        cancel = threading.Event()
        with self.deadline(cancel, notes):
            done = {
                e.column: e.result
                for e in self._generate(request, columns, cancel, info, [])
                if isinstance(e, ColumnDone)
            }
        return RunResult.of(info, [done[i] for i in range(len(columns))])

    # -- writes and experiments ---------------------------------------------
    def save_preset(self, preset: Preset, overwrite: bool = False) -> Preset:
        """Save a visitor's preset, as far as the host allows: shared, nothing unless --share-writes
        presets, and even then no overwriting (another visitor's preset is not theirs to replace)."""
        if self.shared and self.writes != "presets":
            raise WorkbenchError("saving presets is off while the app is shared")
        if self.shared and overwrite:
            raise WorkbenchError("overwriting presets is off while the app is shared; save under a new name")
        if not self.shared:
            return save_preset(preset, self.presets_dir, overwrite=overwrite)
        with self._write_lock:  # two visitors' saves cannot both take the last place
            self._check_room(preset)
            return save_preset(preset, self.presets_dir)

    def _check_room(self, preset: Preset) -> None:
        """Shared: the presets folder holds at most VISITOR_PRESETS files of VISITOR_PRESET_BYTES together,
        so that visitors cannot make every listing (each page load, choice and run) slow, or fill the disk."""
        directory = user_presets_dir(self.presets_dir)
        try:
            sizes = [p.stat().st_size for p in directory.glob("*.y*ml") if p.is_file()] if directory.is_dir() else []
        except OSError:
            sizes = []  # save_preset reports an unreadable folder itself
        if len(sizes) >= VISITOR_PRESETS:
            raise WorkbenchError(
                f"this shared app already holds {len(sizes)} presets, the most it takes; ask its host to remove some"
            )
        size = len(preset_yaml(preset).encode("utf-8", "surrogatepass"))
        if sum(sizes) + size > VISITOR_PRESET_BYTES:
            raise WorkbenchError(
                f"this shared app's presets would take {(sum(sizes) + size) / 1024:.0f} KiB with this one "
                f"({size / 1024:.0f} KiB), above the {VISITOR_PRESET_BYTES // 1024} KiB it takes; "
                "ask its host to remove some, or save a smaller preset"
            )

    def experiment_run(
        self, experiment: Experiment, max_tokens: int | None, notes: list[str]
    ) -> tuple[Experiment, dict[str, Any]]:
        """The experiment and ``run_file`` options as this app runs it. Shared: on the app's model with its
        load settings (the file's ``load:`` is ignored, a 131072 context is not a visitor's to ask for),
        at most the token bound per column, and the result file in a temporary folder, not experiments/runs/."""
        options: dict[str, Any] = {
            "max_tokens": max_tokens,
            "loaded": self.backend,
            "servers": () if self.model is not None else self.backend.info.location.split(),
        }
        if not self.shared:
            return experiment, options
        if self.model is not None and experiment.load != self.model.load:
            notes.append("the file's load settings are ignored while the app is shared: it runs with the app's")
            experiment = dataclasses.replace(experiment, load=self.model.load)
        limit = self.limits.tokens
        if max_tokens == 0:  # "until the context is full", bounded as a Compare run's 0 is (``bounded``)
            notes.append(f"max tokens 0 runs at most {limit} tokens per column while the app is shared")
            max_tokens = options["max_tokens"] = limit
        if max_tokens is not None and max_tokens > limit:
            raise ExperimentError(f"max tokens {max_tokens} is above this shared app's limit of {limit} per column")
        if max_tokens is None and any(not 0 < c.settings.max_tokens <= limit for c in experiment.columns):
            raise ExperimentError(
                f"this experiment's columns run more than {limit} tokens, this shared app's limit; "
                f"set max tokens for every column to {limit} or less"
            )
        options["out"] = self.scratch("runs") / result_path(experiment.source, _now()).name
        return experiment, options

    def scratch(self, name: str = "") -> Path:
        """This app's temporary folder (or a folder in it): what visitors make is theirs to download,
        not the host's to keep, and it goes when the machine cleans its temporary files."""
        if self._downloads is None:
            self._downloads = Path(tempfile.mkdtemp(prefix="samplerlab-downloads-")).resolve()
        folder = self._downloads / name
        folder.mkdir(exist_ok=True)
        return folder

    def message(self, error: BaseException, lang: str = "en") -> str:
        """An error as a visitor sees it: one line in ``lang``; shared, with the server's folders by their short
        names."""
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        if not self.shared:
            return localize(text, lang)
        roots = [
            (user_presets_dir(self.presets_dir), "presets"),
            (BUILTIN_DIR, "presets"),
            (self.experiments_dir, "experiments"),
            (self.models_dir, "models"),
            (self._downloads, "downloads"),
        ]
        return localize(relative_message(text, roots + [(_embedded_dir(), "models")]), lang)

    # -- column specs as scripts send them -----------------------------------
    def columns_from_json(self, text: str, run_level: dict[str, Any]) -> list[Column]:
        """Columns shaped like an experiment file's: a label plus a preset and/or settings."""
        try:
            specs = load_json(text) if isinstance(text, str) else text
        except json.JSONDecodeError as error:
            raise WorkbenchError(f"columns: not valid JSON ({error.msg} at line {error.lineno})") from None
        except JsonTooDeep as error:
            raise WorkbenchError(f"columns: {error}") from None
        if not isinstance(specs, list) or not 1 <= len(specs) <= 8:
            raise WorkbenchError("columns: expected a list of 1 to 8 columns")
        return [self._column(i, spec, run_level) for i, spec in enumerate(specs)]

    def _column(self, index: int, spec: Any, run_level: dict[str, Any]) -> Column:
        where = f"columns[{index}]"
        if not isinstance(spec, dict) or set(spec) - {"label", "preset", "settings"}:
            raise WorkbenchError(f"{where}: expected a mapping with label, preset and/or settings")
        try:
            base = load_preset(spec["preset"], self.presets_dir).settings if spec.get("preset") else Settings()
            values = {**base, **run_level, **(spec.get("settings") or {})}
            return Column(str(spec.get("label") or f"column {index + 1}"), Settings(values, source=where))
        except SettingsError as error:
            raise WorkbenchError(str(error)) from None  # Settings(source=where) already begins with where
        except (PresetError, TypeError) as error:
            raise WorkbenchError(f"{where}: {error}") from None


def _now():
    import datetime

    return datetime.datetime.now(datetime.timezone.utc)


def _embedded_dir() -> Path | None:
    try:
        from ..files.model_files import embedded_model_path

        return embedded_model_path().parent
    except ModelError:
        return None


USER_ERRORS = (
    WorkbenchError,
    ModelError,
    SettingsError,
    PresetError,
    GenerationError,
    BackendError,
    ChatError,
    StoreError,
)


def _hash_between_runs(backend: Backend) -> None:
    """A local model's file is hashed in the background, between runs, so page runs record its sha256."""
    start = getattr(backend, "hash_in_background", None)
    if start is not None:
        start()
