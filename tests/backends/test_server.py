"""The llama-server backend against real llama-servers of the same llama.cpp commit (no mocks).

Parity: with samplerlab's load settings (flash attention off, one KV stream per slot) a server's
columns are the local engine's, token for token; the token view replayed from its top candidates
matches the local numbers wherever the replay says it is exact. Faults: each one line.
"""

from __future__ import annotations

import dataclasses
import http.server
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.backends import BackendError, check_independence, open_backend
from samplerlab.backends.local import LocalBackend
from samplerlab.backends.server import UNREPORTED, ServerBackend
from samplerlab.backends.server_model import describe_model
from samplerlab.cli.main import main
from samplerlab.events import Column, ColumnDone, GenerationError, Queued, Request, TokenEvent, collect
from samplerlab.llama.engine import run
from samplerlab.runs.comparisons import run_file
from samplerlab.runs.results import load_result
from samplerlab.runs.runner import check_result
from samplerlab.schema.params import Settings
from samplerlab.words.i18n import model_summary
from tests.conftest import PARITY_FLAGS, LlamaServer

PROMPT = "Write a short poem praising light-emitting diodes."
# The measured parity set: every stage family, Mirostat 1 and 2, another seed.
SETTINGS = {
    "defaults": {},
    "greedy": {"temperature": 0},
    "hot top-k 100": {"temperature": 3.0, "top_k": 100},
    "min-p": {"top_k": 0, "top_p": 1.0, "min_p": 0.1, "temperature": 1.0},
    "xtc + dry": {"xtc_probability": 0.5, "xtc_threshold": 0.1, "dry_multiplier": 0.8},
    "mirostat 1": {"mirostat": 1},
    "mirostat 2": {"mirostat": 2, "mirostat_tau": 4.0},
    "top-nσ": {"top_n_sigma": 1.0},
    "typical": {"typical_p": 0.5},
    "penalties": {"repeat_penalty": 1.3, "frequency_penalty": 0.5, "presence_penalty": 0.5},
    "dynamic temperature": {"dynatemp_range": 0.5},
    "seed 7": {"seed": 7},
}


def columns(names, max_tokens: int = 24) -> list[Column]:
    return [Column(name, Settings({"max_tokens": max_tokens, **SETTINGS[name]})) for name in names]


@pytest.fixture(scope="module")
def backend(server: LlamaServer) -> ServerBackend:
    return ServerBackend(server.url)


def test_info_comes_from_the_servers_props(backend: ServerBackend, model_path: Path) -> None:
    info = backend.info
    assert (info.kind, info.file_name, info.quantization) == ("llama-server", model_path.name, "Q4_1")
    assert (info.parallel, info.context_per_column, info.traces_stages) == (4, 2048, "replayed")
    assert info.chat_template and info.vocab_size == 49152 and info.llama_cpp_build.endswith("0c1e570")
    assert info.architecture == "llama"  # from the file's header: no endpoint reports it (server_model)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_servers_model_line_is_the_line_the_same_file_gets_loaded_here(
    backend: ServerBackend, model, lang: str
) -> None:
    """The server runs the embedded model from a path readable here: its line names the architecture,
    the model's own name and the file's size exactly as the local model's line does."""
    local = LocalBackend(model).info
    assert model_summary(backend.info, lang) == model_summary(local, lang)
    assert "unknown" not in model_summary(backend.info, lang)


def test_a_file_that_is_not_the_servers_model_lends_it_nothing(backend: ServerBackend, tmp_path: Path) -> None:
    """The real server's reports, with its model_path elsewhere (a server on another machine) or pointing
    at a file whose header disagrees with the server's meta: the architecture is said to be unreported."""
    elsewhere = describe_model({**backend.props, "model_path": str(tmp_path / "SmolLM2.gguf")}, backend.meta)
    other_file = describe_model(backend.props, {**backend.meta, "n_embd": backend.meta["n_embd"] + 1})
    for model in (elsewhere, other_file):
        assert model.architecture == "" and model.quantization == backend.info.quantization
        assert model.parameters == backend.info.parameters and model.vocab_size == 49152
        info = dataclasses.replace(backend.info, architecture=model.architecture, name=model.name)
        assert "(architecture not reported by the server, 135M params, Q4_1" in model_summary(info, "en")
        assert "（アーキテクチャはサーバーが報告しない、パラメータ 135M" in model_summary(info, "ja")
    assert other_file.name == Path(backend.info.file_name).stem  # the file's stem, not its header's general.name


