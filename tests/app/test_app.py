"""The app launched for real on the embedded model, driven through its public API with gradio_client."""

from __future__ import annotations

import json
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from gradio_client import Client, handle_file

from samplerlab.app.ui import serve
from samplerlab.app.widgets import run_level_values, widget_values
from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.cli.main import main
from samplerlab.llama.engine import Column, Request, run
from samplerlab.llama.models import Model
from samplerlab.runs.comparisons import EXPERIMENTS_DIR, save_comparison
from samplerlab.runs.results import load_result
from samplerlab.schema.params import Settings, SettingsError

PROMPT = "Write a short poem praising light-emitting diodes."
THREE = [
    {"label": "default", "preset": "llama.cpp defaults"},
    {"label": "greedy", "settings": {"temperature": 0}},
    {"label": "hot top-k 100", "preset": "llama.cpp defaults", "settings": {"temperature": 3.0, "top_k": 100}},
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def presets_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("user-presets")


@pytest.fixture(scope="module")
def experiments_dir(tmp_path_factory) -> Path:
    """A copy of the shipped experiments, so results land in a temporary folder, not the repository."""
    target = tmp_path_factory.mktemp("experiments")
    for source in EXPERIMENTS_DIR.glob("*.yaml"):
        shutil.copyfile(source, target / source.name)
    return target


@pytest.fixture(scope="module")
def app_url(model_path, presets_dir, experiments_dir):
    bench = Workbench(LocalBackend(Model(model_path)), presets_dir=presets_dir, experiments_dir=experiments_dir)
    demo, url, _ = serve(bench, port=free_port(), block=False, say=lambda *_: None)
    yield url
    demo.close()
    bench.model.close()


@pytest.fixture
def client(app_url) -> Client:
    return Client(app_url, verbose=False)


def compare(client: Client, columns: list[dict], seed: int = 0, max_tokens: int = 16) -> list[dict]:
    result = client.predict(PROMPT, seed, max_tokens, json.dumps(columns), api_name="/compare")
    return result["columns"]


def test_three_columns_come_back_and_come_back_the_same(client):
    first, second = compare(client, THREE), compare(client, THREE)
    assert [c["label"] for c in first] == ["default", "greedy", "hot top-k 100"]
    assert [c["text"] for c in first] == [c["text"] for c in second]
    assert len({c["text"] for c in first}) == 3
    for column in first:
        assert {"label", "settings", "text", "finish_reason", "tokens"} <= set(column)
        assert column["finish_reason"] == "length" and len(column["tokens"]) == 16


def test_the_api_gives_what_the_library_gives(client, model):
    api = compare(client, THREE[1:2], max_tokens=12)[0]
    library = run(model, Request(PROMPT), [Column("greedy", Settings({"temperature": 0, "max_tokens": 12}))])
    assert api["text"] == library.columns[0].text
    assert api["settings"]["temperature"] == 0


def test_save_then_load_a_preset(client, presets_dir):
    message = client.predict(
        "創作向け", "more adventurous", json.dumps({"temperature": 1.3, "min_p": 0.1}), False, api_name="/save_preset"
    )
    assert message == "saved preset '創作向け'"
    text = client.predict("創作向け", api_name="/preset")
    assert "name: 創作向け" in text and "temperature: 1.3" in text and "min_p: 0.1" in text
    assert [p.name for p in presets_dir.iterdir()] == ["創作向け.yaml"]
    used = compare(client, [{"label": "mine", "preset": "創作向け"}], max_tokens=4)[0]
    assert used["settings"]["temperature"] == 1.3


@pytest.mark.parametrize(
    "content, message",
    [
        ("name: broken\ntemperature: [1, 2\n", "YAML syntax error"),
        ("name: hot\ntemprature: 3\n", "did you mean 'temperature'"),
        ("name: x\ntop_p: 7\n", "top_p"),
        ("!!python/object/apply:os.system ['echo hacked']\n", "uploaded file"),
    ],
)
def test_a_bad_upload_shows_the_error_and_saves_nothing(client, presets_dir, tmp_path, content, message):
    before = sorted(presets_dir.iterdir())
    upload = tmp_path / "upload.yaml"
    upload.write_text(content, encoding="utf-8")
    status, *_ = client.predict(handle_file(str(upload)), False, api_name="/upload_preset")
    assert status.startswith("✗") and message in status
    assert sorted(presets_dir.iterdir()) == before


def test_a_good_upload_is_saved_under_its_own_name(client, presets_dir, tmp_path):
    upload = tmp_path / "anything at all.yaml"
    upload.write_text("name: uploaded one\ntemperature: 0.5\n", encoding="utf-8")
    status, *_ = client.predict(handle_file(str(upload)), False, api_name="/upload_preset")
    assert status == "✓ uploaded preset 'uploaded one'"
    assert (presets_dir / "uploaded-one.yaml").read_text(encoding="utf-8").count("temperature: 0.5") == 1


def test_bad_columns_are_a_clear_error(client):
    with pytest.raises(Exception, match="columns: not valid JSON"):
        client.predict(PROMPT, 0, 4, "[{", api_name="/compare")
    with pytest.raises(Exception, match=r"columns\[0\]: .*temperature"):
        client.predict(PROMPT, 0, 4, json.dumps([{"label": "x", "settings": {"temperature": -1}}]), api_name="/compare")


def test_a_prompt_longer_than_the_context_is_a_clear_error(client):
    with pytest.raises(Exception, match="shorten the prompt or raise n_ctx"):
        client.predict("word " * 3000, 0, 4, json.dumps([{"label": "x"}]), api_name="/compare")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('["\\n", "魔理沙:", "。"]', ["\n", "魔理沙:", "。"]),
        ('["\\\\x"]', ["\\x"]),
        ("", []),
    ],
)
def test_the_prompt_panels_stop_strings_keep_any_text(raw, expected):
    assert run_level_values(-1, 16, raw) == {"seed": -1, "max_tokens": 16, "stop": expected}


