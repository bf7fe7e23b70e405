"""Running experiment files into result files, and writing the app's comparisons down as experiments.

``run_file`` is what ``samplerlab run`` and the app's Experiments tab both call, so their result
files agree apart from timings; ``stream_file`` runs it in a worker thread and hands each column
over as it finishes. ``save_comparison`` turns a comparison run in the app into an experiment
file plus its result, such that running the file again gives that result.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends import Backend, check_independence
from ..chats.chat_files import Conversation, to_plain
from ..events import DEFAULT_POLICY, Column, ColumnResult, Independence, Request
from ..files.model_files import ModelError, embedded_model_path, resolve_model_path
from ..llama.versions import environment, machine
from ..presets.store import check_name, file_stem
from ..schema.params import RUN_LEVEL_KNOBS, Settings
from .experiments import EMBEDDED, Experiment, ExperimentError, load_experiment, parse_experiment
from .recording import Recorder
from .results import FORMAT, Outcome, dump, plain, result_columns, result_text, seed_summaries, write_new
from .runner import Key, opened_backend, run_experiment

EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent.parent / "experiments"


class ExperimentStopped(ExperimentError):
    """A run stopped before its end: no result file, since it would not reproduce."""


# -- the result document ------------------------------------------------------------------


def result_document(
    experiment: Experiment,
    backend: Backend,
    outcomes: Sequence[Outcome],
    overrides: Mapping[str, Any] | None = None,
    date: datetime.datetime | None = None,
    independence: Independence | None = None,
    notes: Sequence[str] = (),
    keep_candidates: int = 0,
) -> dict[str, Any]:
    """A result file's content: the experiment as given, what it resolved to, the machine, and every column."""
    head = document_head(experiment, backend, overrides, date, independence)
    return complete_document(head, outcomes, notes, keep_candidates)


def document_head(
    experiment: Experiment,
    backend: Backend,
    overrides: Mapping[str, Any] | None = None,
    date: datetime.datetime | None = None,
    independence: Independence | None = None,
) -> dict[str, Any]:
    """Everything a result file says before its columns: known when a run starts, so the run store keeps it
    from the first generation on and a resumed or exported run writes the very same."""
    info = backend.info
    sha256 = getattr(backend, "sha256", None)
    document: dict[str, Any] = {
        "samplerlab_result": FORMAT,
        "date": (date or datetime.datetime.now(datetime.timezone.utc)).isoformat(timespec="seconds"),
        "experiment": {
            "file": experiment.source,
            "description": experiment.description,
            "as_given": plain(dict(experiment.spec)),
        },
        "overrides": plain(dict(overrides or {})),
        "model": {
            "spec": plain(experiment.model),
            "file_name": info.file_name,
            "file_size": info.file_size,
            "sha256": sha256() if sha256 is not None else None,
            "name": info.name,
            "quantization": info.quantization,
        },
        "backend": backend_record(backend, independence),
        "load": plain(dict(experiment.load)),
        "versions": environment(),
        "mode": experiment.mode,
        "system": experiment.system,
        "prompts": list(experiment.prompts),
        "seeds": list(experiment.seeds),
        "sweep": list(experiment.sweep),
    }
    if info.kind == "local":  # a server's machine is the server's; its build is in the backend record
        document["machine"] = machine()
    if experiment.history:
        document.update(
            messages=to_plain(Conversation(experiment.history, experiment.source)),
            context_policy=experiment.context_policy,
        )
    if experiment.prefix:
        document["prefix"] = experiment.prefix
    return document


def complete_document(
    head: Mapping[str, Any], outcomes: Sequence[Outcome], notes: Sequence[str] = (), keep_candidates: int = 0
) -> dict[str, Any]:
    """``head`` with the columns of ``outcomes`` (in run order), the prompts as sent, notes and seed summaries."""
    records = result_columns(outcomes, keep_candidates)
    document = {**head, "rendered": rendered_prompts(outcomes), "columns": records}
    if notes:
        document["notes"] = list(notes)
    if len(head["seeds"]) > 1:
        document["seed_summary"] = seed_summaries(records)
    return document


