"""Runs that outlive their process: resuming a killed or stopped run, and reading a stored run back.

A resumed run is rebuilt from what the store kept when it began (its result document's head and its
planned columns, settings complete), not from the experiment file, which may have changed since:
it skips the generations already stored, runs the rest on the same model and machine, and writes the
result file an uninterrupted run would have written (the engine makes a column's text independent of
the columns beside it, so a resumed batch of other neighbours changes nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chats.chat_files import parse_messages
from ..events import DEFAULT_POLICY, ChatError, Column, ColumnResult, Message, Request
from ..schema.load_settings import LoadSettings
from ..schema.params import Settings
from .comparisons import backend_for, comparison_spec, complete_document, document_head, run_to_document, write_result
from .experiments import Experiment, ExperimentError, PlannedColumn, parse_experiment
from .recording import Recorder, read_yaml
from .results import Outcome, dump, plain
from .runner import Key, other_machine, same_model_file
from .store import RunRow, RunStore, StoredRun, alive


class ResumeError(ExperimentError):
    """A run that cannot be resumed; one line."""


def experiment_of(head: Mapping[str, Any], plan: Mapping[str, Any]) -> Experiment:
    """The experiment a run ran, from its stored head and plan (seeds as drawn, overrides applied)."""
    columns = tuple(
        PlannedColumn(c["label"], Settings(c["settings"], source="stored run"), bool(c["seeded"]), c.get("sweep"))
        for c in plan["columns"]
    )
    return Experiment(
        source=head["experiment"]["file"],
        spec=head["experiment"]["as_given"],
        model=head["model"]["spec"],
        load=LoadSettings(head["load"], source="stored run"),
        mode=head["mode"],
        system=head.get("system"),
        prompts=tuple(head["prompts"]),
        seeds=tuple(head["seeds"]),
        columns=columns,
        sweep=tuple(head.get("sweep") or ()),
        description=head["experiment"].get("description") or "",
        history=_history(head),
        context_policy=head.get("context_policy", DEFAULT_POLICY),
        prefix=head.get("prefix") or "",
    )


def _history(head: Mapping[str, Any]) -> tuple[Message, ...]:
    try:
        return parse_messages(head["messages"], "stored run").messages if head.get("messages") else ()
    except ChatError as error:
        raise ResumeError(str(error)) from None


def stored_outcomes(store: RunStore, stored: StoredRun, plan: Mapping[str, Any], head: Mapping[str, Any]):
    """The run's stored generations as outcomes, by key."""
    rendered = store.rendered(stored.row.id)
    sweeps = [c.get("sweep") for c in plan["columns"]]
    return {
        key: Outcome(key[0], head["prompts"][key[0]], result, sweeps[key[2]], rendered.get(key[0]))
        for key, result in store.generations(stored.row.id).items()
    }


@dataclass
class Resumption:
    """A run found in the store and ready to go on."""

    store: RunStore
    row: RunRow
    head: dict[str, Any]
    experiment: Experiment
    done: dict[Key, Outcome]

    def run(
        self,
        out: Path | None = None,
        on_done: Callable[[ColumnResult], None] | None = None,
        cancel: threading.Event | None = None,
        loaded: Any = None,
        servers: Sequence[str] = (),
        api_key: str | None = None,
        say: Callable[[str], None] = print,
    ) -> tuple[dict[str, Any], Path]:
        """The rest of the run, then its result file (at ``out``, else where the run meant to write it)."""
        target = Path(out or self.row.out or "")
        if target.exists():
            raise ResumeError(f"{target}: already exists; results are never overwritten (choose another --out)")
        servers = list(servers) or list(self.head.get("overrides", {}).get("servers") or ())
        recorder = Recorder(self.store, say)
        with backend_for(self.experiment, loaded, servers, api_key) as backend:
            why = same_model_file(backend, self.head) or other_machine(backend, self.head)
            if why is not None:
                raise ResumeError(f"run {self.row.id} cannot go on here: {why}; run it afresh instead")
            recorder.resume(self.row.id)
            document = run_to_document(
                backend, self.experiment, self.head, recorder, self.done, on_done, cancel, self.row.keep
            )
        return document, write_result(target, document, recorder)


def find_resumption(store: RunStore, run_id: int | None, source: Path | None) -> Resumption:
    """Run ``run_id``, else the latest unfinished run of the experiment file ``source``."""
    if run_id is None:
        if source is None:
            raise ResumeError("--resume: give the EXPERIMENT file or a run id (see samplerlab history)")
        row = store.latest_unfinished(str(source.resolve()))
        if row is None:
            raise ResumeError(
                f"{source}: no unfinished run of it in the run store ({store.path}); run it without --resume"
            )
        run_id = row.id
    stored = store.run(run_id)
    row = stored.row
    if row.kind != "experiment":
        raise ResumeError(f"run {row.id} is a page run; reopen it in the app's History tab instead")
    if row.status == "done":
        raise ResumeError(f"run {row.id} has finished; its result is {row.out}")
    if alive(row):
        raise ResumeError(f"run {row.id} is still running (process {row.pid}); stop it first, or wait")
    head, plan = read_yaml(stored.head), read_yaml(stored.plan)
    return Resumption(store, row, head, experiment_of(head, plan), stored_outcomes(store, stored, plan, head))


