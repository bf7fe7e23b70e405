"""A shared link: what one visitor may cost and write, and what they learn of the host's folders.

Share links cannot be made here, so shared mode is the Workbench's ``shared`` flag on an app served
locally; everything runs on the real embedded model.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradio_client import Client

from samplerlab.app.experiments_tab import ExperimentCallbacks
from samplerlab.app.share import ShareLimits
from samplerlab.app.ui import serve
from samplerlab.app.workbench import Workbench, WorkbenchError
from samplerlab.backends.local import LocalBackend
from samplerlab.events import Column, ColumnDone, Request
from samplerlab.presets.store import MAX_FILE_BYTES, Preset, PresetError, save_preset
from samplerlab.runs import comparisons
from samplerlab.runs.bench import end_tokens
from samplerlab.schema.params import Settings

PROMPT = "Write a short poem praising light-emitting diodes."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def shared(model, **options) -> Workbench:
    return Workbench(LocalBackend(model), shared=True, **options)


def endless(model, label: str = "endless") -> Column:
    """A column that would run until the context is full: no token limit, the end token banned."""
    banned = {token: False for token in end_tokens(model)}
    return Column(label, Settings({"max_tokens": 0, "logit_bias": banned, "seed": 1}))


def finished(events) -> list:
    done = {e.column: e.result for e in events if isinstance(e, ColumnDone)}
    return [done[i] for i in sorted(done)]


# -- bounds on one request ------------------------------------------------------------------
def test_too_many_columns_or_tokens_are_refused_in_one_line(model):
    bench = shared(model, limits=ShareLimits(tokens=8, columns=2))
    three = [Column(str(i), Settings({"max_tokens": 4})) for i in range(3)]
    with pytest.raises(WorkbenchError, match=r"^at most 2 columns per run while the app is shared \(asked for 3\)$"):
        list(bench.stream("s", Request(PROMPT), three))
    with pytest.raises(WorkbenchError, match="max_tokens 9 is above this shared app's limit of 8 tokens per column"):
        list(bench.stream("s", Request(PROMPT), [Column("long", Settings({"max_tokens": 9}))]))


def test_max_tokens_0_runs_the_token_bound_and_says_so(model):
    bench, notes = shared(model, limits=ShareLimits(tokens=6)), []
    [result] = finished(bench.stream("s", Request(PROMPT), [endless(model)], notes))
    assert result.settings.max_tokens == 6 and len(result.tokens) == 6 and result.finish_reason == "length"
    assert notes == ["max_tokens 0 runs at most 6 tokens per column while the app is shared"]


def test_a_run_past_the_seconds_bound_ends_cancelled(model):
    """The bound is far below what the columns would take (up to a full 2048-token context each)."""
    bench, notes = shared(model, limits=ShareLimits(tokens=100_000, columns=8, seconds=0.5)), []
    results = finished(bench.stream("s", Request(PROMPT), [endless(model, "a"), endless(model, "b")], notes))
    assert [r.finish_reason for r in results] == ["cancelled", "cancelled"]
    assert notes[-1] == "stopped after 0.5 s, this shared app's limit per run"


def test_a_session_holds_one_pending_run_at_a_time(model):
    bench = shared(model)
    bench.expect("me")
    with pytest.raises(WorkbenchError, match="you already have a run waiting or running"):
        bench.expect("me")
    bench.expect("someone else")
    list(bench.stream("me", Request(PROMPT), [Column("a", Settings({"max_tokens": 2}))]))
    bench.expect("me")  # that run ended: another may wait


def test_unshared_runs_are_not_bounded(model):
    bench = Workbench(LocalBackend(model))
    columns = [Column(str(i), Settings({"max_tokens": 300 if i == 0 else 1})) for i in range(5)]
    assert bench.bounded(columns, notes := []) == columns and notes == []


def test_the_share_limits_option_changes_only_what_it_names():
    assert ShareLimits.parse("") == ShareLimits(tokens=256, columns=4, seconds=60)
    assert ShareLimits.parse("tokens=512, seconds=120") == ShareLimits(tokens=512, columns=4, seconds=120)
    with pytest.raises(ValueError, match="unknown limit 'token'; known: tokens, columns, seconds"):
        ShareLimits.parse("token=5")


@pytest.mark.parametrize(
    "text, line",
    [
        ("seconds=nan", "--share-limits: seconds must be above 0 and at most 86400, got 'nan'"),
        ("seconds=inf", "--share-limits: seconds must be above 0 and at most 86400, got 'inf'"),
        ("seconds=1e300", "--share-limits: seconds must be above 0 and at most 86400, got '1e300'"),
        ("tokens=1000001", "--share-limits: tokens must be above 0 and at most 1e+06, got '1000001'"),
    ],
)
def test_non_finite_or_huge_share_limits_are_refused_in_one_line(text, line):
    """nan stopped every run at once; inf crashed the timer thread and left no limit at all."""
    with pytest.raises(ValueError) as caught:
        ShareLimits.parse(text)
    assert str(caught.value) == line


def test_the_app_command_refuses_a_non_finite_limit_before_loading_a_model():
    from click.testing import CliRunner

    from samplerlab.cli.main import main

    result = CliRunner().invoke(main, ["--share-limits", "seconds=inf", "--model", "/nonexistent/model.gguf"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: --share-limits: seconds must be above 0 and at most 86400, got 'inf'"


def test_the_readme_states_each_bound_and_its_default():
    readme = (Path(__file__).resolve().parent.parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"--share-limits {ShareLimits().describe()}" in readme and "--share-writes" in readme


# -- the API stops when its client cancels ---------------------------------------------------------
@pytest.fixture
def spied_app(model, tmp_path):
    """A shared app whose backend logs each run's start and end, and whether it ran to its end."""
    backend = LocalBackend(model)
    log: list[tuple[str, str]] = []
    inner = backend.generate

    def generate(request, columns, cancel=None, info=None):
        label = columns[0].label
        log.append(("start", label))
        completed = False
        try:
            yield from inner(request, columns, cancel, info)
            completed = True
        finally:
            log.append(("end" if completed else "stopped", label))

    backend.generate = generate
    bench = Workbench(
        backend,
        presets_dir=tmp_path / "presets",
        shared=True,
        limits=ShareLimits(tokens=100_000, columns=4, seconds=600),
    )
    demo, url, _ = serve(bench, port=free_port(), block=False, say=lambda *_: None)
    yield url, log
    demo.close()


