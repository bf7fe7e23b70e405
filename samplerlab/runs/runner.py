"""Running experiments on a backend: a plan of jobs, one runner, result records.

A job is one prompt and seed with a batch of columns; consecutive jobs of one prompt run together
(``merged``) up to what one ``generate`` takes: 8 columns locally; on llama-servers a whole prompt's
columns x seeds, which the backend spreads over every slot of every server (``backends.slots``). Running a file,
re-running a result file (``check_result``) and the app's Experiments tab all go through here,
whichever backend generates the columns.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..backends import Backend, BackendError, open_backend
from ..chats.chat_files import parse_messages
from ..events import DEFAULT_POLICY, ChatError, Column, ColumnDone, ColumnResult, Request, rendered_record
from ..llama.machine import kernel_family
from ..llama.versions import UNKNOWN, system_info, version
from ..schema.load_settings import LoadSettings
from ..schema.params import Settings
from .experiments import Experiment, ExperimentError, PlannedColumn, model_spec_kind
from .results import CheckReport, Outcome, ResultError, first_difference

LOCAL_BATCH = 64  # the local engine's most columns per run on a CPU (a GPU may take up to 256)
MOST_AT_ONCE = 256  # llama.cpp's most sequences in one context
SERVER_BATCH = 64  # columns sent to a server (or pool) per job


@dataclass(frozen=True)
class Run:
    """One generation of a plan: a column on a seed, with its key in the run store."""

    seed_index: int
    seed: int
    column_index: int
    column: PlannedColumn


@dataclass(frozen=True)
class Job:
    """One prompt, and one batch of its runs: every column on every seed, so that a run of S seeds fills
    the backend's batch with columns x seeds instead of running S batches of a few columns."""

    prompt_index: int
    prompt: str
    runs: tuple[Run, ...]

    def key(self, run: Run) -> Key:
        return (self.prompt_index, run.seed_index, run.column_index)


Key = tuple[int, int, int]  # (prompt index, seed index, column index): one generation of a run


def batch_size(backend: Backend) -> int:
    """Columns per job: all a local model runs at once (64 on a CPU, as memory allows on a GPU); a
    llama-server backend takes all of a prompt's columns x seeds (its ``max_columns``) and starts each as a
    slot frees."""
    most = getattr(backend, "max_columns", None)
    if isinstance(most, int) and most > 0:
        return most
    most = MOST_AT_ONCE if backend.info.kind == "local" else SERVER_BATCH
    return max(1, min(backend.info.parallel, most))


def plan(experiment: Experiment, batch: int, skip: Collection[Key] = ()) -> list[Job]:
    """Per prompt, every seed x column not in ``skip`` (done before a run was killed), cut into batches of
    ``batch`` in the order results are recorded (prompt, then seed, then column). Each column carries its
    own seed, and a column's text does not depend on what runs beside it, so seeds share a batch as columns do."""
    jobs = []
    for prompt_index, prompt in enumerate(experiment.prompts):
        runs = [
            Run(seed_index, seed, column_index, column)
            for seed_index, seed in enumerate(experiment.seeds)
            for column_index, column in enumerate(experiment.columns)
            if (prompt_index, seed_index, column_index) not in skip
        ]
        jobs += [Job(prompt_index, prompt, tuple(runs[start : start + batch])) for start in range(0, len(runs), batch)]
    return jobs


def run_columns(
    backend: Backend,
    request: Request,
    columns: Sequence[Column],
    *,
    batch: int | None = None,
    on_done: Callable[[ColumnResult], None] | None = None,
    cancel=None,
    info: dict | None = None,
    on_placed: Callable[[int, ColumnResult], None] | None = None,
) -> list[ColumnResult]:
    """Any number of columns, generated ``batch`` at a time; once ``cancel`` is set no further batch starts.

    ``info`` receives what the backend reports of the prompt (its text, tokens, the context policy's outcome);
    ``on_placed`` each finished column with its place in ``columns``, as it ends."""
    batch = batch or batch_size(backend)
    results: list[ColumnResult] = []
    for start in range(0, len(columns), batch):
        if cancel is not None and cancel.is_set():
            break
        finished: dict[int, ColumnResult] = {}
        for event in backend.generate(request, columns[start : start + batch], cancel, info):
            if isinstance(event, ColumnDone):
                finished[event.column] = event.result
                if on_done is not None:
                    on_done(event.result)
                if on_placed is not None:
                    on_placed(start + event.column, event.result)
        results += [finished[i] for i in sorted(finished)]
    return results


