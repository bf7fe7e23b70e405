"""The app's state shared by every browser session: the loaded model, runs, cancellation.

The Gradio layer only translates widgets to and from these calls, so scripts and tests can
drive the same code without a browser.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from .backends import Backend, BackendError, check_independence
from .chats import ChatError
from .events import Column, ColumnDone, Event, GenerationError, Independence, Request, RunResult
from .model_files import ModelError, resolve_model_path
from .params import Settings, SettingsError
from .load_settings import LoadSettings
from .presets import PresetError, load_preset
from .comparisons import EXPERIMENTS_DIR

MAX_SESSIONS = 256  # remembered runs (for the token view) are dropped oldest first beyond this


class LastRun(NamedTuple):
    """A session's last finished comparison: for the token view, and for saving it as an experiment."""

    request: Request | None = None
    columns: list = []
    backend: Backend | None = None  # the one it ran on: another session may have loaded another since


class WorkbenchError(ValueError):
    """Something a browser sent that cannot be used; one line, shown in the UI."""


@dataclass
class Workbench:
    """One backend (a loaded model, or llama-servers) shared by every session, runs one at a time (its lock)."""

    backend: Backend
    presets_dir: Path | None = None
    models_dir: Path | None = None
    experiments_dir: Path = EXPERIMENTS_DIR
    allow_any_path: bool = True
    independence: Independence | None = None
    _results: OrderedDict = field(default_factory=OrderedDict)
    _cancels: dict[str, threading.Event] = field(default_factory=dict)
    _load_lock: threading.Lock = field(default_factory=threading.Lock)
    _downloads: Path | None = None

    def download(self, file_name: str, text: str) -> str:
        """A copy in this app's temporary folder, the one place Gradio serves files from wherever the
        app was started; one folder for the app's lifetime, not one per click."""
        if self._downloads is None:
            self._downloads = Path(tempfile.mkdtemp(prefix="samplerlab-downloads-"))
        target = self._downloads / Path(file_name).name
        target.write_text(text, encoding="utf-8")
        return str(target)

    @property
    def model(self):
        """The local model, when the backend is one (None for servers)."""
        return getattr(self.backend, "model", None)

    def check(self) -> Independence:
        self.independence = check_independence(self.backend)
        return self.independence

    # -- models -------------------------------------------------------------
    def load_model(self, path: str = "", hf_repo: str = "", hf_file: str = "",
                   load: dict[str, Any] | None = None) -> Backend:
        """Load another model; on any failure the current one stays loaded and usable."""
        from .backends.local import LocalBackend
        from .models import Model
        if self.model is None:
            raise WorkbenchError(f"this app runs the model of {self.backend.info.location}; "
                                 "load another model there, or start samplerlab without --server")
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
        return fresh

    def _allowed_path(self, path: str) -> str:
        if self.allow_any_path:
            return path
        if self.models_dir is None:
            raise WorkbenchError("loading models from paths is off while the app is shared (see --models-dir)")
        root = self.models_dir.resolve()
        candidate = (root / path).resolve()
        if root not in candidate.parents or candidate.suffix != ".gguf":
            raise WorkbenchError(f"{path!r}: only .gguf files under --models-dir can be loaded")
        return str(candidate)

    # -- runs ---------------------------------------------------------------
    def expect(self, session: str) -> None:
        """A run was asked for and may wait in the queue: from now on Stop applies to it."""
        self._cancels.setdefault(session, threading.Event())

    @contextlib.contextmanager
    def cancellable(self, session: str) -> Iterator[threading.Event]:
        """The event this session's Stop sets, for one run (a comparison or an experiment), including a
        Stop pressed while the run still waited for the model; afterwards a Stop changes nothing."""
        cancel = self._cancels.setdefault(session, threading.Event())
        try:
            yield cancel
        finally:
            self._cancels.pop(session, None)

    def stream(self, session: str, request: Request, columns: list[Column]) -> Iterator[Event]:
        """Generate for one session; its Stop button ends this run (and only this run) between steps."""
        finished: dict[int, Any] = {}
        backend = self.backend  # another session may load a different one meanwhile
        with self.cancellable(session) as cancel:
            for event in backend.generate(request, columns, cancel=cancel):
                if isinstance(event, ColumnDone):
                    finished[event.column] = event.result
                yield event
        self._remember(session, LastRun(request, [finished[i] for i in range(len(columns))], backend))

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

    def run(self, request: Request, columns: list[Column]) -> RunResult:
        info: dict = {}
        done = {e.column: e.result for e in self.backend.generate(request, columns, info=info)
                if isinstance(e, ColumnDone)}
        return RunResult(info["prompt_text"], info["prompt_tokens"], info["prompt_seconds"],
                         [done[i] for i in range(len(columns))])

    # -- column specs as scripts send them -----------------------------------
    def columns_from_json(self, text: str, run_level: dict[str, Any]) -> list[Column]:
        """Columns shaped like an experiment file's: a label plus a preset and/or settings."""
        try:
            specs = json.loads(text) if isinstance(text, str) else text
        except json.JSONDecodeError as error:
            raise WorkbenchError(f"columns: not valid JSON ({error.msg} at line {error.lineno})") from None
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
        except (PresetError, SettingsError, TypeError) as error:
            raise WorkbenchError(f"{where}: {error}") from None


USER_ERRORS = (WorkbenchError, ModelError, SettingsError, PresetError, GenerationError, BackendError, ChatError)