def test_a_cancelled_api_job_frees_the_model_for_the_next_client(spied_app):
    url, log = spied_app
    banned = {"0": False, "2": False, "4": False}  # the embedded model's end tokens: it would fill the context
    hog = [{"label": f"hog {i}", "settings": {"logit_bias": banned}} for i in range(4)]
    job = Client(url, verbose=False).submit(PROMPT, 0, 0, json.dumps(hog), api_name="/compare")
    while not job.outputs() and not job.done():  # the run is generating (its first progress arrived)
        time.sleep(0.05)
    job.cancel()
    answer = Client(url, verbose=False).predict(PROMPT, 0, 4, json.dumps([{"label": "short"}]), api_name="/compare")
    assert [c["label"] for c in answer["columns"]] == ["short"] and len(answer["columns"][0]["tokens"]) == 4
    assert log[0] == ("start", "hog 0") and ("end", "hog 0") not in log  # the hog never ran to its end ...
    assert log.index(("stopped", "hog 0")) < log.index(("end", "short"))  # ... and stopped before short ended


def test_the_api_refuses_too_many_columns_in_one_line(spied_app):
    url, _ = spied_app
    with pytest.raises(Exception, match="at most 4 columns per run while the app is shared"):
        Client(url, verbose=False).predict(
            PROMPT, 0, 4, json.dumps([{"label": str(i)} for i in range(5)]), api_name="/compare"
        )


# -- writes -------------------------------------------------------------------------------------------
def test_a_preset_the_store_would_not_read_back_is_not_written(tmp_path):
    huge = Preset(name="huge", description="x" * (MAX_FILE_BYTES + 1), settings=Settings({"temperature": 0.5}))
    with pytest.raises(
        PresetError,
        match=r"^preset 'huge' would be a 64 KiB file, above the 64 KiB a preset file "
        r"may have; shorten its description$",
    ):
        save_preset(huge, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_shared_app_saves_presets_only_when_the_host_allows(spied_app, model, tmp_path):
    url, _ = spied_app
    client = Client(url, verbose=False)
    with pytest.raises(Exception, match="saving presets is off while the app is shared"):
        client.predict("mine", "", json.dumps({"temperature": 0.5}), False, api_name="/save_preset")
    assert not (tmp_path / "presets").exists()
    bench = shared(model, presets_dir=tmp_path / "presets", writes="presets")
    mine = Preset(name="mine", description="", settings=Settings({"temperature": 0.5}))
    bench.save_preset(mine)
    with pytest.raises(WorkbenchError, match="overwriting presets is off while the app is shared"):
        bench.save_preset(mine, overwrite=True)


# -- experiments ------------------------------------------------------------------------------------
def session(name: str):
    return SimpleNamespace(session_hash=name)


@pytest.fixture
def experiments(tmp_path) -> Path:
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "huge-context.yaml").write_text(
        "model: embedded\nload: {n_ctx: 131072}\nprompt: hi\nmax_tokens: 2\n"
        "columns: [{label: a}, {label: b, temperature: 0}]\n"
    )
    (folder / "broken.yaml").write_text("prompt: hi\ncolumns: [{label: a, temprature: 2}]\n")
    return folder


