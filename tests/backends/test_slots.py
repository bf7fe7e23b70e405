"""Many columns over the slots of one or several llama-servers (samplerlab/backends/slots.py).

Against real llama-servers: a sweep over two servers writes the texts of the same columns run one
at a time on one server, and a server killed mid-sweep has its columns finished by the other.
Against the hostile fake (tests/backends/hostile.py), for what a real server cannot be made to do
on cue: hold a request until its neighbours arrive, send garbage, hang, refuse.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from samplerlab.backends import BackendError, check_independence, open_backend
from samplerlab.backends import pool as pool_module
from samplerlab.backends.server import ServerBackend
from samplerlab.events import Column, ColumnDone, Request, TokenEvent, collect
from samplerlab.runs.experiments import parse_experiment
from samplerlab.runs.runner import plan, run_experiment
from samplerlab.schema.params import Settings
from samplerlab.words.errors_ja import localize
from tests.backends.hostile import HostileServer, event, token
from tests.conftest import PARITY_FLAGS, LlamaServer

PROMPT = "Write a short poem praising light-emitting diodes."
SWEEP = """\
prompt: "Write a short poem praising light-emitting diodes."
seeds: [0, 1, 2, 3, 4, 5]
max_tokens: 6
sweep:
  temperature: [0.7, 1.3]
