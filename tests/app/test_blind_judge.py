"""The judge in the Blind test tab (issue 18, item 1), against a real llama-server serving the embedded
model: the host names its URL, its votes land in the test's votes file marked as the judge's, and the
reveal shows its agreement with the person. Shared, a visitor's click reaches no URL (SSRF). The
embedded model is far too small to judge well: nothing here asserts what it prefers."""

from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import pytest

from samplerlab.app.blind_tab import BlindCallbacks
from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.runs.votes import load_votes


def request(name: str):
    return SimpleNamespace(session_hash=name, query_params={})


def started(bench: Workbench, votes: str = "ABA") -> BlindCallbacks:
    """The host's test of greedy against min-p creative, with ``votes`` cast by the host."""
    calls = BlindCallbacks(bench)
    host = request("host")
    status, *_ = calls.start(
        True, "en", ["greedy", "min-p creative"], False, "Say hi.", False, len(votes), 8, "chat", "", "", "error", host
    )
    assert status == "", status
    for choice in votes:
        calls.vote(choice, "en", host)
    return calls


@pytest.fixture
def listener():
    """A socket on 127.0.0.1 standing for an address only the host's machine can reach; ``hits`` counts
    the connections it was asked for (each closed at once, so a request to it fails fast)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    hits: list[int] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            hits.append(1)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{sock.getsockname()[1]}", hits=hits)
    sock.close()


def test_the_host_lets_a_real_judge_vote_into_the_file_and_the_reveal_shows_agreement(model, server, tmp_path):
    calls = started(Workbench(LocalBackend(model), presets_dir=tmp_path / "presets"))
    line = calls.judge(True, "en", server.url)
    assert calls.session is not None
    votes = load_votes(calls.session.file.path)
    judged = [v for v in votes.votes if v.judge]
    first = line.splitlines()[0].rstrip()
    assert first.startswith("judge ") and first.endswith(" abstentions"), line
    counted, abstained = int(first.split(": ")[1].split()[0]), int(first.split(", ")[-1].split()[0])
    assert counted == len(judged) and len(judged) + abstained == 3 and all(v.voter == "judge" for v in judged)
    assert [v.choice for v in votes.votes if not v.judge] == ["A", "B", "A"]  # the person's votes are unchanged
    assert ("Cohen's kappa" if judged else "no pair voted on by both the judge and a person") in line
    shown, _ = calls.reveal(True, "en")
    assert ("judge vs person: Cohen's kappa" in shown) == bool(judged)  # the reveal shows it once it voted
    again = calls.judge(True, "ja", server.url)  # every pair judged: nothing new, in Japanese
    assert again.startswith("審査役 ") and "0 票（うち引き分け 0" in again and f"棄権 {abstained}" in again


def test_a_judge_url_that_is_no_llama_server_is_one_line(model, tmp_path, listener):
    calls = started(Workbench(LocalBackend(model), presets_dir=tmp_path / "presets"), votes="A")
    assert calls.judge(True, "en", "") == "give the judge's llama-server URL (http://host:port)"
    line = calls.judge(True, "en", listener.url)
    assert listener.hits and "\n" not in line and listener.url.split("//")[1] in line, line
    assert calls.judge(True, "en", "file:///etc/passwd").count("\n") == 0


def test_shared_a_visitor_cannot_make_the_app_request_a_url(model, tmp_path, listener):
    bench = Workbench(LocalBackend(model), presets_dir=tmp_path / "presets", shared=True)
    calls = started(bench, votes="A")
    assert calls.judge(False, "en", listener.url) == "Only the host can call a judge in the group test"
    assert calls.judge(False, "ja", listener.url) == "グループテストで審査役を呼べるのはホストだけです"
    assert listener.hits == []  # no connection was even tried
    calls.judge(True, "en", listener.url)  # the host's click does reach it: the listener sees requests
    assert listener.hits
