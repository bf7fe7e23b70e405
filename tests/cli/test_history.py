"""`samplerlab history` (its exact listing, `export`), `run --resume` by id, and the progress line: on a
terminal (a real pty) and quiet when piped."""

from __future__ import annotations

import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from samplerlab.cli.main import main
from samplerlab.runs.progress import Progress, duration
from samplerlab.runs.results import load_result
from samplerlab.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
CLOCK = {"date", "seconds", "tokens_per_second"}
THREE = "prompt: Write a short poem praising light-emitting diodes.\nseeds: [1, 2, 3]\nmax_tokens: 4\ncolumns: [{preset: greedy}]\n"


def without_clock(value):
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in CLOCK}
    return [without_clock(v) for v in value] if isinstance(value, list) else value


def test_the_listing_is_exact_newest_first(run_store):
    store = RunStore.open(run_store)
    for prompt, seeds, status in (
        ("short", [1], "done"),
        ("ユーザー: おはよう、魔理沙。今日は何をするの？" * 2, [1, 2, 3, 4, 5, 6], "stopped"),
    ):
        run_id = store.begin(
            kind="experiment",
            model="m.gguf",
            prompt_start=prompt,
            columns=2,
            seeds=seeds,
            prompts=1,
            total=2 * len(seeds),
            head="{}",
            plan="{}",
        )
        store.set_status(run_id, status)
    with sqlite3.connect(run_store) as db:
        db.execute("UPDATE runs SET created = '2026-01-02T03:04:05+00:00' WHERE id = 1")
        db.execute("UPDATE runs SET created = '2026-01-03T00:00:00+00:00' WHERE id = 2")
    result = CliRunner().invoke(main, ["history"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "id  time (UTC)           status   done  columns  seeds       model   prompt\n"
        "2   2026-01-03 00:00:00  stopped  0/12  2        1,2,3,4,+2  m.gguf  ユーザー: おはよう、魔理沙。今日は何をするの？ユーザー: おはよう、魔理沙。…\n"
        "1   2026-01-02 03:04:05  done     0/2   2        1           m.gguf  short\n"
    )
    assert CliRunner().invoke(main, ["history", "--limit", "1"]).output.count("\n") == 2


def test_an_empty_store_says_so(run_store):
    assert CliRunner().invoke(main, ["history"]).output == "no runs recorded yet\n"


def test_an_exported_run_is_a_result_that_check_and_report_accept(tmp_path, run_store):
    experiment = tmp_path / "three.yaml"
    experiment.write_text(THREE)
    runner = CliRunner()
    ran = runner.invoke(main, ["run", str(experiment), "--out", str(tmp_path / "ran.yaml")])
    assert ran.exit_code == 0, ran.output
    [row] = RunStore.open(run_store).runs()
    exported = runner.invoke(main, ["history", "export", str(row.id), "--out", str(tmp_path / "export.yaml")])
    assert exported.exit_code == 0 and exported.output == f"wrote {tmp_path / 'export.yaml'}\n"
    ours, theirs = (load_result(tmp_path / n) for n in ("export.yaml", "ran.yaml"))
    assert without_clock(ours) == without_clock(theirs)
    check = runner.invoke(main, ["run", "--check", str(tmp_path / "export.yaml")])
    assert check.exit_code == 0 and check.output.startswith("reproduced 3 columns"), check.output
    report = runner.invoke(main, ["report", str(tmp_path / "export.yaml")])
    assert report.exit_code == 0 and (tmp_path / "export.html").read_text().startswith("<!doctype html>")
    again = runner.invoke(main, ["history", "export", str(row.id), "--out", str(tmp_path / "export.yaml")])
    assert again.exit_code == 1 and "already exists; results are never overwritten" in again.output
    missing = runner.invoke(main, ["history", "export", "99", "--out", str(tmp_path / "x.yaml")])
    assert missing.output == f"Error: {run_store}: no run 99 (see samplerlab history)\n"


def test_resume_by_id_after_the_run_was_stopped_and_bad_resumes_are_one_line(tmp_path, run_store):
    experiment = tmp_path / "three.yaml"
    experiment.write_text(THREE)
    store = RunStore.open(run_store)
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["run", str(experiment), "--out", str(tmp_path / "whole.yaml"), "--store", str(tmp_path / "o.sqlite")]
        ).exit_code
        == 0
    )
    # a run that ended with one generation done, stopped (as Stop or Ctrl-C leave it)
    partial = runner.invoke(main, ["run", str(experiment), "--out", str(tmp_path / "r.yaml")])
    [row] = store.runs()
    with sqlite3.connect(run_store) as db:
        db.execute("DELETE FROM generations WHERE run_id = ? AND seed_index > 0", (row.id,))
        db.execute("UPDATE runs SET status = 'stopped' WHERE id = ?", (row.id,))
    (tmp_path / "r.yaml").unlink()
    assert partial.exit_code == 0
    assert runner.invoke(main, ["history"]).output.splitlines()[1].split()[3:5] == ["stopped", "1/3"]
    resumed = runner.invoke(main, ["run", "--resume", str(row.id)])
    assert resumed.exit_code == 0, resumed.output
    assert without_clock(load_result(tmp_path / "r.yaml")) == without_clock(load_result(tmp_path / "whole.yaml"))
    cases = {
        ("run", "--resume", str(row.id)): f"Error: run {row.id} has finished; its result is {tmp_path / 'r.yaml'}\n",
        ("run", "--resume", "x"): "--resume: expected a run id (a number, see samplerlab history) or nothing, got 'x'",
        ("run", str(experiment), "--resume", "--max-tokens", "2"): "--resume goes on with the run's recorded settings",
        ("run", "--resume"): "give an EXPERIMENT file, or --check RESULT, or --resume RUN_ID",
    }
    for args, message in cases.items():
        result = runner.invoke(main, list(args))
        assert result.exit_code in (1, 2) and message in result.output, result.output