def test_a_malformed_stop_list_is_one_clear_line():
    with pytest.raises(SettingsError, match=r"^stop: expected JSON, e.g. \["):
        run_level_values(0, 16, '["unclosed')


def test_four_clients_at_once_each_get_what_they_get_alone(app_url):
    requests = [
        [{"label": f"t{t}", "settings": {"temperature": t}}, {"label": "k5", "settings": {"top_k": 5}}]
        for t in (0.3, 0.9, 1.5, 2.5)
    ]
    alone = [[c["text"] for c in compare(Client(app_url, verbose=False), r, seed=3)] for r in requests]
    with ThreadPoolExecutor(4) as pool:
        together = list(
            pool.map(lambda r: [c["text"] for c in compare(Client(app_url, verbose=False), r, seed=3)], requests)
        )
    assert together == alone


def test_sharing_without_internet_warns_and_keeps_serving_locally(model_path):
    import urllib.request

    said: list[str] = []
    bench = Workbench(LocalBackend(Model(model_path)), allow_any_path=False)
    demo, url, share_url = serve(bench, port=free_port(), share=True, block=False, say=said.append)
    try:
        assert share_url is None
        assert any("anyone with the link can use this app" in line for line in said)
        assert any("serving locally only" in line for line in said)
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
    finally:
        demo.close()
        bench.model.close()


@pytest.mark.parametrize(
    "path, message",
    [
        ("/etc/passwd", "only .gguf files under --models-dir can be loaded"),
        ("../outside.gguf", "only .gguf files under --models-dir can be loaded"),
        ("inside.txt", "only .gguf files under --models-dir can be loaded"),
    ],
)
def test_a_shared_app_loads_models_only_from_the_models_dir(model, tmp_path, path, message):
    from samplerlab.app.workbench import WorkbenchError

    bench = Workbench(LocalBackend(model), models_dir=tmp_path / "models", allow_any_path=False)
    (tmp_path / "models").mkdir()
    with pytest.raises(WorkbenchError, match=message):
        bench.load_model(path)
    with pytest.raises(WorkbenchError, match="downloading models is off while the app is shared"):
        bench.load_model(hf_repo="a/b", hf_file="c.gguf")
    assert bench.model is model


def test_a_failed_model_load_keeps_the_old_model(model, tmp_path):
    from samplerlab.llama.models import ModelError

    bench = Workbench(LocalBackend(model))
    (tmp_path / "bad.gguf").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a GGUF model file"):
        bench.load_model(str(tmp_path / "bad.gguf"))
    assert bench.model is model and bench.model.tokenize("still works")


TIMINGS = {"date", "seconds", "tokens_per_second"}


