"""Running experiment files into result files, and writing the app's comparisons down as experiments.

``run_file`` is what ``samplerlab run`` and the app's Experiments tab both call, so their result
files agree apart from timings; ``stream_file`` runs it in a worker thread and hands each column
over as it finishes. ``save_comparison`` turns a comparison run in the app into an experiment
file plus its result, such that running the file again gives that result.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import importlib
import importlib.metadata
import itertools
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import llama_cpp

from .engine import Column, ColumnResult, Request
from .experiments import (EMBEDDED, Experiment, ExperimentError, load_experiment, model_path, opened_model,
                          parse_experiment, run_experiment)
from .models import Model, ModelError, embedded_model_path, file_sha256
from .params import RUN_LEVEL_KNOBS, Settings
from .presets import check_name, file_stem
from .results import FORMAT, Outcome, dump, plain, result_columns, seed_summaries, write_new

EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"
UNKNOWN = "unknown"


class ExperimentStopped(ExperimentError):
    """A run stopped before its end: no result file, since it would not reproduce."""


# -- the result document ------------------------------------------------------------------
def environment() -> dict[str, str]:
    """Versions that decide whether a result reproduces: samplerlab, llama-cpp-python, llama.cpp and ggml."""
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return UNKNOWN

    return {"samplerlab": version("samplerlab"), "llama_cpp_python": version("llama-cpp-python"),
            "llama_cpp": _c_string(lambda: llama_cpp.llama_version()), "ggml_commit": _c_string(_ggml_commit),
            "llama_cpp_system": _c_string(lambda: llama_cpp.llama_print_system_info()).strip(" |")}


def _c_string(read: Callable[[], Any]) -> str:
    """A version string from a C function this build may lack: 'unknown' then, never a crash."""
    try:
        value = read()
    except Exception:  # a missing symbol (AttributeError), library (OSError, ImportError) ...
        return UNKNOWN
    return value.decode("utf-8", "replace") if isinstance(value, bytes) and value else UNKNOWN


def _ggml_commit() -> bytes:
    """ggml's build commit, from the ggml library llama-cpp-python loaded."""
    function = importlib.import_module("llama_cpp._ggml").libggml.ggml_commit
    function.argtypes, function.restype = [], ctypes.c_char_p
    return function()


def result_document(experiment: Experiment, model: Model, outcomes: Sequence[Outcome],
                    overrides: Mapping[str, Any] | None = None,
                    date: datetime.datetime | None = None) -> dict[str, Any]:
    """A result file's content: the experiment as given, what it resolved to, the machine, and every column."""
    info = model.info
    records = result_columns(outcomes)
    document: dict[str, Any] = {
        "samplerlab_result": FORMAT,
        "date": (date or datetime.datetime.now(datetime.timezone.utc)).isoformat(timespec="seconds"),
        "experiment": {"file": experiment.source, "description": experiment.description,
                       "as_given": plain(dict(experiment.spec))},
        "overrides": plain(dict(overrides or {})),
        "model": {"spec": plain(experiment.model), "file_name": info.file_name, "file_size": info.file_size,
                  "sha256": file_sha256(model.path), "name": info.name, "quantization": info.quantization},
        "load": plain(dict(experiment.load)),
        "versions": environment(),
        "mode": experiment.mode, "system": experiment.system,
        "prompts": list(experiment.prompts), "seeds": list(experiment.seeds), "sweep": list(experiment.sweep),
        "columns": records,
    }
    if len(experiment.seeds) > 1:
        document["seed_summary"] = seed_summaries(records)
    return document


def result_path(experiment_path: str | Path, date: datetime.datetime) -> Path:
    """experiments/runs/<stem>-<UTC timestamp>.yaml beside the experiment, numbered if the second is taken."""
    source = Path(experiment_path)
    stem = f"{source.stem}-{date.astimezone(datetime.timezone.utc):%Y%m%dT%H%M%SZ}"
    candidates = (source.parent / "runs" / f"{stem}{'' if n == 1 else f'-{n}'}.yaml" for n in itertools.count(1))
    return next(path for path in candidates if not path.exists())


# -- running a file -------------------------------------------------------------------------
def same_model(model: Model, experiment: Experiment) -> bool:
    """Whether an open model is the file and load settings the experiment names, so it can be reused."""
    return (model.pointer is not None and model.load == experiment.load
            and model.path.resolve() == model_path(experiment.model).resolve())


@contextlib.contextmanager
def model_for(experiment: Experiment, loaded: Model | None = None) -> Iterator[Model]:
    """``loaded`` when it is the experiment's model, else the experiment's model opened for the run.

    A reused model is not locked here: the engine takes its lock for every batch, and the lock is
    not reentrant. A model opened beside ``loaded`` runs under ``loaded``'s lock instead, so the
    machine still generates one run at a time.
    """
    if loaded is not None and same_model(loaded, experiment):
        yield loaded
        return
    with loaded.lock if loaded is not None else contextlib.nullcontext():
        with opened_model(experiment.model, experiment.load) as opened:
            yield opened