@pytest.mark.parametrize("mode", ["chat", "raw"])
def test_server_columns_equal_local_columns_token_for_token(backend: ServerBackend, model, mode: str) -> None:
    request = Request(PROMPT if mode == "chat" else "ユーザー: おはよう\n魔理沙: ", mode)
    for start in range(0, len(SETTINGS), 4):
        batch = columns(list(SETTINGS)[start : start + 4])
        local = run(model, request, batch).columns
        remote = collect(backend.generate(request, batch), len(batch))
        for here, there in zip(local, remote):
            # llama-server leaves out tokens that end inside a character (UNREPORTED): the rest must agree
            assert len(there.tokens) == len(here.tokens), here.label
            assert all(b.token_id in (a.token_id, UNREPORTED) for a, b in zip(here.tokens, there.tokens)), here.label
            assert there.finish_reason == here.finish_reason, here.label
            if there.text != here.text:  # a run that ends inside a character: the server never sent its bytes
                cut = there.text.rstrip("\ufffd")
                assert here.text.startswith(cut) and len(here.text) - len(cut) <= 3, here.label


def test_replayed_token_view_matches_the_local_numbers_where_exact(backend: ServerBackend, model) -> None:
    request = Request(PROMPT)
    batch = columns(["defaults", "min-p", "xtc + dry", "greedy"], max_tokens=32)
    local = run(model, request, batch).columns
    remote = collect(backend.generate(request, batch), len(batch))
    exact = 0
    for here, there in zip(local, remote):
        for mine, theirs in zip(here.tokens, there.tokens):
            assert theirs.raw_prob == pytest.approx(mine.raw_prob, rel=1e-3, abs=1e-6)
            assert [c.token_id for c in theirs.before] == [c.token_id for c in mine.before]
            if theirs.approximate is None:
                exact += 1
                assert theirs.prob == pytest.approx(mine.prob, rel=1e-3, abs=1e-6), (here.label, mine.index)
                assert theirs.survivors == mine.survivors, (here.label, mine.index)
                assert theirs.cut_by == mine.cut_by, (here.label, mine.index)
                assert [c.token_id for c in theirs.after] == [c.token_id for c in mine.after]
    assert exact >= 64  # the default chain's cuts fall inside the 64 recorded candidates


def test_replay_says_when_it_cannot_be_exact(backend: ServerBackend) -> None:
    result = collect(backend.generate(Request(PROMPT), columns(["top-nσ", "mirostat 2"], 4)), 2)
    assert all("top-nσ measures the spread" in t.approximate for t in result[0].tokens)
    assert all("Mirostat" in t.approximate for t in result[1].tokens)


def test_more_columns_than_slots_queue_and_say_so(backend: ServerBackend, model) -> None:
    batch = columns(list(SETTINGS)[:6], max_tokens=8)
    events = list(backend.generate(Request(PROMPT), batch))
    queued = [e for e in events if isinstance(e, Queued)]
    assert queued == [Queued((4, 5), 4)]
    remote = [e.result for e in sorted((e for e in events if isinstance(e, ColumnDone)), key=lambda e: e.column)]
    assert [r.text for r in remote] == [r.text for r in run(model, Request(PROMPT), batch).columns]


def test_knobs_a_server_cannot_run_are_refused(backend: ServerBackend) -> None:
    for settings, word in (
        ({"tfs_z": 0.5}, "tfs_z"),
        ({"penalize_prompt": False, "repeat_penalty": 1.2}, "penalize_prompt"),
        ({"mirostat": 2, "samplers": "llama-cpp-python"}, "mirostat"),
    ):
        with pytest.raises(GenerationError, match=word):
            list(backend.generate(Request(PROMPT), [Column("x", Settings(settings))]))


def test_independence_probe_sees_a_unified_kv_cache(
    server: LlamaServer, backend: ServerBackend, model_path: Path
) -> None:
    assert check_independence(backend).independent
    unified = LlamaServer(model_path, "-fa", "off", "-np", "4", "-kvu", "-c", "8192")
    try:
        assert not check_independence(ServerBackend(unified.url)).independent
    finally:
        unified.stop()


def test_a_server_that_dies_under_the_probe_gets_advice(model_path: Path) -> None:
    doomed = LlamaServer(model_path, *PARITY_FLAGS)
    backend = ServerBackend(doomed.url)
    doomed.stop()
    with pytest.raises(
        BackendError,
        match=r"this was samplerlab's first probe of it: if llama-server crashed "
        r"there, start it with --no-repack \(with repack on",
    ):
        check_independence(backend)