def without_timings(value):
    """A result document minus what depends on the clock."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def cli_result(experiment: Path, out: Path, max_tokens: int | None = None) -> dict:
    args = ["run", str(experiment), "--out", str(out)] + (["--max-tokens", str(max_tokens)] if max_tokens else [])
    outcome = CliRunner().invoke(main, args)
    assert outcome.exit_code == 0, outcome.output
    return load_result(out)


def test_an_experiment_run_in_the_app_equals_the_cli_run(client, experiments_dir, tmp_path):
    status, report, result_file = client.predict("led-poem", 6, api_name="/run_experiment")
    assert status.startswith("✓") and "<iframe" in report
    from_app = load_result(result_file)
    from_cli = cli_result(experiments_dir / "led-poem.yaml", tmp_path / "cli.yaml", max_tokens=6)
    assert without_timings(from_app) == without_timings(from_cli)


def test_a_saved_comparison_reruns_to_the_same_result(model, tmp_path):
    columns = [
        Column("calm", Settings({"temperature": 0.3, "max_tokens": 8, "stop": ["\n\n"]})),
        Column("wild", Settings({"temperature": 1.8, "top_k": 0, "max_tokens": 8, "stop": ["\n\n"]})),
    ]
    request = Request(PROMPT, "chat", "You are a poet.")
    ran = run(model, request, columns)
    experiment, saved = save_comparison(
        "my comparison", request, ran.columns, LocalBackend(model), tmp_path, ran.rendered()
    )
    assert experiment.name == "my-comparison.yaml" and saved.parent == tmp_path / "runs"
    assert without_timings(load_result(saved)) == without_timings(cli_result(experiment, tmp_path / "again.yaml"))


# -- the Experiments tab's callbacks, without a browser ------------------------------------------
def tab(model, experiments_dir, shared=False):
    from samplerlab.app.experiments_tab import ExperimentCallbacks

    return ExperimentCallbacks(Workbench(LocalBackend(model), experiments_dir=experiments_dir), shared)


def session(name: str):
    from types import SimpleNamespace

    return SimpleNamespace(session_hash=name)


def test_the_tab_streams_each_column_then_the_report_on_the_apps_own_model(model, experiments_dir):
    outputs = list(tab(model, experiments_dir).run("led-poem", 2, session("streams")))
    assert [status for status, _, _ in outputs[:-1]] == [f"{n} of 4 columns done" for n in range(1, 5)]
    assert all(
        f"<p>{n} of 4 columns done</p>" in grid and grid.count("<article") == n and file is None
        for n, (_, grid, file) in enumerate(outputs[:-1], 1)
    )
    status, report, result_file = outputs[-1]
    assert status.startswith("✓") and "<iframe" in report
    assert load_result(result_file)["columns"][0]["token_count"] == 2


def test_the_tab_streams_in_the_pages_language(model, experiments_dir):
    """In Japanese, the status line, the progress cards and the report in the frame are Japanese."""
    outputs = list(tab(model, experiments_dir).run("led-poem", 2, session("streams-ja"), "ja"))
    assert [status for status, _, _ in outputs[:-1]] == [f"4 列中 {n} 列が完了" for n in range(1, 5)]
    assert all(f"<p>4 列中 {n} 列が完了</p>" in grid for n, (_, grid, _) in enumerate(outputs[:-1], 1))
    report = outputs[-1][1]
    assert "lang=&quot;ja&quot;" in report and "&lt;h2&gt;統計&lt;/h2&gt;" in report


def test_stop_ends_the_sessions_experiment_between_steps_and_writes_no_result(model, experiments_dir, tmp_path):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "long.yaml").write_text(
        "prompt: hi\nseeds: [0, 1, 2, 3, 4, 5, 6, 7]\nmax_tokens: 2\n"
        "columns: [{label: a}, {label: b, temperature: 0, max_tokens: 40}]\n"  # b runs on after a ends
    )
    calls, me = tab(model, folder), session("stopper")
    calls.stop(session("someone else"))  # another session's Stop changes nothing here
    run = calls.run("long", None, me)
    first = next(run)
    calls.stop(me)
    *_, (status, grid, result_file) = [first, *run]
    assert "stopped after" in status and "no result file is written" in status and "⏹" not in status  # no font has ⏹
    assert result_file is None and "<article" in grid and not (folder / "runs").exists()
    again = calls.run("long", 1, me)  # that Stop is used up: the next run goes on
    assert [status for status, _, _ in again][-1].startswith("✓ long-")


def test_a_shared_app_saves_no_comparison(model, experiments_dir):
    calls = tab(model, experiments_dir, shared=True)
    list(calls.bench.stream("s", Request("hi"), [Column("a", Settings({"max_tokens": 2}))]))
    before = sorted(experiments_dir.iterdir())
    assert calls.save("mine", "en", session("s")) == "✗ saving experiments is off while the app is shared"
    assert calls.save("mine", "ja", session("s")) == "✗ 共有中は実験を保存できません"
    assert sorted(experiments_dir.iterdir()) == before


@pytest.mark.parametrize("raw, expected", [(None, None), ("", None), ("  ", None), ("0", 0), (" 12 ", 12), (7, 7)])
def test_the_tabs_max_tokens_field_is_the_files_when_empty_and_a_number_otherwise(raw, expected):
    from samplerlab.app.experiments_tab import tokens_override

    assert tokens_override(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "1.5", "abc", "٣", "1e3"])
def test_a_max_tokens_field_that_is_no_whole_number_is_one_line_in_either_language(raw):
    from samplerlab.app.experiments_tab import tokens_override
    from samplerlab.runs.experiments import ExperimentError
    from samplerlab.words.errors_ja import localize

    with pytest.raises(ExperimentError) as caught:
        tokens_override(raw)
    assert str(caught.value) == (
        "max tokens: expected a whole number, 0 or more (0: until the context is full), "
        f"or nothing for the file's own; got {raw!r}"
    )
    assert localize(str(caught.value), "ja") == (
        "最大トークン数: 0 以上の整数（0 はコンテキストが埋まるまで）か、空欄（ファイルの値）を指定してください"
        f"（受け取った値: {raw!r}）"
    )


def test_the_tabs_max_tokens_empty_keeps_the_files_and_0_runs_until_the_context_is_full(model, tmp_path):
    """Empty: each column's own max_tokens; a number: every column's; 0: no limit but the context (a small one
    here, so the run is short), as 0 means in the Compare tab and the CLI."""
    (tmp_path / "short.yaml").write_text(
        f"prompt: {PROMPT}\nmax_tokens: 5\nload: {{n_ctx: 96}}\n"
        "columns: [{label: a}, {label: b, settings: {max_tokens: 3}}]\n",
        encoding="utf-8",
    )
    calls = tab(model, tmp_path)

    def columns(field):
        *_, (status, _, result_file) = calls.run("short", field, session("tokens"))
        assert status.startswith("✓"), status
        return load_result(result_file)["columns"]

    assert [c["token_count"] for c in columns("")] == [5, 3]
    assert [c["token_count"] for c in columns("2")] == [2, 2]
    unbounded = columns("0")
    assert [c["settings"]["max_tokens"] for c in unbounded] == [0, 0]
    assert {c["finish_reason"] for c in unbounded} <= {"context", "end", "stop"}  # no bound of max_tokens


def test_a_shared_apps_max_tokens_0_runs_its_bound_and_says_so(model, experiments_dir):
    from samplerlab.runs.experiments import load_experiment

    bench = Workbench(LocalBackend(model), experiments_dir=experiments_dir, shared=True)
    notes: list[str] = []
    limit = bench.limits.tokens
    _, options = bench.experiment_run(load_experiment(experiments_dir / "led-poem.yaml"), 0, notes)
    assert options["max_tokens"] == limit
    assert notes == [f"max tokens 0 runs at most {limit} tokens per column while the app is shared"]


# -- the model line ------------------------------------------------------------------------------
def test_the_model_line_says_at_load_when_chat_mode_cannot_run_and_what_a_chat_run_says(model_path, untemplated_path):
    import gradio as gr

    from samplerlab.app.ui import MAX_COLUMNS, Callbacks
    from samplerlab.words.i18n import t

    calls = Callbacks(Workbench(LocalBackend(Model(model_path))))  # its own: a load closes the model it replaces
    assert t("no_template_hint", "en") not in calls.model_markdown("en")
    calls.load_model(session("loader"), "en", str(untemplated_path), "", "")
    for lang in ("en", "ja"):
        assert t("no_template_hint", lang) in calls.model_markdown(lang)
    flat = [0, 4, "", *(v for _ in range(3) for v in widget_values(Settings()))]
    with pytest.raises(gr.Error) as caught:
        list(calls.run(session("chat"), "ja", "chat", "", PROMPT, "", "error", "", 3, *flat))
    assert caught.value.message == "no-template.gguf にはチャットテンプレートがありません。raw モードを使ってください"
    raw = list(calls.run(session("raw"), "en", "raw", "", PROMPT, "", "error", "", 3, *flat))[-1]
    stats = raw[2 * MAX_COLUMNS : 2 * MAX_COLUMNS + 3]
    assert all(" tokens · " in line for line in stats), stats  # the hint's way out works: every column ran
    calls.bench.model.close()
