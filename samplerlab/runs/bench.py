"""How fast is samplerlab, against what people build by hand and against the machine's limit?

On a local model, three contenders do the same work (N columns x T tokens, end-of-generation
banned so every column runs to T) at the same thread count:
- sequential: one ``Llama.create_completion`` call per column, as by hand today;
- bare loop: the columns decoded in one batch per step, numpy top-k sampling,
  nothing collected; the most this machine can do;
- samplerlab: the engine, collecting every token's probabilities and alternatives.

The columns are N settings each on its own seed, or (``settings``) a sweep as the evidence work
runs it: S settings x N/S seeds (4 x 16 = 64), which samplerlab runs the way ``samplerlab run``
generates an experiment (``run_experiment``: one job of every setting on every seed).

On a llama-server, samplerlab's N columns sent at once (its slots batch them) race the same N
columns sent one after another, as people script it by hand today.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..backends import Backend
from ..events import Column, Request, collect
from ..llama.baselines import _bare_loop, completion_llama
from ..llama.engine import prompt_text, run
from ..llama.models import Model
from ..schema.params import Settings
from ..words.bench_words import bw, left
from .experiments import Experiment, parse_experiment
from .results import dump
from .runner import run_experiment

PROMPT = "Write a short poem praising light-emitting diodes."
TEMPERATURES = (0.7, 0.9, 1.1, 1.3, 0.5, 1.5, 0.8, 1.0)


@dataclass
class BenchReport:
    columns: int
    tokens: int
    threads: int
    model: str
    seconds: dict[str, float]
    parallel_label: str = "threads"  # a server runs its slots in parallel, not threads we set
    loaded_with: str = ""  # the load settings every local contender shares
    location: str = ""  # a server's URL
    settings: int | None = None  # a sweep of this many settings x columns/settings seeds

    def lines(self, lang: str = "en") -> list[str]:
        work = self.columns * self.tokens
        model = bw("model_on", lang, model=self.model, location=self.location) if self.location else self.model
        parallel = bw(self.parallel_label, lang)
        grid = bw("grid", lang, settings=self.settings, seeds=self.columns // self.settings) if self.settings else ""
        out = [
            bw("model", lang, model=model),
            bw(
                "shape",
                lang,
                columns=f"{self.columns}{grid}",
                tokens=self.tokens,
                parallel=parallel,
                threads=self.threads,
            ),
        ]
        if self.loaded_with:
            out.append(bw("loaded_with", lang, load=self.loaded_with))
        for name, seconds in self.seconds.items():
            out.append(f"{left(bw(name, lang), 30)} {bw('seconds', lang, seconds=seconds, tps=work / seconds)}")
        if "bare batched loop" in self.seconds:
            out.append(f"overhead={self.seconds['samplerlab'] / self.seconds['bare batched loop']:.3f}")
            out.append(f"ratio={self.seconds['samplerlab'] / self.seconds['sequential create_completion']:.3f}")
        else:
            out.append(f"ratio={self.seconds[CONCURRENT] / self.seconds[SEQUENTIAL]:.3f}")
        return out


SEQUENTIAL = "one column after another"
CONCURRENT = "samplerlab (all at once)"


def end_tokens(model: Model) -> list[int]:
    return [t for t in range(model.n_vocab) if model.is_end(t)]


def best_times(actions: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Fastest of ``repeat`` runs each, taken in turns so that a noisy neighbour hurts all alike."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeat):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - started)
    return {name: min(values) for name, values in times.items()}


def bench_request(chat_template: bool) -> Request:
    """The benchmark prompt, chat-rendered when the model has a template, else raw: a base model
    without one must still be benchmarked (what is timed is generation, not the template)."""
    return Request(PROMPT, "chat" if chat_template else "raw")


def run_benchmark(
    backend: Backend, columns: int, tokens: int, repeat: int = 3, settings: int | None = None
) -> BenchReport:
    """``columns`` columns of ``tokens`` tokens; with ``settings``, a sweep of that many settings x
    ``columns // settings`` seeds (``columns`` must be a multiple of it)."""
    if settings is not None and not 1 <= settings <= len(TEMPERATURES):
        raise ValueError(f"bench: --settings {settings} is out of range; expected 1 to {len(TEMPERATURES)}")
    if settings is not None and columns % settings:
        raise ValueError(f"bench: {columns} columns are not {settings} settings x a whole number of seeds")
    model = getattr(backend, "model", None)
    return (
        _local_benchmark(backend, model, columns, tokens, repeat, settings)
        if model is not None
        else _server_benchmark(backend, columns, tokens, repeat, settings)
    )


def bench_columns(columns: int | None, settings: int | None, seeds: int | None) -> int:
    """The columns of ``samplerlab bench``: --columns N, or --settings S with --seeds K (S x K); never both."""
    if (settings is None) != (seeds is None):
        raise ValueError("bench: --settings and --seeds go together (--settings 4 --seeds 16 is a sweep of 64 columns)")
    if settings is None or seeds is None:
        return 4 if columns is None else columns
    if columns is not None:
        raise ValueError("bench: give --columns, or --settings with --seeds, not both")
    if settings * seeds > 256:
        raise ValueError(f"bench: --settings {settings} x --seeds {seeds} is {settings * seeds} columns; at most 256")
    return settings * seeds