def test_compare_on_a_server_prints_the_local_table(server: LlamaServer) -> None:
    arguments = [
        "compare",
        PROMPT,
        "--column",
        "temperature=0.8",
        "--column",
        "temperature=0",
        "--seed",
        "0",
        "--max-tokens",
        "16",
        "--width",
        "80",
    ]
    local = CliRunner().invoke(main, arguments)
    remote = CliRunner().invoke(main, [*arguments, "--server", server.url])
    assert remote.exit_code == 0, remote.output
    strip = lambda text: [line for line in text.splitlines() if "tok/s" not in line]  # noqa: E731
    assert strip(remote.output) == strip(local.output)


EXPERIMENT = """\
prompt: "Write a short poem praising light-emitting diodes."
seed: 3
max_tokens: 12
sweep:
  temperature: [0.2, 0.6, 1.0, 1.4, 1.8, 2.2]
"""


def test_an_experiment_over_two_servers_equals_one_server_and_checks(server, second_server, tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(EXPERIMENT, encoding="utf-8")
    one, _ = run_file(path, tmp_path / "one.yaml", servers=[server.url])
    two, written = run_file(path, tmp_path / "two.yaml", servers=[server.url, second_server.url])
    assert [c["text"] for c in two["columns"]] == [c["text"] for c in one["columns"]]
    assert {c["label"] for c in two["columns"]} == {c["label"] for c in one["columns"]}
    assert two["backend"]["kind"] == "llama-server" and two["backend"]["independence"]["independent"] is True
    assert two["backend"]["location"] == f"{server.url} {second_server.url}"
    document = load_result(written)
    with open_backend(servers=[server.url]) as backend:
        assert check_result(backend, document).reproduced


def test_a_server_that_dies_mid_run_has_its_columns_retried(model_path: Path, server, tmp_path: Path) -> None:
    doomed = LlamaServer(model_path, *PARITY_FLAGS)
    pool = open_backend(servers=[doomed.url, server.url])
    batch = [Column(f"t{i}", Settings({"temperature": 0.5 + 0.1 * i, "seed": i, "max_tokens": 48})) for i in range(8)]
    started = threading.Event()

    def kill_when_started() -> None:
        started.wait(60)
        doomed.stop()

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    results: dict[int, object] = {}
    for event in pool.generate(Request(PROMPT), batch):
        if isinstance(event, TokenEvent):
            started.set()
        elif isinstance(event, ColumnDone):
            results[event.column] = event.result
    killer.join()
    expected = collect(ServerBackend(server.url).generate(Request(PROMPT), batch), 8)
    assert [results[i].text for i in range(8)] == [r.text for r in expected]
    assert any("failed mid-run" in note for note in pool.notes)


def test_api_key_is_sent_and_never_written(model_path: Path, tmp_path: Path) -> None:
    secret = "sk-samplerlab-test-4242"
    guarded = LlamaServer(model_path, *PARITY_FLAGS, "--api-key", secret)
    try:
        with pytest.raises(BackendError, match=r"refused with HTTP 401 \(it needs an API key"):
            ServerBackend(guarded.url)
        with pytest.raises(BackendError, match="wrong API key"):
            ServerBackend(guarded.url, "nope")
        path = tmp_path / "e.yaml"
        path.write_text(EXPERIMENT.replace("[0.2, 0.6, 1.0, 1.4, 1.8, 2.2]", "[0.5]"), encoding="utf-8")
        runner = CliRunner(env={"SAMPLERLAB_API_KEY": secret})
        outcome = runner.invoke(main, ["run", str(path), "--server", guarded.url, "--out", str(tmp_path / "r.yaml")])
        assert outcome.exit_code == 0, outcome.output
        assert secret not in outcome.output and secret not in (tmp_path / "r.yaml").read_text(encoding="utf-8")
    finally:
        guarded.stop()


def one_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_an_unreachable_server_is_one_line() -> None:
    port = LlamaServer.__init__.__globals__["_free_port"]()
    line = one_line(CliRunner().invoke(main, ["compare", "hi", "--server", f"127.0.0.1:{port}"]))
    assert (
        line == f"Error: http://127.0.0.1:{port}: cannot connect (Connection refused); is llama-server running there?"
    )


class _NotLlama(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"<html>a web page</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_something_that_is_not_a_llama_server_is_one_line() -> None:
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotLlama)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{other.server_address[1]}"
        line = one_line(CliRunner().invoke(main, ["compare", "hi", "--server", url]))
        assert line == f"Error: {url}: /props did not answer with JSON; not a llama-server?"
    finally:
        other.shutdown()


def test_a_stalled_server_times_out_and_keeps_nothing_half_written(model_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SAMPLERLAB_SERVER_TIMEOUT", "3")
    stalled = LlamaServer(model_path, *PARITY_FLAGS)
    try:
        backend = ServerBackend(stalled.url)
        events = []
        with pytest.raises(BackendError, match="sent no complete event within 3 s"):
            for event in backend.generate(Request(PROMPT), columns(["greedy", "defaults"], max_tokens=200)):
                events.append(event)
                if isinstance(event, TokenEvent) and event.index == 2:
                    stalled.pause()
        ends = [e.result.finish_reason for e in events if isinstance(e, ColumnDone)]
        assert ends == ["cancelled", "cancelled"]
    finally:
        stalled.stop()


def test_a_prompt_longer_than_a_slot_is_one_line(server: LlamaServer) -> None:
    line = one_line(CliRunner().invoke(main, ["compare", "light " * 3000, "--mode", "raw", "--server", server.url]))
    assert line.startswith("Error: the prompt is 3001 tokens but ") and "holds 2048 per slot" in line


def test_bench_on_a_server_prints_the_ratio(server: LlamaServer) -> None:
    result = CliRunner().invoke(
        main, ["bench", "--server", server.url, "--columns", "2", "--tokens", "8", "--repeat", "1"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[2].startswith("one column after another") and lines[3].startswith("samplerlab (all at once)")
    assert lines[4].startswith("ratio=")


def test_a_conversation_renders_and_fits_on_a_server_as_it_does_locally(backend: ServerBackend, model) -> None:
    from samplerlab.chats.chat_files import Message
    from samplerlab.llama.engine import prompt_text

    history = tuple(Message("user" if i % 2 == 0 else "assistant", f"Turn {i}: " + "light " * 300) for i in range(8))
    request = Request("And now?", history=history, context_policy="drop_oldest")
    info: dict = {}
    remote = collect(backend.generate(request, columns(["greedy"], 8), info=info), 1)[0]
    dropped = info["context"]["dropped"]
    assert info["context"] == {"policy": "drop_oldest", "dropped": dropped} and dropped > 0
    kept = Request("And now?", history=history[dropped:])
    assert info["prompt_text"] == prompt_text(model, kept) == backend.prompt_text(kept)
    assert [t.token_id for t in remote.tokens] == [
        t.token_id for t in run(model, kept, columns(["greedy"], 8)).columns[0].tokens
    ]
    with pytest.raises(GenerationError, match=r"^chat: the conversation is \d+ tokens but the context holds 2047 per"):
        collect(backend.generate(Request("And now?", history=history), columns(["greedy"], 8)), 1)


def test_a_single_server_that_dies_mid_run_ends_the_run_in_one_line(model_path: Path) -> None:
    doomed = LlamaServer(model_path, *PARITY_FLAGS)
    backend = ServerBackend(doomed.url)
    events = []
    with pytest.raises(
        BackendError,
        match=rf"^{doomed.url}: (the server closed the stream mid-run|"
        r"the connection broke mid-run)",
    ):
        for event in backend.generate(Request(PROMPT), columns(["greedy", "defaults"], max_tokens=300)):
            events.append(event)
            if isinstance(event, TokenEvent) and event.index == 3:
                doomed.stop()
    assert [e.result.finish_reason for e in events if isinstance(e, ColumnDone)] == ["cancelled", "cancelled"]


def _gone(pid: int) -> bool:
    """Exited (a zombie no one has reaped yet counts: it holds no memory and serves nothing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status or "\nState:\tX" in status


def test_a_test_process_killed_outright_takes_its_servers_with_it(model_path: Path) -> None:
    """SIGKILL leaves no time for fixtures' teardown: the kernel ends the server (PR_SET_PDEATHSIG)."""
    import os
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[2]
    script = (
        "import os, signal, sys\n"
        f"sys.path[:0] = [{str(root)!r}]\n"
        "from pathlib import Path\n"
        "from tests.conftest import PARITY_FLAGS, LlamaServer\n"
        f"server = LlamaServer(Path({str(model_path)!r}), *PARITY_FLAGS)\n"
        "print(server.process.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    test_process = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert test_process.returncode == -9, test_process.stderr
    server_pid = int(test_process.stdout.split()[0])
    deadline = time.monotonic() + 30
    while not _gone(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(server_pid), f"llama-server {server_pid} outlived the test process that started it"