def rendered_prompts(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Each prompt as the backend sent it (the rendered chat text, its tokens, what the context policy
    dropped), once per prompt: it is the same for every seed and column."""
    firsts = {o.prompt_index: o.rendered for o in reversed(outcomes) if o.rendered}
    return [{"prompt_index": index, **plain(dict(firsts[index]))} for index in sorted(firsts)]


def backend_record(backend: Backend, independence: Independence | None) -> dict[str, Any]:
    """Where the columns ran: the kind, the server URL(s) without credentials, its build and slots, and
    whether its columns were independent (the probe's verdict, when it ran)."""
    info = backend.info
    record: dict[str, Any] = {
        "kind": info.kind,
        "location": info.location,
        "llama_cpp_build": info.llama_cpp_build,
        "parallel": info.parallel,
        "context_per_column": info.context_per_column,
        "stage_tracing": info.traces_stages,
    }
    if independence is not None:
        record["independence"] = {
            "independent": independence.independent,
            "max_difference": float(f"{independence.max_difference:.5g}"),
        }
    return record


def result_path(experiment_path: str | Path, date: datetime.datetime) -> Path:
    """experiments/runs/<stem>-<UTC timestamp>.yaml beside the experiment, numbered if the second is taken."""
    source = Path(experiment_path)
    stem = f"{source.stem}-{date.astimezone(datetime.timezone.utc):%Y%m%dT%H%M%SZ}"
    candidates = (source.parent / "runs" / f"{stem}{'' if n == 1 else f'-{n}'}.yaml" for n in itertools.count(1))
    return next(path for path in candidates if not path.exists())


# -- running a file -------------------------------------------------------------------------
def same_backend(backend: Backend, experiment: Experiment) -> bool:
    """Whether an open backend is what the experiment names, so it can be reused."""
    spec = experiment.model
    if isinstance(spec, Mapping) and ("server" in spec or "servers" in spec):
        urls = [spec["server"]] if "server" in spec else spec["servers"]
        return backend.info.location.split() == [u.rstrip("/") for u in urls]
    model = getattr(backend, "model", None)
    if model is None or model.pointer is None or model.load != experiment.load:
        return False
    try:
        path = (
            resolve_model_path(None, spec["hf_repo"], spec["hf_file"])
            if isinstance(spec, Mapping)
            else resolve_model_path(spec)
        )
    except ModelError:
        return False
    return model.path.resolve() == path.resolve()


@contextlib.contextmanager
def backend_for(
    experiment: Experiment, loaded: Backend | None = None, servers: Sequence[str] = (), api_key: str | None = None
) -> Iterator[Backend]:
    """``loaded`` when it is the experiment's backend, else the experiment's backend opened for the run.

    A reused backend is not locked here: it takes its lock for every batch, and the lock is not
    reentrant. A model opened beside ``loaded`` runs under ``loaded``'s lock instead, so the
    machine still generates one run at a time.
    """
    if loaded is not None and (
        loaded.info.location.split() == list(servers) or not servers and same_backend(loaded, experiment)
    ):
        yield loaded
        return
    with loaded.lock if loaded is not None else contextlib.nullcontext():
        with opened_backend(experiment.model, experiment.load, servers, api_key) as opened:
            yield opened


def run_file(
    source: str | Path | Experiment,
    out: str | Path | None = None,
    max_tokens: int | None = None,
    model: str | None = None,
    on_done: Callable[[ColumnResult], None] | None = None,
    cancel: threading.Event | None = None,
    loaded: Backend | None = None,
    servers: Sequence[str] = (),
    api_key: str | None = None,
    keep_candidates: int = 0,
    recorder: Recorder | None = None,
) -> tuple[dict[str, Any], Path]:
    """Run an experiment (a file, or one already loaded from its file) and write its result file.

    ``max_tokens``, ``model`` and ``servers`` override the file and are recorded as overrides;
    ``loaded`` is reused when it is the backend the experiment names. The result file is never
    overwritten (checked before any token is generated), and a run stopped through ``cancel``
    writes none. On llama-servers the independence probe runs first and its verdict is recorded.
    ``recorder`` writes the run into the run store, each generation as it ends (``durable`` resumes it).
    """
    experiment = source if isinstance(source, Experiment) else load_experiment(source)
    overrides = {
        key: value
        for key, value in (("max_tokens", max_tokens), ("model", model), ("servers", list(servers) or None))
        if value is not None
    }
    experiment = experiment.with_settings(max_tokens=max_tokens) if max_tokens is not None else experiment
    experiment = (experiment.with_model(model) if model else experiment).with_drawn_seeds()
    started = datetime.datetime.now(datetime.timezone.utc)
    target = Path(out) if out else result_path(experiment.source, started)
    if target.exists():
        raise FileExistsError(f"{target}: already exists; results are never overwritten (choose another --out)")
    with backend_for(experiment, loaded, servers, api_key) as backend:
        independence = check_independence(backend) if backend.info.kind != "local" else None
        head = document_head(experiment, backend, overrides, started, independence)
        if recorder is not None:
            recorder.begin_experiment(experiment, head, target, keep_candidates)
        document = run_to_document(backend, experiment, head, recorder, {}, on_done, cancel, keep_candidates)
    return document, write_result(target, document, recorder)


def run_to_document(
    backend: Backend,
    experiment: Experiment,
    head: Mapping[str, Any],
    recorder: Recorder | None,
    done: Mapping[Key, Outcome],
    on_done: Callable[[ColumnResult], None] | None,
    cancel: threading.Event | None,
    keep_candidates: int = 0,
) -> dict[str, Any]:
    """The generations of the experiment not in ``done`` (a resumed run's), each handed to ``recorder`` as it
    ends; then the whole result document. ExperimentStopped if ``cancel`` cut the run short."""
    collected: dict[Key, Outcome] = dict(done)

    def ended(key: Key, outcome: Outcome) -> None:
        collected[key] = outcome
        if recorder is not None:
            recorder.add(key, outcome)

    with _recorded_status(recorder):
        run_experiment(backend, experiment, on_done=on_done, cancel=cancel, skip=set(done), on_outcome=ended)
        if len(collected) < experiment.runs:
            raise ExperimentStopped(
                f"{experiment.source}: stopped after {len(collected)} of {experiment.runs} columns; "
                "no result file is written (a stopped run does not reproduce)"
            )
    outcomes = [collected[key] for key in sorted(collected)]
    return complete_document(head, outcomes, getattr(backend, "notes", ()), keep_candidates)


@contextlib.contextmanager
def _recorded_status(recorder: Recorder | None) -> Iterator[None]:
    """A run that ends early is marked in the store: stopped (Stop, Ctrl-C) or failed; killed, it stays running."""
    try:
        yield
    except (ExperimentStopped, KeyboardInterrupt):
        if recorder is not None:
            recorder.finish("stopped")
        raise
    except BaseException:
        if recorder is not None:
            recorder.finish("failed")
        raise


def write_result(target: Path, document: Mapping[str, Any], recorder: Recorder | None) -> Path:
    written = write_new(target, result_text(document))
    if recorder is not None:
        recorder.finish("done", written)
    return written


@dataclass(frozen=True)
class Finished:
    """The end of a streamed run: the result document and where it was written."""

    document: dict[str, Any]
    path: Path


def stream_file(
    source: str | Path | Experiment, cancel: threading.Event, **options: Any
) -> Iterator[ColumnResult | Finished]:
    """``run_file`` in a worker thread: each column as it finishes, then ``Finished``.

    Errors of the run are raised here; closing the generator early stops the run between steps.
    """
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            events.put(Finished(*run_file(source, on_done=events.put, cancel=cancel, **options)))
        except BaseException as error:  # handed over to the consumer's thread
            events.put(error)

    worker = threading.Thread(target=work, name="samplerlab-experiment", daemon=True)
    worker.start()
    item: Any = None
    try:
        while not isinstance(item := events.get(), (Finished, BaseException)):
            yield item
    finally:
        if not isinstance(item, (Finished, BaseException)):
            cancel.set()  # the consumer left mid-run
        worker.join()
    if isinstance(item, BaseException):
        raise item
    yield item


# -- saving the app's comparisons ------------------------------------------------------------
def model_spec(backend: Backend) -> Any:
    """How an experiment file names an open backend: 'embedded', a model's absolute path, or its servers."""
    if backend.info.kind != "local":
        urls = backend.info.location.split()
        return {"server": urls[0]} if len(urls) == 1 else {"servers": urls}
    try:
        embedded = embedded_model_path().resolve()
    except ModelError:
        embedded = None
    path = Path(backend.info.location).resolve()
    return EMBEDDED if path == embedded else str(path)


def comparison_spec(request: Request, columns: Sequence[Column], backend: Backend) -> dict[str, Any]:
    """An app comparison as an experiment: its model and load settings, run-level values once (the
    first column's), and each column's own changes, run-level values included where they differ."""
    top = {name: columns[0].settings[name] for name in RUN_LEVEL_KNOBS}
    spec: dict[str, Any] = {"model": model_spec(backend)}
    load = getattr(backend, "load", None)
    if load is not None and load.changed():
        spec["load"] = plain(load.changed())
    spec.update({"prompt": request.prompt} if request.prompt else {}, mode=request.mode)
    if request.system:
        spec["system"] = request.system
    if request.prefix:
        spec["prefix"] = request.prefix
    if request.history:
        spec["messages"] = to_plain(Conversation(request.history, "comparison"))
        if request.context_policy != DEFAULT_POLICY:
            spec["context_policy"] = request.context_policy
    spec.update(plain(top))
    spec["columns"] = [
        {"label": column.label, "settings": plain(_own_settings(column.settings, top))} for column in columns
    ]
    return spec


def _own_settings(settings: Settings, top: Mapping[str, Any]) -> dict[str, Any]:
    own = {name: value for name, value in settings.changed().items() if name not in RUN_LEVEL_KNOBS}
    return {**own, **{name: settings[name] for name in RUN_LEVEL_KNOBS if settings[name] != top[name]}}


def save_comparison(
    name: str,
    request: Request,
    results: Sequence[ColumnResult],
    backend: Backend,
    directory: Path = EXPERIMENTS_DIR,
    rendered: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write an experiment file for a comparison the app ran, and a result file with its outputs.

    Running the experiment file with ``samplerlab run`` gives the same result file, timings aside:
    a seed of -1 is written as the seed drawn, and a comparison with a stopped column is refused.
    ``rendered`` is the prompt as the run sent it (``RunResult.rendered()``, ``LastRun.rendered``), which
    a rerun records too.
    """
    name = check_name(name)
    if not results:
        raise ExperimentError("nothing to save: run a comparison first")
    stopped = next((r.label for r in results if r.finish_reason == "cancelled"), None)
    if stopped is not None:
        raise ExperimentError(
            f"column {stopped!r} was stopped before its end, so the comparison would not "
            "reproduce; run it to the end to save it"
        )
    columns = [Column(r.label, r.settings.replace(seed=r.seed)) for r in results]
    target = directory / f"{file_stem(name)}.yaml"
    text = dump({"description": f"Saved from the samplerlab app: {name}", **comparison_spec(request, columns, backend)})
    experiment = parse_experiment(text, source=str(target), base_dir=directory)
    outcomes = [Outcome(0, request.prompt, result, None, rendered) for result in results]
    document = result_document(experiment, backend, outcomes)
    written = write_new(target, text)
    return written, write_new(result_path(written, datetime.datetime.now(datetime.timezone.utc)), result_text(document))
