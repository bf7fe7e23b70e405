"""Every event that uses the model takes one door (issue 20, items 2 and 4).

A session holds one waiting or running run, whatever event it posts: the Run button's own function
posted straight to the queue 70 times is refused 69 times at once, and the queue stays open for
every other visitor. A run that took the model just before another visitor's load closed it goes to
the model loaded now instead of reading a freed one.
"""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import gradio as gr
import httpx
import pytest
from gradio_client import Client

from samplerlab.app.share import ShareLimits
from samplerlab.app.ui import Callbacks, serve
from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.events import ColumnDone, Request
from samplerlab.llama.engine import Column
from samplerlab.llama.models import Model
from samplerlab.schema.params import Settings
from tests.app.test_share import PROMPT, free_port

REFUSED = "you already have a run waiting or running; wait for it or press Stop"


@pytest.fixture
def shared_app(model):
    bench = Workbench(LocalBackend(model), shared=True, limits=ShareLimits(tokens=100_000, columns=4, seconds=600))
    demo, url, _ = serve(bench, port=free_port(), block=False, say=lambda *_: None)
    yield demo, url.rstrip("/"), bench
    demo.close()


def page_run(demo, url: str) -> tuple[int, list]:
    """The Run button's function and the page's own values for its inputs, two columns that would run
    until the context is full (the embedded model's end tokens banned, max_tokens 0)."""
    fn_index = next(i for i, f in demo.fns.items() if getattr(f.fn, "__func__", None) is Callbacks.run)
    config = httpx.get(f"{url}/config").json()
    components = {c["id"]: c["props"] for c in config["components"]}
    inputs = next(d for d in config["dependencies"] if d["id"] == fn_index)["inputs"]
    data = [components[i].get("value") for i in inputs]
    by_elem = {components[i].get("elem_id"): n for n, i in enumerate(inputs)}
    data[by_elem["column-count"]], data[by_elem["run-max-tokens"]] = 2, 0
    for column in (0, 1):
        data[by_elem[f"logit_bias-{column}"]] = json.dumps({"0": False, "2": False, "4": False})
    return fn_index, data


def messages(url: str, session: str, wanted: int, timeout: float = 60) -> list[dict]:
    """The session's queue messages until ``wanted`` events have completed."""
    done: list[dict] = []
    with httpx.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}, timeout=timeout) as sse:
        for line in sse.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    done.append(message)
                    if len(done) == wanted:
                        break
    return done


def test_one_session_posting_the_run_event_70_times_cannot_fill_the_queue(shared_app):
    demo, url, bench = shared_app
    fn_index, data = page_run(demo, url)
    join = f"{url}/gradio_api/queue/join"
    answers = [
        httpx.post(join, json={"data": data, "fn_index": fn_index, "session_hash": "hog", "event_data": None})
        for _ in range(70)
    ]
    assert [a.status_code for a in answers] == [200] * 70  # none was "Queue is full"
    refusals = messages(url, "hog", 69)
    assert all(not m["success"] and m["output"]["error"] == REFUSED for m in refusals)
    # The hog's one run still holds the model; another visitor's comparison waits for it, then runs.
    other = Client(url, verbose=False).submit(PROMPT, 0, 4, json.dumps([{"label": "other"}]), api_name="/compare")
    time.sleep(0.5)
    bench.cancel("hog")
    answer = other.result(timeout=120)
    assert [c["label"] for c in answer["columns"]] == ["other"] and len(answer["columns"][0]["tokens"]) == 4


def test_a_run_whose_model_was_closed_while_it_waited_goes_to_the_loaded_one(model_path):
    """The steps of Workbench.load_model (swap, then close the old model under its lock) while a run
    has taken the old backend and waits for that lock."""
    old = LocalBackend(Model(model_path))
    bench = Workbench(old, shared=True)
    results: list = []
    with old.lock:  # a run is on the old model
        waiting = threading.Thread(
            target=lambda: results.extend(
                bench.stream("s", Request(PROMPT), [Column("a", Settings({"max_tokens": 2, "seed": 1}))])
            )
        )
        waiting.start()
        while "s" not in bench._cancels:
            time.sleep(0.01)
        time.sleep(0.3)  # it takes the backend next, then waits for the lock we hold
        fresh = LocalBackend(Model(model_path))
        bench.backend = fresh
        old.close()
    waiting.join(timeout=120)
    [done] = [e for e in results if isinstance(e, ColumnDone)]
    assert done.result.finish_reason == "length" and len(done.result.tokens) == 2
    assert bench.last("s").backend is fresh
    fresh.close()


def session(name: str):
    return SimpleNamespace(session_hash=name)


