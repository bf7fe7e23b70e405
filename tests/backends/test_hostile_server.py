"""A hostile llama-server (tests/backends/hostile.py) cannot make samplerlab allocate without bound,
hang, or print our API key: every count it claims is clamped to what was asked, every answer and
every streamed event has an overall deadline, and our key is redacted from all it sends back."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.backends import BackendError
from samplerlab.backends import server as server_module
from samplerlab.backends.server import ServerBackend
from samplerlab.cli.main import main
from samplerlab.events import Column, Request, collect
from samplerlab.schema.params import Settings
from samplerlab.words.errors_ja import localize
from tests.backends.hostile import HostileServer, event, forever, token

SECRET = "sk-hostile-echo-31337"


@pytest.fixture
def hostile(request):
    servers: list[HostileServer] = []

    def start(**kwargs) -> HostileServer:
        servers.append(HostileServer(**kwargs))
        return servers[-1]

    yield start
    for running in servers:
        running.stop()


def stream_of(*events: bytes):
    def answer(handler, body) -> None:
        HostileServer.start_stream(handler)
        for data in events:
            handler.wfile.write(data)
        handler.wfile.flush()

    return answer


def one_column(max_tokens: int) -> list[Column]:
    return [Column("c", Settings({"max_tokens": max_tokens}))]


def test_a_claimed_token_count_is_clamped_to_what_was_asked(hostile) -> None:
    claimed = 2_147_483_648
    fake = hostile(
        answers={
            "/completion": stream_of(
                event(stop=False, tokens_predicted=claimed, completion_probabilities=[token()]),
                event(stop=True, stop_type="eos", tokens_predicted=claimed, completion_probabilities=[token()]),
            )
        }
    )
    result = collect(ServerBackend(fake.url).generate(Request("hi", "raw"), one_column(8)), 1)[0]
    assert len(result.tokens) == 8


def test_a_claimed_flood_of_candidates_and_tokens_in_one_event_is_cut(hostile) -> None:
    fake = hostile(
        answers={
            "/completion": stream_of(
                event(stop=False, tokens_predicted=500, completion_probabilities=[token()] * 500),
            )
        }
    )
    result = collect(ServerBackend(fake.url).generate(Request("hi", "raw"), one_column(5)), 1)[0]
    assert (len(result.tokens), result.finish_reason) == (5, "length")


def test_an_endless_stream_without_a_limit_stops_at_the_reported_context(hostile) -> None:
    fake = hostile(props={"default_generation_settings": {"n_ctx": 40}}, answers={"/completion": forever})
    result = collect(ServerBackend(fake.url).generate(Request("hi", "raw"), one_column(0)), 1)[0]
    assert (len(result.tokens), result.finish_reason) == (40 - 3, "context")  # /tokenize gave 3 prompt tokens


def test_an_endless_stream_on_a_server_without_a_context_stops_at_the_ceiling(hostile, monkeypatch) -> None:
    monkeypatch.setattr(server_module, "UNBOUNDED_CEILING", 300)  # the real ceiling, 65,536, takes a while
    fake = hostile(props={"default_generation_settings": {"n_ctx": 0}}, answers={"/completion": forever})
    result = collect(ServerBackend(fake.url).generate(Request("hi", "raw"), one_column(0)), 1)[0]
    assert (len(result.tokens), result.finish_reason) == (300, "context")


@pytest.mark.parametrize("path", ["/props", "/tokenize"])
def test_a_server_that_drips_an_answer_meets_the_deadline(hostile, monkeypatch, path: str) -> None:
    monkeypatch.setenv("SAMPLERLAB_SERVER_TIMEOUT", "1")
    fake = hostile(drip=(path,), drip_seconds=0.3)  # a byte every 0.3 s: no read ever times out
    method = "GET" if path == "/props" else "POST"
    with pytest.raises(
        BackendError, match=rf"^{fake.url}: no complete answer to {method} {path} within 1 s$"
    ) as caught:
        backend = ServerBackend(fake.url)
        collect(backend.generate(Request("hi", "raw"), one_column(4)), 1)
    assert localize(str(caught.value), "ja").endswith(f"{method} {path} への応答が 1 秒以内に届きませんでした")


def test_a_server_that_drips_a_streamed_event_meets_the_deadline(hostile, monkeypatch) -> None:
    monkeypatch.setenv("SAMPLERLAB_SERVER_TIMEOUT", "1")

    def drip(handler, body) -> None:
        HostileServer.start_stream(handler)
        for byte in event(stop=False, tokens_predicted=1, completion_probabilities=[token()]):
            if fake.stopped.wait(0.3):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    fake = hostile(answers={"/completion": drip})
    with pytest.raises(
        BackendError, match=r"sent no complete event within 1 s \(stalled, overloaded, or sending"
    ) as caught:
        collect(ServerBackend(fake.url).generate(Request("hi", "raw"), one_column(4)), 1)
    assert "1 秒以内にイベントを送り終えませんでした" in localize(str(caught.value), "ja")


def test_the_model_lock_is_free_while_the_server_tokenizes(hostile, monkeypatch) -> None:
    monkeypatch.setenv("SAMPLERLAB_SERVER_TIMEOUT", "2")
    asked = threading.Event()
    release = threading.Event()

    def slow_tokenize(handler, body) -> None:
        asked.set()
        release.wait(10)
        data = json.dumps({"tokens": [1, 2]}).encode()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    fake = hostile(
        answers={
            "/tokenize": slow_tokenize,
            "/completion": stream_of(
                event(stop=True, stop_type="eos", tokens_predicted=1, completion_probabilities=[])
            ),
        }
    )
    backend = ServerBackend(fake.url)
    worker = threading.Thread(target=lambda: collect(backend.generate(Request("hi", "raw"), one_column(4)), 1))
    worker.start()
    assert asked.wait(10)
    free = backend.lock.acquire(blocking=False)
    if free:
        backend.lock.release()
    release.set()
    worker.join(10)
    assert free


def echoing_server(hostile) -> HostileServer:
    echo = token(f"key {SECRET}")
    return hostile(
        props={"model_path": f"/models/{SECRET}/m.gguf", "build_info": f"b1-{SECRET}"},
        answers={
            "/completion": stream_of(
                event(stop=False, tokens_predicted=1, completion_probabilities=[echo]),
                event(stop=True, stop_type="eos", tokens_predicted=2, completion_probabilities=[token(SECRET[:6])]),
            ),
            "/v1/models": json.dumps({"data": [{"meta": {"n_vocab": 49152}, "id": SECRET}]}).encode(),
        },
    )


def test_an_echoed_api_key_is_never_printed_nor_written(hostile, tmp_path: Path) -> None:
    fake = echoing_server(hostile)
    runner = CliRunner(env={"SAMPLERLAB_API_KEY": SECRET})
    shown = runner.invoke(main, ["compare", "hi", "--mode", "raw", "--server", fake.url, "--max-tokens", "4"])
    assert shown.exit_code == 0, shown.output
    assert SECRET not in shown.output and "[api key]" in shown.output
    experiment = tmp_path / "e.yaml"
    experiment.write_text("prompt: hi\nmode: raw\nmax_tokens: 4\nsweep:\n  temperature: [0.5]\n", encoding="utf-8")
    ran = runner.invoke(main, ["run", str(experiment), "--server", fake.url, "--out", str(tmp_path / "r.yaml")])
    assert ran.exit_code == 0, ran.output
    written = (tmp_path / "r.yaml").read_text(encoding="utf-8")
    assert SECRET not in ran.output and SECRET not in written and "[api key]" in written


@pytest.mark.parametrize("where", ["http error", "stream error"])
def test_an_api_key_echoed_in_an_error_is_redacted(hostile, where: str) -> None:
    error = json.dumps({"error": {"message": f"bad key {SECRET}"}}).encode()

    def http_error(handler, body) -> None:
        handler.send_response(500)
        handler.send_header("Content-Length", str(len(error)))
        handler.end_headers()
        handler.wfile.write(error)

    answer = http_error if where == "http error" else stream_of(b"error: " + error + b"\n\n")
    fake = hostile(answers={"/completion": answer})
    outcome = CliRunner(env={"SAMPLERLAB_API_KEY": SECRET}).invoke(
        main, ["compare", "hi", "--mode", "raw", "--server", fake.url]
    )
    assert outcome.exit_code == 1
    assert SECRET not in outcome.output and "bad key [api key]" in outcome.output
