"""The scale benchmarks of a local model: a re-run's time to first token, and a 64-column run's memory.

- Re-run: a long conversation (about 1,500 tokens) run once from scratch and then again; the
  second reuses the evaluated prompt (``llama.prompt_reuse``), so its first token comes at once.
- Memory: the peak resident memory of a child process running N columns x T tokens, with each
  stream sized by the columns' own needs (``kv_plan``) against the old rule (n_ctx per column),
  and the KV cache llama.cpp allocates for each (``llama.memory_child``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass

from ..backends import Backend, BackendError
from ..events import Column, GenerationError, Message, Request, TokenEvent
from ..llama.engine import generate
from ..llama.models import Model
from ..llama.prompt_reuse import CONTEXTS
from ..schema.params import Settings
from ..words.bench_words import bw, left

TURN = (
    "Tell me more about the lighthouse keeper's logbook: the storms he wrote down, the ships that "
    "passed in the night, the lamp oil he counted every evening and the letters he never sent."
)
REPLY = (
    "The logbook is written in a small, careful hand. Each evening begins with the weather, the "
    "height of the swell and the oil in the tank, then a line about every ship that passed."
)


def conversation(model: Model, tokens: int = 1500) -> Request:
    """A chat of about ``tokens`` tokens (turns appended until the rendered prompt reaches it)."""
    history: list[Message] = []
    while True:
        history += [Message("user", f"{len(history) // 2 + 1}. {TURN}"), Message("assistant", REPLY)]
        rendered = model.chat_prompt([{"role": m.role, "content": m.content} for m in history])
        if len(model.tokenize(rendered, False)) >= tokens:
            return Request("And what did he write on the last page?", history=tuple(history))


def first_token_seconds(model: Model, request: Request, columns: list[Column]) -> tuple[float, dict]:
    """Seconds from asking to the first token of any column, and the run's info; the run is then stopped."""
    info: dict = {}
    started = time.perf_counter()
    events = generate(model, request, columns, None, info)  # a generator: closing it ends the run
    try:
        for event in events:
            if isinstance(event, TokenEvent):
                return time.perf_counter() - started, info
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    raise GenerationError("the run ended without a token")


@dataclass
class RerunReport:
    prompt_tokens: int
    first: float
    rerun: float
    reused: bool

    def lines(self, lang: str = "en") -> list[str]:
        return [
            bw("rerun_head", lang, n=self.prompt_tokens),
            bw("first_run", lang, seconds=self.first),
            bw("re_run", lang, seconds=self.rerun, reused=str(self.reused).lower()),
            f"rerun_ratio={self.rerun / self.first:.3f}",
        ]


def rerun_benchmark(model: Model, columns: int = 4, repeat: int = 3, tokens: int = 1500) -> RerunReport:
    """Best of ``repeat`` first runs (the held prompt forgotten before each) and re-runs, in turns."""
    request = conversation(model, tokens)
    listed = [Column(str(i), Settings({"seed": i, "max_tokens": 8})) for i in range(columns)]
    firsts: list[float] = []
    reruns: list[float] = []
    info: dict = {}
    reused = True
    for _ in range(repeat):
        CONTEXTS.forget(model)
        seconds, info = first_token_seconds(model, request, listed)
        firsts.append(seconds)
        seconds, again = first_token_seconds(model, request, listed)
        reruns.append(seconds)
        reused = reused and bool(again.get("prompt_reused"))
    return RerunReport(info["prompt_tokens"], min(firsts), min(reruns), reused)


@dataclass
class MemoryReport:
    columns: int
    tokens: int
    n_ctx: int
    runs: dict[str, dict]  # rule -> the child's report: cells per column, KV MiB, peak RSS MiB

    def lines(self, lang: str = "en") -> list[str]:
        out = [bw("memory_head", lang, columns=self.columns, tokens=self.tokens, n_ctx=self.n_ctx)]
        for rule, run in self.runs.items():
            row = bw("memory_row", lang, cells=run["cells"], kv=run["kv_mib"], rss=run["peak_rss_mib"])
            out.append(f"{left(bw(rule, lang), 34)} {row}")
        old, new = self.runs["before: n_ctx per column"], self.runs["after: each column's own needs"]
        out.append(f"peak_ratio={new['peak_rss_mib'] / old['peak_rss_mib']:.3f}")
        return out


def memory_benchmark(model: Model, columns: int = 64, tokens: int = 128) -> MemoryReport:
    """One child per rule, so that each peak is its own (a process's peak never goes down)."""
    runs = {
        "before: n_ctx per column": _child(model, columns, tokens, "n_ctx"),
        "after: each column's own needs": _child(model, columns, tokens, "needs"),
    }
    return MemoryReport(columns, tokens, model.load.n_ctx, runs)


def _child(model: Model, columns: int, tokens: int, rule: str) -> dict:
    command = [sys.executable, "-m", "samplerlab.llama.memory_child", str(model.path), str(columns), str(tokens), rule]
    command.append(json.dumps(dict(model.load.items())))
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise GenerationError(f"the memory child failed ({rule}): {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scale_benchmark(backend: Backend, what: str, columns: int, tokens: int, repeat: int, lang: str = "en") -> list[str]:
    """``what`` is 'rerun' or 'memory'; both measure the local engine, so a server is refused."""
    model = getattr(backend, "model", None)
    if model is None:
        raise BackendError(f"--{what} measures the local engine; drop --server")
    if what == "rerun":
        return rerun_benchmark(model, columns, repeat).lines(lang)
    return memory_benchmark(model, columns, tokens).lines(lang)