def test_experiments_and_model_loads_take_the_same_door(model, tmp_path):
    """/run_experiment and the load buttons skipped the one-run rule."""
    from samplerlab.app.experiments_tab import ExperimentCallbacks

    (tmp_path / "tiny.yaml").write_text("prompt: hi\nmax_tokens: 2\ncolumns: [{label: a}]\n")
    bench = Workbench(LocalBackend(model), shared=True, experiments_dir=tmp_path)
    bench.expect("busy")  # the session already has a run waiting or running
    with pytest.raises(gr.Error, match=REFUSED):
        list(ExperimentCallbacks(bench, True).run("tiny", None, session("busy")))
    with pytest.raises(gr.Error, match=REFUSED):
        Callbacks(bench).load_model(session("busy"), "en", "", "", "")
    assert bench.model is model
    *_, (status, _, _) = ExperimentCallbacks(bench, True).run("tiny", None, session("free"))
    assert status.startswith("✓ tiny-")


def test_a_page_run_waiting_for_its_turn_is_not_timed_and_stop_ends_the_wait(model):
    """The time limit counts from the run's turn, as it did when runs waited in Gradio's queue: a run behind
    another visitor's is not stopped by the time it spent waiting. (The limit sets the run's Stop event.)"""
    from samplerlab.app.widgets import widget_values

    bench = Workbench(LocalBackend(model), shared=True, limits=ShareLimits(tokens=1, seconds=0.2))
    calls = Callbacks(bench)
    flat = [1, 1, "", *widget_values(Settings())]  # seed 1, 1 token, no stop; one column
    outputs: dict[str, list] = {}

    def page(name: str) -> None:
        outputs[name] = list(calls.run(session(name), "en", "chat", "", PROMPT, "", "error", "", 1, *flat))

    threads = {name: threading.Thread(target=page, args=(name,)) for name in ("waits", "stops")}
    with bench.turns.take(threading.Event()):  # another visitor's run has the turn
        for thread in threads.values():
            thread.start()
        time.sleep(1.0)  # five times the limit
        assert not bench._cancels["waits"].is_set()  # no limit ran out while it waited
        bench.cancel("stops")
        threads["stops"].join(timeout=30)
        assert not threads["stops"].is_alive()  # it gave up its place at once, and the page says it stopped
        stopped = outputs["stops"][-1]
        assert stopped[0] == "" and "stopped" in stopped[12], stopped[12]
    threads["waits"].join(timeout=300)
    assert outputs["waits"][-1][12]  # it ran once its turn came (a stats line for its column)


def test_more_waiting_runs_than_the_turns_hold_are_refused_in_one_line(model):
    """Each waiting run holds a Gradio worker thread: many sessions must not take them all."""
    from samplerlab.app.workbench import Turns, WorkbenchError

    turns, stop = Turns(most_waiting=2), threading.Event()
    waiting = [threading.Thread(target=lambda: turns.take(stop).__enter__()) for _ in range(2)]
    with turns.take(threading.Event()):
        for thread in waiting:
            thread.start()
        while len(turns._waiting) < 2:
            time.sleep(0.01)
        with pytest.raises(WorkbenchError, match=r"^2 runs are already waiting for the model; try again in a while$"):
            turns.take(threading.Event()).__enter__()
        stop.set()  # the two waiting give up
        for thread in waiting:
            thread.join(timeout=10)
    assert not turns._waiting


def test_clients_posing_as_new_sessions_cannot_queue_compare_runs_past_the_turns(shared_app):
    """The red-team round's bypass: a new session_hash per /compare. Every run waits in the one line
    (Workbench.turns), so beyond its bound they are refused at once and another visitor still runs."""
    demo, url, bench = shared_app
    compare = next(i for i, f in demo.fns.items() if getattr(f.fn, "__func__", None) is Callbacks.compare_api)
    long_run = json.dumps([{"settings": {"max_tokens": 0, "logit_bias": {"0": False, "2": False, "4": False}}}])
    posed = [f"pose{i}" for i in range(bench.turns.most_waiting + 6)]
    for session in posed:
        joined = httpx.post(
            f"{url}/gradio_api/queue/join",
            json={"data": [PROMPT, 0, 0, long_run, "", "error"], "fn_index": compare, "session_hash": session},
        )
        assert joined.status_code == 200
    refused = [m for s in posed[-4:] for m in messages(url, s, 1, timeout=60)]
    assert all(not m["success"] and "runs are already waiting for the model" in m["output"]["error"] for m in refused)
    for session in posed:
        bench.cancel(session)
    other = Client(url, verbose=False).predict(PROMPT, 0, 4, json.dumps([{"label": "other"}]), api_name="/compare")
    assert [c["label"] for c in other["columns"]] == ["other"]