def run_experiment(
    backend: Backend,
    experiment: Experiment,
    on_done: Callable[[Any], None] | None = None,
    cancel: threading.Event | None = None,
    batch: int | None = None,
    skip: Collection[Key] = (),
    on_outcome: Callable[[Key, Outcome], None] | None = None,
) -> list[Outcome]:
    """Every job of the plan; a seed of -1 is drawn once for the whole run, so every column shares it.

    ``cancel`` ends the run between steps and no further job starts: the outcomes are then fewer,
    or cancelled. ``skip`` leaves out generations already done; ``on_outcome`` receives each finished
    (not cancelled) generation with its key the moment it ends, which is when the run store commits it.
    """
    experiment = experiment.with_drawn_seeds()
    _refuse(backend, experiment.columns)
    outcomes: list[Outcome] = []
    for job in plan(experiment, batch or batch_size(backend), skip):
        if cancel is not None and cancel.is_set():
            break
        info: dict[str, Any] = {}
        results = run_columns(
            backend,
            experiment.request(job.prompt),
            [run.column.for_seed(run.seed) for run in job.runs],
            cancel=cancel,
            info=info,
            on_placed=_keyed(job, info, on_done, on_outcome),
        )
        rendered = rendered_record(info)
        outcomes += [
            Outcome(job.prompt_index, job.prompt, result, run.column.sweep, rendered)
            for run, result in zip(job.runs, results)
        ]
    return outcomes


def _keyed(
    job: Job,
    info: Mapping[str, Any],
    on_done: Callable[[Any], None] | None,
    on_outcome: Callable[[Key, Outcome], None] | None,
) -> Callable[[int, ColumnResult], None]:
    """``on_placed`` for one job: hands a finished column (by its place in the batch) to ``on_outcome``
    under its key, then to ``on_done``."""

    def finished(place: int, result: ColumnResult) -> None:
        if on_outcome is not None and result.finish_reason != "cancelled":
            run = job.runs[place]
            outcome = Outcome(job.prompt_index, job.prompt, result, run.column.sweep, rendered_record(info))
            on_outcome(job.key(run), outcome)
        if on_done is not None:
            on_done(result)

    return finished


def _refuse(backend: Backend, columns: Sequence[PlannedColumn]) -> None:
    """Every column the backend cannot run, refused before any token is generated."""
    for column in columns:
        refusal = backend.refuse(column.settings)
        if refusal is not None:
            raise ExperimentError(f"column {column.label!r}: {refusal} ({backend.info.location})")


# -- opening the backend an experiment or result file names ---------------------------------
@contextlib.contextmanager
def opened_backend(
    model: Any, load: LoadSettings, servers: Sequence[str] = (), api_key: str | None = None
) -> Iterator[Backend]:
    """The backend a file names ('embedded', a path, {hf_repo, hf_file}, {server: URL} or
    {servers: [...]}), or ``servers`` given on the command line instead; closed after the run."""
    kind = model_spec_kind(model)
    if servers or kind == "server":
        urls = list(servers) or _urls(model)
        backend = open_backend(servers=urls, api_key=api_key)
    elif isinstance(model, Mapping):
        backend = open_backend(None, model["hf_repo"], model["hf_file"], load)
    else:
        backend = open_backend(model, load=load)
    with backend:
        yield backend


def _urls(model: Mapping[str, Any]) -> list[str]:
    return [model["server"]] if "server" in model else list(model["servers"])


# -- reproducing a result file ----------------------------------------------------------------
def _groups(records: Sequence[Mapping[str, Any]], batch: int) -> list[list[int]]:
    """Record indices grouped as they can be generated together: one prompt per run, any seeds."""
    groups: list[list[int]] = []
    for index, record in enumerate(records):
        previous = records[groups[-1][0]] if groups else None
        if previous is None or previous.get("prompt") != record.get("prompt") or len(groups[-1]) == batch:
            groups.append([])
        groups[-1].append(index)
    return groups


def same_model_file(backend: Backend, document: Mapping[str, Any]) -> str | None:
    """Why the backend's model is not the recorded one, or None."""
    recorded = document.get("model") or {}
    sha256 = getattr(backend, "sha256", None)
    if recorded.get("sha256") and sha256 is not None and recorded["sha256"] != sha256():
        return (
            f"the model file differs from the recorded one ({backend.info.file_name}: "
            f"sha256 {recorded['sha256'][:12]}... recorded)"
        )
    if recorded.get("file_name") and recorded["file_name"] != backend.info.file_name:
        return (
            f"the model differs from the recorded one ({recorded['file_name']} recorded, {backend.info.file_name} now)"
        )
    return None