def test_a_shared_experiment_runs_on_the_apps_model_and_keeps_no_result(model, experiments, monkeypatch):
    def no_new_model(*args, **kwargs):
        raise AssertionError("a model was opened for the experiment")

    monkeypatch.setattr(comparisons, "opened_backend", no_new_model)
    calls = ExperimentCallbacks(shared(model, experiments_dir=experiments), shared=True)
    *_, (status, report, result_file) = calls.run("huge-context", None, session("s"))
    assert status.startswith("✓ huge-context-") and "<iframe" in report
    assert "the file's load settings are ignored while the app is shared" in status
    assert not (experiments / "runs").exists() and Path(result_file).is_file()


def test_a_shared_experiment_over_the_token_bound_is_refused(model, experiments):
    import gradio as gr

    calls = ExperimentCallbacks(shared(model, experiments_dir=experiments, limits=ShareLimits(tokens=1)), True)
    with pytest.raises(gr.Error, match="this experiment's columns run more than 1 tokens"):
        list(calls.run("huge-context", None, session("s")))
    with pytest.raises(gr.Error, match="max tokens 5 is above this shared app's limit of 1 per column"):
        list(calls.run("huge-context", 5, session("s")))
    calls.bench.expect("s")  # the refused runs left no pending run behind


def test_a_shared_experiment_past_the_seconds_bound_stops_with_a_note(model, experiments):
    (experiments / "long.yaml").write_text(
        "prompt: hi\nseeds: [0, 1, 2, 3, 4, 5, 6, 7]\nmax_tokens: 8\n"
        "columns: [{label: a}, {label: b, temperature: 0}]\n"
    )
    calls = ExperimentCallbacks(shared(model, experiments_dir=experiments, limits=ShareLimits(seconds=0.01)), True)
    *_, (status, _, result_file) = calls.run("long", None, session("s"))
    assert status.startswith("experiments/long.yaml: stopped after ") and result_file is None
    assert status.endswith("stopped after 0.01 s, this shared app's limit per run")


# -- paths in errors ----------------------------------------------------------------------------
def test_errors_shown_to_visitors_name_no_server_paths(model, experiments, tmp_path):
    import gradio as gr

    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "bad.yaml").write_text("name: bad\ntemperature: [1, 2\n")
    bench = shared(model, presets_dir=presets, experiments_dir=experiments)
    with pytest.raises(WorkbenchError) as preset_error:
        bench.columns_from_json(json.dumps([{"label": "x", "preset": "bad"}]), {})
    shown = bench.message(preset_error.value)
    assert shown.startswith("columns[0]: presets/bad.yaml: ") and str(tmp_path) not in shown
    with pytest.raises(gr.Error) as experiment_error:
        list(ExperimentCallbacks(bench, True).run("broken", None, session("s")))
    shown = experiment_error.value.message
    assert "experiments/broken.yaml" in shown and str(tmp_path) not in shown
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bad.gguf").write_bytes(b"not a model")
    bench.models_dir = tmp_path / "models"
    with pytest.raises(Exception) as model_error:
        bench.load_model("bad.gguf")
    shown = bench.message(model_error.value)
    assert shown.startswith("models/bad.gguf: ") and str(tmp_path) not in shown and bench.model is model


def test_the_pages_run_says_in_the_stats_that_max_tokens_0_was_clamped(model):
    """The Compare tab's Run callback, without a browser: the note follows each column's stats line."""
    from samplerlab.app.ui import MAX_COLUMNS, Callbacks
    from samplerlab.app.widgets import widget_values

    calls = Callbacks(shared(model, limits=ShareLimits(tokens=3)))
    flat = [0, 0, "", *widget_values(Settings()) * 2]  # seed 0, max_tokens 0, no stop; two columns
    *_, outputs = calls.run(session("page"), "en", "chat", "", PROMPT, "", "error", "", 2, *flat)
    stats = outputs[-MAX_COLUMNS:]
    assert all(
        line.endswith("max_tokens 0 runs at most 3 tokens per column while the app is shared") for line in stats[:2]
    )
    assert all(len(spans) == 3 for spans in outputs[MAX_COLUMNS : MAX_COLUMNS + 2])


def test_one_api_client_cannot_queue_a_second_run_while_its_first_waits_or_runs(spied_app):
    url, log = spied_app
    banned = {"0": False, "2": False, "4": False}
    client = Client(url, verbose=False)
    first = client.submit(
        PROMPT, 0, 0, json.dumps([{"label": "first", "settings": {"logit_bias": banned}}]), api_name="/compare"
    )
    while not first.outputs() and not first.done():
        time.sleep(0.05)
    with pytest.raises(Exception, match="you already have a run waiting or running"):
        client.predict(PROMPT, 0, 4, json.dumps([{"label": "second"}]), api_name="/compare")
    first.cancel()
    assert ("start", "second") not in log
