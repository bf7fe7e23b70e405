"""How fast is samplerlab, against what people build by hand and against the machine's limit?

On a local model, three contenders do the same work (N columns x T tokens, end-of-generation
banned so every column runs to T) at the same thread count:
- sequential: one ``Llama.create_completion`` call per column, as by hand today;
- bare loop: the columns decoded in one batch per step, numpy top-k sampling,
  nothing collected; the most this machine can do;
- samplerlab: the engine, collecting every token's probabilities and alternatives.

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

    def lines(self, lang: str = "en") -> list[str]:
        work = self.columns * self.tokens
        model = bw("model_on", lang, model=self.model, location=self.location) if self.location else self.model
        parallel = bw(self.parallel_label, lang)
        out = [
            bw("model", lang, model=model),
            bw("shape", lang, columns=self.columns, tokens=self.tokens, parallel=parallel, threads=self.threads),
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


def run_benchmark(backend: Backend, columns: int, tokens: int, repeat: int = 3) -> BenchReport:
    model = getattr(backend, "model", None)
    return (
        _local_benchmark(model, columns, tokens, repeat)
        if model is not None
        else _server_benchmark(backend, columns, tokens, repeat)
    )


def _server_benchmark(backend: Backend, columns: int, tokens: int, repeat: int) -> BenchReport:
    """N columns at once against the same N one after another, on the same server."""
    request = bench_request(backend.info.chat_template)
    settings = [
        Settings(
            {
                "temperature": TEMPERATURES[i % len(TEMPERATURES)],
                "seed": i,
                "max_tokens": tokens,
                "logit_bias": {token: False for token in _server_end_tokens(backend)},
            }
        )
        for i in range(columns)
    ]
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
    )


def _server_end_tokens(backend: Backend) -> list[int]:
    """The server's end-of-generation tokens, banned so every column runs to the same length."""
    from ..backends.server import ServerBackend

    if not isinstance(backend, ServerBackend):  # a pool has no one server's props: none banned
        return []
    eos = backend.props.get("eos_token")
    ids = backend.tokenize(eos, add_special=False) if isinstance(eos, str) and eos else []
    return ids[:1]


def _local_benchmark(model: Model, columns: int, tokens: int, repeat: int = 3) -> BenchReport:
    text = prompt_text(model, bench_request(model.info.chat_template))
    banned = {token: False for token in end_tokens(model)}
    settings = [
        Settings(
            {
                "samplers": "llama-cpp-python",
                "penalize_prompt": False,
                "temperature": TEMPERATURES[i % len(TEMPERATURES)],
                "seed": i,
                "max_tokens": tokens,
                "logit_bias": banned,
            }
        )
        for i in range(columns)
    ]
    seconds = best_times(
        {
            "sequential create_completion": _sequential(model, text, settings),
            "bare batched loop": lambda: _bare_loop(model, text, columns, tokens),
            "samplerlab": lambda: run(model, Request(text, "raw"), [Column(str(i), s) for i, s in enumerate(settings)]),
        },
        repeat,
    )
    shared = ", ".join(
        f"{name}={str(model.load.get(name)).lower()}" for name in ("repack", "flash_attn", "n_gpu_layers")
    )
    return BenchReport(columns, tokens, model.n_threads, model.info.file_name, seconds, loaded_with=shared)


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
