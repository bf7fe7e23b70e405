"""`samplerlab blind` in a real terminal (a pty): read keys, vote, reveal, quit; then `samplerlab votes`
ranks that file, writes its report, checks its texts again, and refuses a bad file in one line."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.cli.main import main
from samplerlab.runs.votes import load_votes

ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    """A process on a pseudo-terminal: ``expect`` waits for text, ``send`` types keys."""

    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "samplerlab", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0 and self.process.poll() is None or text in self.seen, f"no {text!r} in:\n{self.seen}"
            ready, _, _ = select.select([self.master], [], [], min(left, 1))
            if ready:
                try:
                    self.seen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    break
        assert text in self.seen, f"no {text!r} in:\n{self.seen}"
        return self.seen

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)
        os.close(self.master)


@pytest.fixture(scope="module")
def voted(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("blind") / "votes.jsonl"
    terminal = Terminal(
        "blind", "--preset", "greedy", "--preset", "min-p creative", "--prompt", "Say hi.", "--prompt",
        "Name a colour.", "--seeds", "2", "--max-tokens", "8", "--out", str(path), "--voter", "tester",
    )  # fmt: skip
    try:
        terminal.expect("1: A better  2: B better  3: tie  4: both bad  r: reveal  q: quit")
        for key, count in (("1", 1), ("x", None), ("2", 2), ("3", 3), ("4", 4), ("1", 5)):
            terminal.send(key)
            if count is not None:
                terminal.expect(f"{count} votes so far")
        terminal.send("r")
        terminal.expect("left side chosen in")
        terminal.send("q")
        shown = terminal.expect(f"wrote {path} (5 votes, voter tester)")
        assert terminal.process.wait(30) == 0
    finally:
        terminal.close()
    assert "--- A " in shown and "--- B " in shown and "pair 1 · prompt" in shown
    assert "greedy" not in shown.split("Bradley-Terry")[0]  # the settings stay hidden until the reveal
    return path


def test_terminal_votes_are_in_the_file(voted: Path) -> None:
    votes = load_votes(voted)
    assert [v.choice for v in votes.votes] == ["A", "B", "tie", "bad", "A"]
    assert {v.voter for v in votes.votes} == {"tester"} and all(all(v.texts) for v in votes.votes)


def test_votes_prints_the_ranking_and_writes_the_report(voted: Path, tmp_path: Path) -> None:
    shown = CliRunner().invoke(main, ["votes", str(voted)])
    assert shown.exit_code == 0, shown.output
    assert "Bradley-Terry strength" in shown.output and "greedy / min-p creative: 5" in shown.output
    assert "can't tell" in shown.output  # five mixed votes decide nothing
    out = tmp_path / "report.html"
    japanese = CliRunner().invoke(main, ["votes", str(voted), "--lang", "ja", "--out", str(out)])
    assert japanese.exit_code == 0 and "ブートストラップ区間" in japanese.output
    assert "まだ区別できません" in out.read_text(encoding="utf-8")


def test_votes_check_regenerates_the_texts(voted: Path) -> None:
    checked = CliRunner().invoke(main, ["votes", str(voted), "--check"])
    assert checked.exit_code == 0, checked.output
    assert "reproduced 10 texts" in checked.output


def test_continuing_a_file_in_the_terminal_adds_votes(voted: Path, tmp_path: Path) -> None:
    copy = tmp_path / "again.jsonl"
    copy.write_bytes(voted.read_bytes())
    terminal = Terminal("blind", "--continue", str(copy))
    try:
        terminal.expect("pair 2 · prompt 2")  # 5 votes on a schedule of 4: the voter goes on at the 2nd pair
        terminal.send("2")
        terminal.expect("6 votes so far")
        terminal.send("q")
        terminal.expect("(6 votes, voter tester)")
    finally:
        terminal.close()
    assert load_votes(copy).votes[-1].choice == "B"


def test_a_bad_votes_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"samplerlab_votes": 1, "model": {}, "mode": "chat", "prompts": []}\n', encoding="utf-8")
    shown = CliRunner().invoke(main, ["votes", str(bad)])
    assert shown.exit_code == 1 and "Traceback" not in shown.output
    assert shown.output.strip() == f"Error: {bad}:1: key 'prompts': expected a non-empty list of texts"


def test_a_bad_votes_file_is_one_line_in_japanese(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"samplerlab_votes": 1}\n', encoding="utf-8")
    shown = CliRunner().invoke(main, ["--lang", "ja", "votes", str(bad)])
    assert shown.exit_code == 1 and shown.output.strip() == f"エラー: {bad}:1: キー 'model' がありません"


STUDY = Path(__file__).resolve().parent.parent.parent / "experiments" / "led-poem-blind-votes.jsonl"
README = Path(__file__).resolve().parent.parent.parent / "README.md"


def test_the_readme_shows_what_votes_prints_for_the_led_poem_study() -> None:
    """The README's blind-test output is this command's output on the committed votes file, verbatim: the
    ranking depends on the votes alone (the bootstrap's seed is fixed), not on the CPU that wrote the texts."""
    shown = CliRunner().invoke(main, ["votes", str(STUDY)])
    assert shown.exit_code == 0, shown.output
    assert f"$ samplerlab votes experiments/led-poem-blind-votes.jsonl\n{shown.output}```" in README.read_text(
        encoding="utf-8"
    )
