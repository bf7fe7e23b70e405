"""How much faster is a sweep on more llama-servers? One sweep, on the first server and on all of them.

The sweep is what the evidence work runs: a few settings times many seeds of one prompt (4 x 16 =
64 generations by default), run as ``samplerlab run`` runs it (``run_experiment``: one job per
prompt, every slot of every server busy). End-of-generation is banned so every column runs to the
token count and both contenders do the same work. The two run in turns, fastest of ``repeat`` each,
so a noisy neighbour slows both alike; the ratio is of one run. The texts must come out the same
on one server and on all of them, or the speed is of nothing: the report says whether they did.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..backends import Backend, BackendError, open_backend
from ..backends.server import ServerBackend
from ..words.bench_words import bw, left
from .experiments import Experiment, parse_experiment
from .runner import run_experiment

PROMPT = "Write a short poem praising light-emitting diodes."
TEMPERATURES = (0.6, 0.9, 1.2, 1.5, 0.7, 1.0, 1.3, 1.6)


@dataclass(frozen=True)
class SweepBench:
    model: str
    settings: int
    seeds: int
    tokens: int
    contenders: tuple[tuple[str, int, float], ...]  # (servers, slots, fastest seconds)
    same_texts: int  # generations whose text is the same on every contender

    @property
    def generations(self) -> int:
        return self.settings * self.seeds

    def lines(self, lang: str = "en") -> list[str]:
        work = self.generations * self.tokens
        out = [
            bw("model", lang, model=self.model),
            bw(
                "sweep",
                lang,
                settings=self.settings,
                seeds=self.seeds,
                generations=self.generations,
                tokens=self.tokens,
            ),
        ]
        for location, slots, seconds in self.contenders:
            servers = len(location.split())
            name = bw("servers", lang, n=servers, s="s" if servers > 1 else "", slots=slots)
            out.append(
                f"{left(name, 22)} {seconds:8.3f} {'s' if lang == 'en' else '秒'}  {work / seconds:8.1f} tok/s  {location}"
            )
        first, last = self.contenders[0][2], self.contenders[-1][2]
        out.append(f"speedup={first / last:.3f} {bw('speedup_of', lang, n=len(self.contenders[-1][0].split()))}")
        out.append(bw("same_texts", lang, same=self.same_texts, total=self.generations))
        return out


def sweep(settings: int, seeds: int, tokens: int, banned: Sequence[int], chat: bool) -> Experiment:
    """``settings`` temperatures x ``seeds`` seeds of the bench prompt, ``tokens`` each, ``banned`` never drawn."""
    temperatures = ", ".join(str(TEMPERATURES[i % len(TEMPERATURES)]) for i in range(settings))
    text = (
        f"prompt: {PROMPT!r}\nmode: {'chat' if chat else 'raw'}\nseeds: {list(range(seeds))}\n"
        f"max_tokens: {tokens}\nsweep:\n  temperature: [{temperatures}]\n"
    )
    experiment = parse_experiment(text, "<sweep bench>")
    return experiment.with_settings(logit_bias={token: False for token in banned}) if banned else experiment


def end_tokens(backend: ServerBackend) -> list[int]:
    """The server's end-of-generation token, banned so every column runs to the same length."""
    eos = backend.props.get("eos_token")
    ids = backend.tokenize(eos, add_special=False) if isinstance(eos, str) and eos else []
    return ids[:1]


def bench_servers(
    urls: Sequence[str],
    api_key: str | None = None,
    settings: int = 4,
    seeds: int = 16,
    tokens: int = 64,
    repeat: int = 3,
) -> SweepBench:
    """The sweep on ``urls[0]`` alone and on every server of ``urls``, in turns."""
    urls = list(dict.fromkeys(urls))
    if len(urls) < 2:
        raise BackendError("bench-servers: give at least two servers (--server URL twice) to measure the speedup")
    one = ServerBackend(urls[0], api_key)
    with open_backend(servers=urls, api_key=api_key) as pool:
        experiment = sweep(settings, seeds, tokens, end_tokens(one), one.info.chat_template)
        contenders: list[Backend] = [one, pool]
        best = [float("inf")] * len(contenders)
        texts: list[list[str]] = [[] for _ in contenders]
        for _ in range(repeat):
            for i, backend in enumerate(contenders):
                started = time.perf_counter()
                outcomes = run_experiment(backend, experiment)
                best[i] = min(best[i], time.perf_counter() - started)
                texts[i] = [outcome.result.text for outcome in outcomes]
        same = sum(a == b for a, b in zip(texts[0], texts[1]))
        return SweepBench(
            f"{one.info.file_name}",
            settings,
            seeds,
            tokens,
            tuple((b.info.location, b.info.parallel, s) for b, s in zip(contenders, best)),
            same,
        )