# -- progress -----------------------------------------------------------------------------------
def test_the_progress_arithmetic():
    now = [100.0]
    progress = Progress(10, done=2, clock=lambda: now[0])
    assert progress.line() == "2/10 generations · 0.0 tokens/s · ? left"
    now[0] = 104.0
    from samplerlab.events import ColumnResult
    from samplerlab.schema.params import Settings

    progress.add(ColumnResult("a", Settings(), 1, "c", tokens=[None] * 20))  # type: ignore[list-item]
    progress.add(ColumnResult("b", Settings(), 1, "c", tokens=[None] * 20))  # type: ignore[list-item]
    assert progress.line() == "4/10 generations · 10.0 tokens/s · 12 s left"  # 2 s each here, 6 to go
    assert progress.line("ja") == "4/10 生成 · 10.0 トークン/秒 · 残り 12 秒"
    assert [duration(s) for s in (59.4, 185, 7620)] == ["59 s", "3 min 05 s", "2 h 07 min"]
    assert duration(185, "ja") == "3 分 05 秒"


def run_cli(args: list[str], stderr) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "samplerlab", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_progress_is_shown_on_a_terminal_and_quiet_when_piped(tmp_path):
    experiment = tmp_path / "three.yaml"
    experiment.write_text(THREE)
    piped = subprocess.run(
        [sys.executable, "-m", "samplerlab", "run", str(experiment), "--out", str(tmp_path / "piped.yaml")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert piped.returncode == 0 and piped.stderr == ""
    main_fd, terminal = pty.openpty()
    child = run_cli(["run", str(experiment), "--out", str(tmp_path / "tty.yaml")], terminal)
    os.close(terminal)
    seen = b""
    while True:
        ready, _, _ = select.select([main_fd], [], [], 600)
        if not ready:
            break
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert child.wait(timeout=600) == 0
    text = seen.decode()
    assert text.startswith("0/3 generations · 0.0 tokens/s · ? left")
    lines = re.findall(r"\r(\d/3 generations · [\d.]+ tokens/s · [^\r\x1b]+ left)\x1b\[K", text)
    assert [line.split(" ")[0] for line in lines] == ["1/3", "2/3", "3/3"] and lines[-1].endswith(" · 0 s left")
    assert text.endswith("\r\x1b[K")  # the line is cleared before the table prints
    assert child.stdout is not None and b"wrote " in child.stdout.read()


def test_store_errors_answer_in_japanese_with_lang_ja(tmp_path):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_text("not a database\n" * 50)
    result = CliRunner().invoke(main, ["--lang", "ja", "run", "--resume", "3", "--store", str(garbage)])
    assert result.output == (
        f"エラー: {garbage}: samplerlab の実行記録ではありません（SQLite データベースではない）。"
        "別の場所へ移すか SAMPLERLAB_STORE を設定してください\n"
    )


def test_ctrl_c_marks_the_run_stopped_and_says_how_to_go_on(tmp_path, run_store):
    import signal
    import time

    experiment = tmp_path / "three.yaml"  # one batch of 6: the greedy three end at 4 tokens, the others run on
    experiment.write_text(
        THREE.replace("columns: [{preset: greedy}]", "columns: [{preset: greedy}, {label: long, max_tokens: 400}]")
    )
    child = run_cli(["run", str(experiment), "--out", str(tmp_path / "r.yaml")], subprocess.PIPE)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and child.poll() is None:
        rows = RunStore.open(run_store).runs() if run_store.exists() else []
        if rows and rows[0].done >= 1:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=120) == 130
    assert child.stderr is not None and child.stderr.read().decode().endswith(
        "\nstopped; go on with: samplerlab run --resume 1\n"
    )
    [row] = RunStore.open(run_store).runs()
    assert row.status == "stopped" and 1 <= row.done < 6 and not (tmp_path / "r.yaml").exists()