"""


@pytest.fixture
def fakes():
    running: list[HostileServer] = []

    def start(**kwargs) -> HostileServer:
        running.append(HostileServer(**kwargs))
        return running[-1]

    yield start
    for fake in running:
        fake.stop()


def one_by_one(url: str, request: Request, columns: list[Column]) -> list[str]:
    alone = ServerBackend(url)
    return [collect(alone.generate(request, [column]), 1)[0].text for column in columns]


def test_a_sweep_runs_its_seeds_together_in_plan_order() -> None:
    experiment = parse_experiment(SWEEP)
    [job] = plan(experiment, 4096)
    assert [run.seed for run in job.runs] == [seed for seed in range(6) for _ in (0.7, 1.3)]
    assert [[run.seed for run in job.runs] for job in plan(experiment, 8)] == [[0, 0, 1, 1, 2, 2, 3, 3], [4, 4, 5, 5]]


# -- real llama-servers -------------------------------------------------------------------------
def test_a_sweep_over_two_servers_equals_its_columns_run_one_at_a_time(server, second_server) -> None:
    experiment = parse_experiment(SWEEP)
    with open_backend(servers=[server.url, second_server.url]) as pool:
        outcomes = run_experiment(pool, experiment)
    columns = [run.column.for_seed(run.seed) for job in plan(experiment, 1) for run in job.runs]
    assert [(o.result.settings.seed, o.result.settings.temperature) for o in outcomes] == [
        (c.settings.seed, c.settings.temperature) for c in columns
    ]
    assert [o.result.text for o in outcomes] == one_by_one(server.url, experiment.request(PROMPT), columns)
    assert {o.result.backend for o in outcomes} == {server.url, second_server.url}


def test_a_server_killed_mid_sweep_has_its_columns_finished_on_the_other(model_path: Path, server) -> None:
    doomed = LlamaServer(model_path, *PARITY_FLAGS)
    columns = [Column(f"c{i}", Settings({"temperature": 1.0, "seed": i, "max_tokens": 12})) for i in range(10)]
    pool = open_backend(servers=[doomed.url, server.url])
    results: dict[int, object] = {}
    started = time.monotonic()
    try:
        for item in pool.generate(Request(PROMPT), columns):
            if isinstance(item, TokenEvent) and item.index == 2 and doomed.process.poll() is None:
                doomed.stop()  # some of its four columns are part-way through
            elif isinstance(item, ColumnDone):
                results[item.column] = item.result
    finally:
        doomed.stop()
    assert time.monotonic() - started < 120
    assert [results[i].text for i in range(10)] == one_by_one(server.url, Request(PROMPT), columns)
    assert {results[i].backend for i in range(10)} == {server.url}  # what the doomed one began, restarted
    (note,) = [n for n in pool.notes if "failed mid-run" in n]
    assert note.startswith(f"{doomed.url} failed mid-run (") and "started again on the other servers" in note


def test_the_probe_checks_every_server_of_a_pool_and_that_they_agree(model_path: Path, server) -> None:
    other = LlamaServer(model_path, "-fa", "on", "-np", "4", "-no-kvu", "-c", "8192")  # other arithmetic
    try:
        with open_backend(servers=[server.url, other.url]) as pool:
            assert not check_independence(pool).independent
    finally:
        other.stop()


# -- the hostile fake -------------------------------------------------------------------------
def streamed(handler, count: int = 3, pause: float = 0.0) -> None:
    HostileServer.start_stream(handler)
    for i in range(count):
        time.sleep(pause)
        last = i == count - 1
        handler.wfile.write(
            event(stop=last, stop_type="limit", tokens_predicted=i + 1, completion_probabilities=[token()])
        )
        handler.wfile.flush()


class Gauge:
    """Requests open at once on one fake, and the most seen."""

    def __init__(self) -> None:
        self.lock, self.open, self.most = threading.Lock(), 0, 0

    def __enter__(self) -> Gauge:
        with self.lock:
            self.open += 1
            self.most = max(self.most, self.open)
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.open -= 1


def slots_fake(fakes, slots: int, gauge: Gauge) -> HostileServer:
    """A fake of ``slots`` slots whose first requests wait until all its slots are taken (or 5 s)."""
    full = threading.Event()

    def answer(handler, body) -> None:
        with gauge:
            if gauge.open == slots:
                full.set()
            full.wait(5)
            streamed(handler)

    return fakes(props={"total_slots": slots}, answers={"/completion": answer})


def test_every_slot_of_every_server_is_busy_and_never_more(fakes) -> None:
    gauges = [Gauge(), Gauge()]
    pool = open_backend(servers=[slots_fake(fakes, 4, g).url for g in gauges])
    columns = [Column(str(i), Settings({"seed": i, "max_tokens": 3})) for i in range(24)]
    started = time.monotonic()
    results = collect(pool.generate(Request("hi", "raw"), columns), 24)
    assert time.monotonic() - started < 4  # no barrier waited its 5 s: 4 requests were always open at once
    assert [g.most for g in gauges] == [4, 4]
    assert [len(r.tokens) for r in results] == [3] * 24


def test_a_freed_slot_takes_the_next_column_at_once(fakes) -> None:
    shorts = threading.Semaphore(0)

    def answer(handler, body) -> None:
        if body["n_predict"] == 3:
            streamed(handler)
            shorts.release()
            return
        for _ in range(5):  # the long column ends only once all five short ones have
            assert shorts.acquire(timeout=5)
        streamed(handler)

    fake = fakes(props={"total_slots": 2}, answers={"/completion": answer})
    columns = [Column("long", Settings({"max_tokens": 4}))]
    columns += [Column(f"short {i}", Settings({"max_tokens": 3})) for i in range(5)]
    events = list(ServerBackend(fake.url).generate(Request("hi", "raw"), columns))
    order = [e.column for e in events if isinstance(e, ColumnDone)]
    assert order[-1] == 0 and sorted(order) == list(range(6))
    assert all(e.result.finish_reason != "cancelled" for e in events if isinstance(e, ColumnDone))


def test_a_server_of_a_pool_that_sends_garbage_or_hangs_loses_its_columns(fakes, monkeypatch) -> None:
    monkeypatch.setenv("SAMPLERLAB_SERVER_TIMEOUT", "2")

    def garbage(handler, body) -> None:
        HostileServer.start_stream(handler)
        handler.wfile.write(event(stop=False, tokens_predicted=1, completion_probabilities=[{"id": "x"}]))
        handler.wfile.flush()

    def hang(handler, body) -> None:
        time.sleep(10)

    def gateway(handler, body) -> None:  # a proxy whose llama-server is gone
        handler.send_response(502)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    good = fakes(props={"total_slots": 2}, answers={"/completion": lambda h, b: streamed(h)})
    bad = [fakes(props={"total_slots": 2}, answers={"/completion": answer}) for answer in (garbage, hang, gateway)]
    pool = open_backend(servers=[bad[0].url, good.url, bad[1].url, bad[2].url])
    columns = [Column(str(i), Settings({"seed": i, "max_tokens": 3})) for i in range(8)]
    started = time.monotonic()
    results = collect(pool.generate(Request("hi", "raw"), columns), 8)
    assert time.monotonic() - started < 8
    assert {r.backend for r in results} == {good.url} and all(len(r.tokens) == 3 for r in results)
    notes = " | ".join(pool.notes)
    assert f"{bad[0].url} failed mid-run ({bad[0].url}: /completion sent a token this client cannot read" in notes
    assert f"{bad[1].url} failed mid-run ({bad[1].url}: no complete answer to POST /completion within 2 s)" in notes
    assert f"{bad[2].url} failed mid-run ({bad[2].url}: /completion: HTTP 502; not a llama-server?)" in notes


def test_a_server_slow_to_tokenize_is_left_out_instead_of_holding_up_the_run(fakes, monkeypatch) -> None:
    monkeypatch.setattr(pool_module, "GRACE", 0.5)
    release = threading.Event()

    def slow_tokenize(handler, body) -> None:
        release.wait(10)
        data = json.dumps({"tokens": [1, 2, 3]}).encode()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    slow = fakes(answers={"/tokenize": slow_tokenize})
    quick = fakes(answers={"/completion": lambda h, b: streamed(h)})
    pool = open_backend(servers=[slow.url, quick.url])
    started = time.monotonic()
    try:
        results = collect(pool.generate(Request("hi", "raw"), [Column("c", Settings({"max_tokens": 3}))] * 2), 2)
    finally:
        release.set()
    assert time.monotonic() - started < 5
    assert {r.backend for r in results} == {quick.url}
    assert pool.notes == [
        f"{slow.url} left out of this run (it was still tokenizing the prompt 0.5 s after another had)"
    ]


def test_when_every_server_of_a_pool_fails_the_run_ends_in_one_line(fakes) -> None:
    def cut(handler, body) -> None:  # a token, then the connection closes without the final event
        HostileServer.start_stream(handler)
        handler.wfile.write(event(stop=False, tokens_predicted=1, completion_probabilities=[token()]))
        handler.wfile.flush()

    urls = [fakes(props={"total_slots": 2}, answers={"/completion": cut}).url for _ in range(2)]
    pool = open_backend(servers=urls)
    columns = [Column(str(i), Settings({"max_tokens": 3})) for i in range(6)]
    ends = []
    with pytest.raises(
        BackendError, match=r"^every server of the pool failed; the last: http://127\.0\.0\.1:\d+: "
    ) as caught:
        for item in pool.generate(Request("hi", "raw"), columns):
            if isinstance(item, ColumnDone):
                ends.append((item.column, item.result.finish_reason))
    assert sorted(ends) == [(i, "cancelled") for i in range(6)]
    assert localize(str(caught.value), "ja").startswith("プールのサーバーがすべて失敗しました。最後の失敗: http://")


def test_a_server_that_refuses_a_request_ends_the_run_with_its_message(fakes) -> None:
    message = json.dumps({"error": {"message": "n_probs is too large"}}).encode()

    def refuse(handler, body) -> None:
        handler.send_response(400)
        handler.send_header("Content-Length", str(len(message)))
        handler.end_headers()
        handler.wfile.write(message)

    fine = fakes(props={"total_slots": 1}, answers={"/completion": lambda h, b: streamed(h, 3, 0.2)})
    refusing = fakes(props={"total_slots": 1}, answers={"/completion": refuse})
    pool = open_backend(servers=[refusing.url, fine.url])
    with pytest.raises(BackendError, match=rf"^{refusing.url}: /completion: n_probs is too large$"):
        collect(pool.generate(Request("hi", "raw"), [Column(str(i), Settings({"max_tokens": 3})) for i in range(4)]), 4)


def test_a_pool_whose_servers_tokenize_differently_is_refused(fakes) -> None:
    one = fakes()
    other = fakes(answers={"/tokenize": json.dumps({"tokens": [1, 2, 4]}).encode()})
    pool = open_backend(servers=[one.url, other.url])
    with pytest.raises(BackendError, match=rf"^{other.url} and {one.url} tokenize the prompt differently"):
        list(pool.generate(Request("hi", "raw"), [Column("c", Settings({"max_tokens": 3}))]))


def test_a_dead_server_is_left_out_of_the_next_run_with_a_note(fakes) -> None:
    alive = fakes(answers={"/completion": lambda h, b: streamed(h)})
    dying = fakes(answers={"/completion": lambda h, b: streamed(h)})
    pool = open_backend(servers=[dying.url, alive.url])
    dying.stop()
    results = collect(pool.generate(Request("hi", "raw"), [Column("c", Settings({"max_tokens": 3}))] * 3), 3)
    assert {r.backend for r in results} == {alive.url}
    assert pool.notes == [
        f"{dying.url} left out of this run ({dying.url}: cannot connect (Connection refused); "
        "is llama-server running there?)"
    ]


def test_bench_servers_prints_the_speedup_and_that_the_texts_agree(server, second_server) -> None:
    from click.testing import CliRunner

    from samplerlab.cli.main import main

    arguments = ["bench-servers", "--server", server.url, "--server", second_server.url]
    result = CliRunner().invoke(main, [*arguments, "--settings", "2", "--seeds", "3", "--tokens", "4", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "sweep: 2 settings x 3 seeds = 6 generations, 4 tokens each (end of generation banned)"
    assert lines[2].startswith("1 server (4 slots)") and lines[3].startswith("2 servers (8 slots)")
    assert lines[4].startswith("speedup=") and lines[5] == "same texts: 6 of 6"
