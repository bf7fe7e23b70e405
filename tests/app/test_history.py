"""The History tab without a browser: page runs are recorded; reopening one restores the very state a fresh
run leaves (token view, why, what-if, branching, Save work on it); shared, a visitor sees only their own."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from samplerlab.app.experiments_tab import ExperimentCallbacks
from samplerlab.app.history_tab import HistoryCallbacks
from samplerlab.app.ui import MAX_COLUMNS, Callbacks
from samplerlab.app.understand_panel import alternatives, branch, what_if_line
from samplerlab.app.views import why_html
from samplerlab.app.widgets import widget_values
from samplerlab.app.workbench import Workbench, WorkbenchError
from samplerlab.backends.local import LocalBackend
from samplerlab.presets.store import load_preset
from samplerlab.runs.results import column_record, load_result
from samplerlab.runs.store import RunStore
from samplerlab.schema.params import Settings

PROMPT = "Write a short poem praising light-emitting diodes."
CLOCK = {"date", "seconds", "tokens_per_second"}


def session(name: str):
    return SimpleNamespace(session_hash=name)


def without_clock(value):
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in CLOCK}
    return [without_clock(v) for v in value] if isinstance(value, list) else value


def page_flat(seed: int = 7, tokens: int = 6) -> list:
    """The Compare tab's widget values: run-level (seed, max_tokens, stop), then every column's knobs."""
    presets = ["llama.cpp defaults", "greedy", "min-p creative"]
    columns = [widget_values(load_preset(presets[i % 3]).settings) for i in range(MAX_COLUMNS)]
    return [seed, tokens, "", *(value for column in columns for value in column)]


@pytest.fixture
def bench(model, run_store, tmp_path):
    folder = tmp_path / "experiments"
    folder.mkdir()
    return Workbench(LocalBackend(model), store=RunStore.open(run_store), experiments_dir=folder)


def test_a_reopened_page_run_is_the_state_and_the_page_a_fresh_run_left(bench, tmp_path):
    calls = Callbacks(bench)
    fresh = list(calls.run(session("first"), "en", "chat", "Be brief.", PROMPT, "", "error", "", 3, *page_flat()))[-1]
    ran = bench.last("first")
    [row] = bench.history("second")  # not shared: every run is listed
    assert (row.kind, row.status, row.done, row.total, row.columns, row.seeds) == ("page", "done", 3, 3, 3, (7,))
    assert row.prompt_start == PROMPT and row.owner == "first"
    history = HistoryCallbacks(calls, MAX_COLUMNS, False)
    outputs = history.reopen("en", str(row.id), session("second"))
    assert bench.last("second") == ran  # the same state object: request, columns (exact floats), backend, rendered
    form, rest = outputs[: 7 + 3], outputs[7 + 3 :]
    assert form[:7] == ["chat", "Be brief.", PROMPT, "", "error", "", 3] and form[7:] == [7, 6, "[]"]
    knobs = rest[: MAX_COLUMNS * len(widget_values(Settings()))]
    assert knobs[: 3 * len(widget_values(Settings()))] == [v for r in ran.columns for v in widget_values(r.settings)]
    presets = rest[len(knobs) : len(knobs) + MAX_COLUMNS]  # left as they are
    assert all(p == {"__type__": "update"} for p in presets)
    page = rest[len(knobs) + MAX_COLUMNS : len(knobs) + MAX_COLUMNS + 3 * MAX_COLUMNS]
    assert page == fresh  # texts, token views and stats lines as the run left them
    assert outputs[-1] == f"Reopened run {row.id}: 3 column(s) of its first prompt and seed."
    records = [column_record(c) for c in bench.last("second").columns]
    assert why_html(records, 0, 1, "en") == why_html([column_record(c) for c in ran.columns], 0, 1, "en")
    settings = ran.columns[0].settings.replace(top_k=3)
    assert what_if_line(bench, "second", 0, settings, "en") == what_if_line(bench, "first", 0, settings, "en") != ""
    assert alternatives(bench, "second", 0, 2) == alternatives(bench, "first", 0, 2)
    assert branch(bench, "second", 1, 2, "x") == branch(bench, "first", 1, 2, "x")
    # Save (the Experiments tab's) works on it and writes what it writes for the fresh run
    tab = ExperimentCallbacks(bench, False)
    assert tab.save("from history", "en", session("second")).startswith("✓ saved")
    assert tab.save("from fresh", "en", session("first")).startswith("✓ saved")
    saved = sorted((bench.experiments_dir / "runs").iterdir())
    assert len(saved) == 2
    first, second = (without_clock(load_result(path)) for path in saved)
    for document in (first, second):
        document["experiment"].pop("file"), document["experiment"].pop("description")
        document["experiment"]["as_given"].pop("description")
    assert first == second


def test_a_reopened_run_on_a_model_not_loaded_now_refuses_save_in_one_line(bench, model_path):
    from samplerlab.llama.models import Model
    from samplerlab.schema.load_settings import LoadSettings

    calls = Callbacks(bench)
    list(calls.run(session("a"), "en", "chat", "", PROMPT, "", "error", "", 2, *page_flat(tokens=3)))
    [row] = bench.history("a")
    other = Workbench(LocalBackend(Model(model_path, LoadSettings({"n_ctx": 1024}))), store=bench.store)
    HistoryCallbacks(Callbacks(other), MAX_COLUMNS, False).reopen("ja", str(row.id), session("b"))
    assert other.last("b").columns == bench.last("a").columns and other.last("b").backend is None
    message = ExperimentCallbacks(other, False).save("x", "en", session("b"))
    assert (
        message
        == "This run was made on another model (or other load settings); load it to save the run as an experiment."
    )
    other.backend.close()


def test_shared_a_visitor_lists_and_reopens_only_their_own_sessions_runs(model, run_store):
    bench = Workbench(LocalBackend(model), store=RunStore.open(run_store), shared=True)
    calls = Callbacks(bench)
    for name in ("alice", "bob"):
        list(calls.run(session(name), "en", "chat", "", f"{name} asks", "", "error", "", 2, *page_flat(tokens=2)))
    alice, bob = bench.history("alice"), bench.history("bob")
    assert [r.prompt_start for r in alice] == ["alice asks"] and [r.prompt_start for r in bob] == ["bob asks"]
    assert bench.history("mallory") == []
    history = HistoryCallbacks(calls, MAX_COLUMNS, True)
    table, choices = history.listing("en", session("alice"))
    assert "alice asks" in table and "bob asks" not in table and choices["choices"] == [str(alice[0].id)]
    with pytest.raises(WorkbenchError, match=rf"^no run {bob[0].id} in this session's history$"):
        bench.reopen("alice", bob[0].id)
    history.reopen("en", str(alice[0].id), session("alice"))
    assert bench.last("alice").request.prompt == "alice asks"


def test_experiment_runs_of_the_tab_are_recorded_with_their_progress(bench, run_store):
    (bench.experiments_dir / "five.yaml").write_text(
        "prompt: hi\nseeds: [1, 2, 3, 4, 5]\nmax_tokens: 2\ncolumns: [{preset: greedy}]\n"
    )
    outputs = list(ExperimentCallbacks(bench, False).run("five", None, session("x"), "ja"))
    statuses = [status for status, _, _ in outputs[:-1]]
    assert [s.split(" · ")[0] for s in statuses] == [f"{n}/5 生成" for n in range(1, 6)]
    assert all(" トークン/秒 · 残り " in s for s in statuses) and statuses[-1].endswith("残り 0 秒")
    [row] = RunStore.open(run_store).runs()
    assert (row.kind, row.status, row.done, row.owner) == ("experiment", "done", 5, "x")
    result = load_result(row.out)
    assert len(result["columns"]) == 5


def test_a_page_run_cut_by_the_share_time_limit_exports_and_checks_as_far_as_it_went(model, run_store, tmp_path):
    """Issue 18, item 2: the cut column was left out of the export; it is kept, and run --check generates
    it again to the token it was cut at (and the column that ended, in full)."""
    from click.testing import CliRunner

    from samplerlab.app.share import ShareLimits
    from samplerlab.cli.main import main
    from samplerlab.events import Column, Request
    from tests.app.test_share import endless, finished

    bench = Workbench(
        LocalBackend(model), store=RunStore.open(run_store), shared=True,
        limits=ShareLimits(tokens=100_000, columns=4, seconds=3.0),
    )  # fmt: skip
    short = Column("short", Settings({"max_tokens": 3, "seed": 2}))
    results = finished(bench.stream("s", Request(PROMPT), [endless(model), short]))
    assert results[0].finish_reason == "cancelled" and results[0].tokens  # the short one ends, unless the machine
    cut = sum(r.finish_reason == "cancelled" for r in results)  # is so busy that 3 s do not reach 3 tokens
    [row] = bench.history("s")
    runner = CliRunner()
    exported = runner.invoke(main, ["history", "export", str(row.id), "--out", str(tmp_path / "cut.yaml")])
    assert exported.exit_code == 0 and f"{cut} column(s) were cut before their end" in exported.output, exported.output
    columns = load_result(tmp_path / "cut.yaml")["columns"]
    assert [c["finish_reason"] for c in columns] == [r.finish_reason for r in results]
    assert columns[0]["token_count"] == len(results[0].tokens)
    check = runner.invoke(main, ["run", "--check", str(tmp_path / "cut.yaml")])
    assert check.exit_code == 0, check.output
    assert check.output.startswith(f"reproduced 2 columns, {cut} of them cut before their end"), check.output