def recorded_request(document: Mapping[str, Any], prompt: str) -> Request:
    """The request a result file records for ``prompt``: its mode, system prompt, conversation and policy."""
    messages = document.get("messages")
    try:
        history = parse_messages(messages, "result").messages if messages else ()
    except ChatError as error:
        raise ResultError(str(error)) from None
    return Request(
        prompt,
        document["mode"],
        document.get("system"),
        history,
        document.get("context_policy", DEFAULT_POLICY),
        document.get("prefix") or "",
    )


def _rendered_difference(document: Mapping[str, Any], prompt_index: int, info: Mapping[str, Any]) -> str | None:
    """Where the prompt as sent departs from the recorded one (another chat template, another policy outcome)."""
    recorded: Mapping[str, Any] = next(
        (r for r in document.get("rendered") or () if r.get("prompt_index") == prompt_index), {}
    )
    for key in ("prompt_text", "context"):
        if key in recorded and recorded[key] != info.get(key):
            return f"prompt {prompt_index}: the {key.replace('_', ' ')} sent differs from the recorded one"
    return None


def other_machine(backend: Backend, document: Mapping[str, Any]) -> str | None:
    """Why this machine may compute other texts than the recorded one: another llama.cpp build or
    another kind of kernels (AVX2, AVX-512, AMX, a GPU). None when they agree or cannot be told."""
    if backend.info.kind != "local" or (document.get("backend") or {}).get("kind", "local") != "local":
        return None
    versions = document.get("versions") or {}
    recorded = (document.get("machine") or {}).get("kernels") or (
        kernel_family(versions["llama_cpp_system"]) if isinstance(versions.get("llama_cpp_system"), str) else None
    )
    here = kernel_family(system_info())
    if recorded and recorded != here:
        return f"recorded on {recorded} kernels, this machine runs {here}: llama.cpp's arithmetic differs, so texts can part"
    build, this_build = versions.get("llama_cpp_python"), version("llama-cpp-python")
    if build and build != UNKNOWN and this_build != UNKNOWN and build != this_build:
        return f"recorded with llama-cpp-python {build}, this is {this_build}: another llama.cpp computes other texts"
    return None


def check_result(backend: Backend, document: Mapping[str, Any]) -> CheckReport:
    """Run every recorded column again from its recorded settings and compare token by token."""
    records = document["columns"]
    different = same_model_file(backend, document)
    if different is not None:
        return CheckReport(len(records), different)
    report = _check_columns(backend, document, records)
    machine = other_machine(backend, document)
    return report if machine is None else CheckReport(report.columns, report.mismatch, machine, report.cut)


def _check_columns(backend: Backend, document: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> CheckReport:
    try:
        columns = [_checked_column(i, r) for i, r in enumerate(records)]
        cut = [i for i, r in enumerate(records) if r["finish_reason"] == "cancelled"]
    except (KeyError, TypeError) as error:
        raise ResultError(f"columns: a record lacks {error}; not a samplerlab result") from None
    empty = [i for i in cut if not records[i]["tokens"]]  # cut before its first token: nothing to generate
    for index in empty:
        if records[index]["text"]:
            return CheckReport(len(records), f"column {records[index]['label']!r} was cut before its first token "
                               f"but records text {records[index]['text'][:20]!r}")  # fmt: skip
    wanted = [i for i in range(len(records)) if i not in empty]
    for group in _groups([records[i] for i in wanted], batch_size(backend)):
        group = [wanted[i] for i in group]
        request = recorded_request(document, records[group[0]]["prompt"])
        info: dict[str, Any] = {}
        fresh = run_columns(backend, request, [columns[i] for i in group], info=info)
        changed = _rendered_difference(document, records[group[0]].get("prompt_index", 0), info)
        if changed is not None:
            return CheckReport(len(records), changed)
        for index, column in zip(group, fresh):
            difference = first_difference(records[index], column)
            if difference is not None:
                record = records[index]
                return CheckReport(
                    len(records),
                    f"column {record['label']!r} (prompt {record.get('prompt_index', 0)}, "
                    f"seed {record['seed']}) differs at {difference}",
                )
    return CheckReport(len(records), cut=len(cut))


def _checked_column(index: int, record: Mapping[str, Any]) -> Column:
    """A record's column as it is generated again: a column cut before its end ('cancelled') runs to the
    token it was cut at, where it must end by length (``first_difference``)."""
    settings = Settings(record["settings"], source=f"columns[{index}].settings")
    if record["finish_reason"] == "cancelled" and record["tokens"]:
        settings = settings.replace(max_tokens=len(record["tokens"]))
    return Column(record["label"], settings)


__all__ = ["BackendError", "Job", "check_result", "opened_backend", "plan", "run_columns", "run_experiment"]