def column_values(columns: int, tokens: int, settings: int | None) -> list[dict]:
    """Each column's temperature, seed and length: a temperature and seed of its own, or (``settings``)
    setting ``i % settings`` on seed ``i // settings``, as ``runner.plan`` orders a sweep (seed, then column)."""
    if settings is None:
        return [
            {"temperature": TEMPERATURES[i % len(TEMPERATURES)], "seed": i, "max_tokens": tokens}
            for i in range(columns)
        ]
    return [
        {"temperature": TEMPERATURES[i % settings], "seed": i // settings, "max_tokens": tokens} for i in range(columns)
    ]


def _server_benchmark(backend: Backend, columns: int, tokens: int, repeat: int, grid: int | None = None) -> BenchReport:
    """N columns at once against the same N one after another, on the same server."""
    request = bench_request(backend.info.chat_template)
    banned = {token: False for token in _server_end_tokens(backend)}
    settings = [Settings({**values, "logit_bias": banned}) for values in column_values(columns, tokens, grid)]
    listed = [Column(str(i), s) for i, s in enumerate(settings)]
    seconds = best_times(
        {
            SEQUENTIAL: lambda: [collect(backend.generate(request, [column]), 1) for column in listed],
            CONCURRENT: lambda: collect(backend.generate(request, listed), columns),
        },
        repeat,
    )
    return BenchReport(
        columns,
        tokens,
        backend.info.parallel,
        backend.info.file_name,
        seconds,
        "server slots",
        location=backend.info.location,
        settings=grid,
    )


def _server_end_tokens(backend: Backend) -> list[int]:
    """The server's end-of-generation tokens, banned so every column runs to the same length."""
    from ..backends.server import ServerBackend

    if not isinstance(backend, ServerBackend):  # a pool has no one server's props: none banned
        return []
    eos = backend.props.get("eos_token")
    ids = backend.tokenize(eos, add_special=False) if isinstance(eos, str) and eos else []
    return ids[:1]


# the chain create_completion runs, so that the sequential contender does the same work
SAME_CHAIN = {"samplers": "llama-cpp-python", "penalize_prompt": False}


def _local_benchmark(
    backend: Backend, model: Model, columns: int, tokens: int, repeat: int = 3, grid: int | None = None
) -> BenchReport:
    """``backend`` is the local one holding ``model``: a sweep runs on it as ``samplerlab run`` would."""
    text = prompt_text(model, bench_request(model.info.chat_template))
    banned = {token: False for token in end_tokens(model)}
    values = column_values(columns, tokens, grid)
    settings = [Settings({**SAME_CHAIN, **v, "logit_bias": banned}) for v in values]
    if grid is None:
        ours: Callable[[], object] = lambda: run(  # noqa: E731
            model, Request(text, "raw"), [Column(str(i), s) for i, s in enumerate(settings)]
        )
    else:
        experiment = sweep_experiment(text, values[:grid], columns // grid, banned)
        ours = lambda: run_experiment(backend, experiment)  # noqa: E731
    seconds = best_times(
        {
            "sequential create_completion": _sequential(model, text, settings),
            "bare batched loop": lambda: _bare_loop(model, text, columns, tokens),
            "samplerlab": ours,
        },
        repeat,
    )
    shared = ", ".join(
        f"{name}={str(model.load.get(name)).lower()}" for name in ("repack", "flash_attn", "n_gpu_layers")
    )
    return BenchReport(
        columns, tokens, model.n_threads, model.info.file_name, seconds, loaded_with=shared, settings=grid
    )


def sweep_experiment(text: str, values: list[dict], seeds: int, banned: dict[int, bool]) -> Experiment:
    """An experiment of one raw prompt: a column per setting in ``values`` (their seeds aside), on seeds
    0 to ``seeds - 1``, end of generation banned."""
    columns = [
        {"label": f"temperature {v['temperature']}", "settings": {**SAME_CHAIN, "temperature": v["temperature"]}}
        for v in values
    ]
    spec = {
        "prompt": text,
        "mode": "raw",
        "seeds": list(range(seeds)),
        "max_tokens": values[0]["max_tokens"],
        "columns": columns,
    }
    return parse_experiment(dump(spec), "<bench sweep>").with_settings(logit_bias=banned)


def _sequential(model: Model, text: str, settings: list[Settings]) -> Callable[[], None]:
    llama = completion_llama(model)

    def action() -> None:
        for s in settings:
            bias = {token: -float("inf") for token in s.logit_bias}
            llama.create_completion(
                text,
                max_tokens=s.max_tokens,
                temperature=s.temperature,
                top_k=s.top_k,
                top_p=s.top_p,
                min_p=s.min_p,
                seed=s.seed,
                logit_bias=bias,
            )

    return action
