"""Writing one run into the run store as it goes: begun, each generation as it ends, then its status.

The store is a convenience beside the run, never a condition of it: the first time it fails (a full
disk, an unwritable or damaged file) the recorder says so in one line and the run goes on
unrecorded. What the run was started with (its result document's head and its planned columns) is
kept as YAML, the result file's own language, so that it comes back exactly; the generations as the
lossless ``codec``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..events import Column, Request
from ..files import safe_yaml
from .experiments import Experiment, PlannedColumn
from .results import Outcome, dump, plain
from .store import Key, RunStore, StoreError, dropped_line

Say = Callable[[str], None]


def prompt_start(prompts: Sequence[str], messages: Sequence[Mapping[str, Any]] = ()) -> str:
    """What a listing shows of a run's prompt: its first prompt, or the conversation's last turn."""
    text = next((p for p in prompts if p), "") or (str(messages[-1].get("content", "")) if messages else "")
    return " ".join(text.split())


def plan_text(columns: Sequence[PlannedColumn]) -> str:
    """The planned columns as YAML: what a resume runs, whatever the presets have become since."""
    return dump(
        {
            "columns": [
                {"label": c.label, "settings": plain(dict(c.settings)), "seeded": c.seeded, "sweep": plain(c.sweep)}
                for c in columns
            ]
        }
    )


def request_text(request: Request) -> dict[str, Any]:
    """A page run's request as plain data (``durable.stored_request`` reads it back)."""
    return {
        "prompt": request.prompt,
        "mode": request.mode,
        "system": request.system,
        "history": [
            {"role": m.role, "content": m.content, **({"name": m.name} if m.name else {})} for m in request.history
        ],
        "context_policy": request.context_policy,
        "prefix": request.prefix,
    }


def read_yaml(text: str) -> Any:
    return safe_yaml.load(text, max_nodes=10_000_000, loader=safe_yaml.FAST_LOADER)


class Recorder:
    """One run in the store; after the store's first failure, a note and nothing more."""

    def __init__(self, store: RunStore | None, say: Say, owner: str | None = None) -> None:
        self.store = store
        self.say = say
        self.owner = owner
        self.run_id: int | None = None
        self.stopped = False

    def _guarded(self, action: Callable[[RunStore], Any]) -> Any:
        if self.store is None:
            return None
        try:
            return action(self.store)
        except (StoreError, yaml.YAMLError, ValueError) as error:
            self.store = None
            self.say(f"{error}; this run goes on without being recorded")
            return None

    def _trim(self) -> None:
        dropped = self._guarded(lambda store: store.trim(keep=self.run_id))
        if dropped and self.store is not None:
            self.say(dropped_line(dropped, self.store))

    def begin_experiment(self, experiment: Experiment, head: Mapping[str, Any], target: Path, keep: int) -> None:
        """An experiment run: its head (the result document before its columns) and planned columns."""
        messages = head.get("messages") or []
        self.run_id = self._guarded(
            lambda store: store.begin(
                kind="experiment",
                source=str(Path(experiment.source).resolve()),
                model=head["model"]["file_name"],
                model_path=str(head["model"]["spec"]),
                model_sha256=head["model"]["sha256"],
                prompt_start=prompt_start(experiment.prompts, messages),
                columns=len(experiment.columns),
                seeds=list(experiment.seeds),
                prompts=len(experiment.prompts),
                total=experiment.runs,
                head=dump(head),
                plan=plan_text(experiment.columns),
                owner=self.owner,
                out=str(target),
                keep=keep,
            )
        )
        self._trim()

    def begin_page(self, request: Request, columns: Sequence[Column], head: Mapping[str, Any], spec: Mapping) -> None:
        """A page run (the Compare tab's Run): its request, its columns as an experiment spec, its head."""
        planned = [PlannedColumn(c.label, c.settings) for c in columns]
        self.run_id = self._guarded(
            lambda store: store.begin(
                kind="page",
                model=head["model"]["file_name"],
                model_path=str(head["model"]["spec"]),
                model_sha256=head["model"]["sha256"],
                prompt_start=prompt_start([request.prompt], head.get("messages") or []),
                columns=len(columns),
                seeds=sorted({c.settings.seed for c in columns}),
                prompts=1,
                total=len(columns),
                head=dump(head),
                plan=plan_text(planned),
                owner=self.owner,
                request=dump({"request": request_text(request), "spec": plain(dict(spec))}),
            )
        )
        self._trim()

    @contextlib.contextmanager
    def ending(self) -> Iterator[None]:
        """A page run's end: done, stopped (a column cancelled) or failed (an error)."""
        try:
            yield
        except GeneratorExit:  # the page went away: the run was stopped, not broken
            self.finish("stopped")
            raise
        except BaseException:
            self.finish("failed")
            raise
        self.finish("stopped" if self.stopped else "done")

    def resume(self, run_id: int) -> None:
        self.run_id = run_id
        self._guarded(lambda store: store.set_status(run_id, "running"))

    def rendered(self, rendered: Mapping[str, Any]) -> None:
        """A page run's prompt as sent, known once the run has ended."""
        run_id = self.run_id
        if run_id is not None and rendered:
            self._guarded(lambda store: store.set_rendered(run_id, 0, rendered))

    def add(self, key: Key, outcome: Outcome) -> None:
        self.stopped = self.stopped or outcome.result.finish_reason == "cancelled"
        run_id = self.run_id
        if run_id is not None:
            self._guarded(lambda store: store.add(run_id, key, outcome.result, outcome.rendered))

    def finish(self, status: str, out: Path | None = None) -> None:
        run_id = self.run_id
        if run_id is not None:
            self._guarded(lambda store: store.set_status(run_id, status, str(out) if out else None))
            self._trim()