# -- page runs ------------------------------------------------------------------------------------
class _Described:
    """A backend as a result document's head describes it, without hashing its model file: a page run
    must not wait seconds for a multi-GB file's sha256. It records the sha256 once it is known (hashed by an
    earlier run, or by the app in the background since the load), and as unknown until then."""

    def __init__(self, backend: Any) -> None:
        self.info = backend.info
        known = getattr(backend, "known_sha256", None)
        sha256 = known() if known is not None else None
        if sha256 is not None:
            self.sha256 = lambda: sha256


def page_head(request: Request, columns: Sequence[Column], backend: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A page run's result head and its experiment spec (``comparison_spec``, as Save writes it)."""
    spec = comparison_spec(request, columns, backend)
    experiment = parse_experiment(dump(spec), source="page run")
    return document_head(experiment, _Described(backend)), spec  # type: ignore[arg-type]


def record_page(
    store: RunStore | None,
    say: Callable[[str], None],
    owner: str,
    request: Request,
    columns: Sequence[Column],
    backend: Any,
) -> Recorder:
    """A page run begun in the store (owned by its session); a run that cannot be written down is just not."""
    recorder = Recorder(store, say, owner)
    if store is None:
        return recorder
    try:
        head, spec = page_head(request, columns, backend)
    except (ExperimentError, ValueError) as error:
        say(f"this run is not recorded ({error})")
        return recorder
    recorder.begin_page(request, columns, head, spec)
    return recorder


def same_model(backend: Any, head: Mapping[str, Any]) -> bool:
    """Whether ``backend`` is the one a stored run ran on: same place, same file, same load settings."""
    recorded = head.get("backend") or {}
    load = getattr(backend, "load", None)
    return (
        recorded.get("location") == backend.info.location
        and (head.get("model") or {}).get("file_size") == backend.info.file_size
        and (load is None or plain(dict(load)) == head.get("load"))
    )


# -- reading stored runs back -------------------------------------------------------------------
def stored_request(stored: StoredRun) -> Request:
    """A page run's request exactly as the page made it."""
    data = read_yaml(stored.request or "") or {}
    asked = data.get("request") or {}
    history = parse_messages(asked["history"], "stored run").messages if asked.get("history") else ()
    return Request(
        asked.get("prompt", ""),
        asked.get("mode", "chat"),
        asked.get("system"),
        history,
        asked.get("context_policy", DEFAULT_POLICY),
        asked.get("prefix", ""),
    )


@dataclass(frozen=True)
class Reopened:
    """A stored run as the page shows it: the request, the columns (as they ended), the prompt as sent."""

    row: RunRow
    request: Request
    columns: list[ColumnResult]
    rendered: dict[str, Any]
    head: dict[str, Any]


def reopen(store: RunStore, run_id: int) -> Reopened:
    """A run's first prompt and seed, every stored column of it: what the Compare tab restores."""
    stored = store.run(run_id)
    head = read_yaml(stored.head)
    generations = store.generations(run_id)
    first = min(generations, default=(0, 0, 0))[:2]
    columns = [result for key, result in sorted(generations.items()) if key[:2] == first]
    if stored.row.kind == "page":
        request = stored_request(stored)
    else:
        request = experiment_of(head, read_yaml(stored.plan)).request(head["prompts"][first[0]])
    return Reopened(stored.row, request, columns, store.rendered(run_id).get(first[0], {}), head)


def stored_document(store: RunStore, run_id: int) -> tuple[dict[str, Any], list[str]]:
    """A stored run as a result file (what ``history export`` writes), and notes on what it leaves out."""
    stored = store.run(run_id)
    head, plan = read_yaml(stored.head), read_yaml(stored.plan)
    outcomes = stored_outcomes(store, stored, plan, head)
    notes: list[str] = []
    stopped = [key for key, o in outcomes.items() if o.result.finish_reason == "cancelled"]
    if stopped:  # kept as they were cut: run --check generates them again to the token they were cut at
        notes.append(
            f"run {run_id}: {len(stopped)} column(s) were cut before their end (Stop or a time limit); "
            "they are kept as cut, and run --check generates them up to the token they were cut at"
        )
    kept = dict(outcomes)
    if stored.row.kind == "page" and kept:
        head = _page_head(head, [o.result for _, o in sorted(kept.items())])
    if len(kept) < stored.row.total:
        notes.append(
            f"run {run_id} is {stored.row.status}: the result holds {len(kept)} of {stored.row.total} generations"
        )
    return complete_document(head, [kept[key] for key in sorted(kept)], (), stored.row.keep), notes


def _page_head(head: dict[str, Any], results: Sequence[ColumnResult]) -> dict[str, Any]:
    """A page run's head with the seeds its columns drew, as ``save_comparison`` writes them down."""
    spec = dict(head["experiment"]["as_given"])
    seeds = sorted({r.seed for r in results})
    if "seed" in spec:
        spec["seed"] = results[0].seed
    return {**head, "experiment": {**head["experiment"], "as_given": plain(spec)}, "seeds": seeds[:1] or head["seeds"]}