def run_file(source: str | Path | Experiment, out: str | Path | None = None, max_tokens: int | None = None,
             model: str | None = None, on_done: Callable[[ColumnResult], None] | None = None,
             cancel: threading.Event | None = None, loaded: Model | None = None) -> tuple[dict[str, Any], Path]:
    """Run an experiment (a file, or one already loaded from its file) and write its result file.

    ``max_tokens`` and ``model`` override the file and are recorded as overrides; ``loaded`` is
    reused when it is the model the experiment names. The result file is never overwritten (checked
    before any token is generated), and a run stopped through ``cancel`` writes none.
    """
    experiment = source if isinstance(source, Experiment) else load_experiment(source)
    overrides = {key: value for key, value in (("max_tokens", max_tokens), ("model", model)) if value is not None}
    experiment = experiment.with_settings(max_tokens=max_tokens) if max_tokens is not None else experiment
    experiment = (experiment.with_model(model) if model else experiment).with_drawn_seeds()
    started = datetime.datetime.now(datetime.timezone.utc)
    target = Path(out) if out else result_path(experiment.source, started)
    if target.exists():
        raise FileExistsError(f"{target}: already exists; results are never overwritten (choose another --out)")
    with model_for(experiment, loaded) as opened:
        outcomes = run_experiment_to_end(opened, experiment, on_done, cancel)
        document = result_document(experiment, opened, outcomes, overrides, started)
    return document, write_new(target, dump(document))


def run_experiment_to_end(model: Model, experiment: Experiment, on_done: Callable[[ColumnResult], None] | None,
                          cancel: threading.Event | None) -> list[Outcome]:
    """Every column of the experiment, or ExperimentStopped if ``cancel`` cut the run short."""
    outcomes = run_experiment(model, experiment, on_done=on_done, cancel=cancel)
    finished = sum(o.result.finish_reason != "cancelled" for o in outcomes)
    if finished < experiment.runs:
        raise ExperimentStopped(f"{experiment.source}: stopped after {finished} of {experiment.runs} columns; "
                                "no result file is written (a stopped run does not reproduce)")
    return outcomes


@dataclass(frozen=True)
class Finished:
    """The end of a streamed run: the result document and where it was written."""

    document: dict[str, Any]
    path: Path


def stream_file(source: str | Path | Experiment, cancel: threading.Event,
                **options: Any) -> Iterator[ColumnResult | Finished]:
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
def model_spec(model: Model) -> str:
    """How an experiment file names an open model: 'embedded', or its absolute path."""
    try:
        embedded = embedded_model_path().resolve()
    except ModelError:
        embedded = None
    return EMBEDDED if model.path.resolve() == embedded else str(model.path.resolve())


def comparison_spec(request: Request, columns: Sequence[Column], model: Model) -> dict[str, Any]:
    """An app comparison as an experiment: its model and load settings, run-level values once (the
    first column's), and each column's own changes, run-level values included where they differ."""
    top = {name: columns[0].settings[name] for name in RUN_LEVEL_KNOBS}
    spec: dict[str, Any] = {"model": model_spec(model)}
    if model.load.changed():
        spec["load"] = plain(model.load.changed())
    spec.update(prompt=request.prompt, mode=request.mode)
    if request.system:
        spec["system"] = request.system
    spec.update(plain(top))
    spec["columns"] = [{"label": column.label, "settings": plain(_own_settings(column.settings, top))}
                       for column in columns]
    return spec


def _own_settings(settings: Settings, top: Mapping[str, Any]) -> dict[str, Any]:
    own = {name: value for name, value in settings.changed().items() if name not in RUN_LEVEL_KNOBS}
    return {**own, **{name: settings[name] for name in RUN_LEVEL_KNOBS if settings[name] != top[name]}}


def save_comparison(name: str, request: Request, results: Sequence[ColumnResult], model: Model,
                    directory: Path = EXPERIMENTS_DIR) -> tuple[Path, Path]:
    """Write an experiment file for a comparison the app ran, and a result file with its outputs.

    Running the experiment file with ``samplerlab run`` gives the same result file, timings aside:
    a seed of -1 is written as the seed drawn, and a comparison with a stopped column is refused.
    """
    name = check_name(name)
    if not results:
        raise ExperimentError("nothing to save: run a comparison first")
    stopped = next((r.label for r in results if r.finish_reason == "cancelled"), None)
    if stopped is not None:
        raise ExperimentError(f"column {stopped!r} was stopped before its end, so the comparison would not "
                              "reproduce; run it to the end to save it")
    columns = [Column(r.label, r.settings.replace(seed=r.seed)) for r in results]
    target = directory / f"{file_stem(name)}.yaml"
    text = dump({"description": f"Saved from the samplerlab app: {name}", **comparison_spec(request, columns, model)})
    experiment = parse_experiment(text, source=str(target), base_dir=directory)
    outcomes = [Outcome(0, request.prompt, result, None) for result in results]
    document = result_document(experiment, model, outcomes)
    written = write_new(target, text)
    return written, write_new(result_path(written, datetime.datetime.now(datetime.timezone.utc)), dump(document))
