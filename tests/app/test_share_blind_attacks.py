"""Red team of the share-mode paths nobody had attacked (issue 18, item 3): a stranger on a --share link
posting Gradio's routes directly, as any HTTP client can (``api_visibility="private"`` only hides an
event from the API page and the client libraries: the page's own routes still take its ``fn_index``).

Found and fixed: Gradio's direct ``/run/predict`` route takes a body without ``session_hash``, and the
History tab then listed every visitor's runs and the host's (prompts, times, models; reopening one
was stopped only by Gradio's dropdown, which refuses an id it did not offer); a visitor's schedule
started over after its last pair, so one session could vote without end (ballot stuffing, and a file
filled to its 5,000 votes locks the host out). Held: the host state cannot be sent as an input (Gradio
takes a State's value from the session), a wrong host key makes no host, a visitor's judge click
reaches no URL. On the real embedded model, served on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import httpx
import pytest

from samplerlab.app.blind_tab import BlindCallbacks, host_key
from samplerlab.app.history_tab import HistoryCallbacks
from samplerlab.app.ui import serve
from samplerlab.app.workbench import Workbench, WorkbenchError
from samplerlab.backends.local import LocalBackend
from samplerlab.events import Column, Request
from samplerlab.runs.store import RunStore
from samplerlab.runs.votes import load_votes
from samplerlab.schema.params import Settings
from tests.app.test_blind_judge import listener  # noqa: F401
from tests.app.test_share import free_port
from tests.app.test_share_runs import messages


@pytest.fixture
def shared_app(model, run_store, tmp_path):
    bench = Workbench(
        LocalBackend(model), presets_dir=tmp_path / "presets", shared=True, store=RunStore.open(run_store)
    )
    demo, url, _ = serve(bench, port=free_port(), block=False, say=lambda *_: None)
    yield demo, url.rstrip("/"), bench
    demo.close()
    for thread in [t for t in threading.enumerate() if t.name == "blind-prefetch"]:
        thread.join(300)  # the model outlives this test: nothing generated ahead may still run on it


def fn_of(demo, method) -> int:
    return next(i for i, f in demo.fns.items() if getattr(f.fn, "__func__", None) is method)


def predict(url: str, fn_index: int, data: list, session: str | None = None, query: str = "") -> dict:
    """Gradio's direct route, as the page posts a queue=False event; ``session`` None sends no session_hash."""
    body = {"fn_index": fn_index, "data": data, **({"session_hash": session} if session else {})}
    return httpx.post(f"{url}/gradio_api/run/predict{query}", json=body, timeout=120).json()


def queued(url: str, fn_index: int, data: list, session: str) -> dict:
    """One queued event of ``session``, posted and waited for; its completion message."""
    body = {"fn_index": fn_index, "data": data, "session_hash": session, "event_data": None}
    assert httpx.post(f"{url}/gradio_api/queue/join", json=body).status_code == 200
    return messages(url, session, 1, timeout=240)[0]


def test_a_request_without_a_session_lists_and_reopens_no_ones_runs(shared_app):
    demo, url, bench = shared_app
    list(bench.stream("alice", Request("alice asks"), [Column("a", Settings({"max_tokens": 2}))]))
    [row] = bench.history("alice")
    listing, reopen = fn_of(demo, HistoryCallbacks.listing), fn_of(demo, HistoryCallbacks.reopen)
    assert "alice asks" in json.dumps(predict(url, listing, [None], session="alice"))  # her own page: listed
    stranger = predict(url, listing, [None])
    assert "alice asks" not in json.dumps(stranger) and "No runs" in json.dumps(stranger), stranger
    opened = predict(url, reopen, [None, str(row.id)])  # held already: the id is not among the dropdown's choices
    assert opened["error"] and "alice asks" not in json.dumps(opened), opened
    with pytest.raises(WorkbenchError, match=rf"^no run {row.id} in this session's history$"):
        bench.reopen(None, row.id)  # type: ignore[arg-type]  # and past Gradio's check, the Workbench's


def test_over_http_a_visitor_forges_no_host_votes_only_their_pairs_and_reaches_no_url(shared_app, listener):  # noqa: F811
    demo, url, bench = shared_app
    config = httpx.get(f"{url}/config").json()
    components = {c["id"]: c.get("props", {}) for c in config["components"]}
    on_load, start, judge = (
        fn_of(demo, m) for m in (BlindCallbacks.on_load, BlindCallbacks.start, BlindCallbacks.judge)
    )
    inputs = next(d for d in config["dependencies"] if d["id"] == start)["inputs"]
    data = [components[i].get("value") for i in inputs]
    by_elem = {components[i].get("elem_id"): n for n, i in enumerate(inputs)}
    data[by_elem["blind-seeds"]], data[by_elem["blind-tokens"]] = 1, 4  # one pair per voter
    button = next(i for i, c in components.items() if c.get("elem_id") == "blind-vote-a")
    vote_a = next(d["id"] for d in config["dependencies"] if [button, "click"] in d["targets"])

    # a stranger: a made-up key, then True sent where the page's host state goes
    predict(url, on_load, [], "mallory", query="?blind_host=" + "A" * 24)
    forged = queued(url, start, [True, *data[1:]], "mallory")
    assert forged["output"]["data"][0] == "Only the host can start or reveal the group test", forged
    # the host, with the key the terminal prints: the test starts
    predict(url, on_load, [], "host", query=f"?blind_host={host_key(bench)}")
    hosted = queued(url, start, data, "host")
    assert hosted["output"]["data"][0] == "" and hosted["output"]["data"][2], hosted
    # a visitor joins, then posts "A is better" three times on a schedule of one pair
    joined = queued(url, start, data, "visitor")
    assert joined["output"]["data"][0] == "" and joined["output"]["data"][2]
    answers = [queued(url, vote_a, [None, None], "visitor")["output"]["data"][0] for _ in range(3)]
    assert answers == ["You have voted on all 1 of your pairs. Thank you!"] * 3
    [path] = bench.scratch("blind").glob("blind-*.jsonl")
    voter = BlindCallbacks.voter(SimpleNamespace(session_hash="visitor"))
    assert [v.choice for v in load_votes(path).votes if v.voter == voter] == ["A"]
    # the visitor's judge click: refused before any request is made
    judged = queued(url, judge, [None, None, listener.url], "visitor")
    assert judged["output"]["data"][0] == "Only the host can call a judge in the group test"
    assert listener.hits == []
