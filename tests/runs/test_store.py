"""The run store: lossless generations, kill -9 at random points then --resume, several writers, the
size bound, and a store file that cannot be used. Real processes, real SQLite, the real embedded model."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from samplerlab.events import Candidate, ColumnResult, Request, TokenEvent
from samplerlab.events import Column as Col
from samplerlab.llama.engine import run
from samplerlab.runs.codec import decode, encode
from samplerlab.runs.store import RunStore, store_path
from samplerlab.schema.params import Settings

ROOT = Path(__file__).resolve().parents[2]
CLOCK = {"date", "seconds", "tokens_per_second"}
EXPERIMENT = """\
prompt: Write a short poem praising light-emitting diodes.
seeds: [1, 2, 3, 4]
max_tokens: 6
columns:
  - preset: greedy
  - label: hot
    settings: {temperature: 1.5, top_k: 100}
  - label: min-p
    settings: {min_p: 0.2, temperature: 1.1}
"""


def without_clock(value):
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in CLOCK}
    return [without_clock(v) for v in value] if isinstance(value, list) else value


def cli(*args: str, env: dict | None = None, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "samplerlab", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=600,
        **options,
    )


def start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "samplerlab", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def stored(path: Path) -> int:
    try:
        with sqlite3.connect(path, timeout=30) as db:
            return db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.Error:
        return 0  # not made yet


# -- the location ---------------------------------------------------------------------------------
def test_the_store_lives_where_the_readme_says():
    assert store_path(None, {"SAMPLERLAB_STORE": "/x/r.sqlite", "XDG_DATA_HOME": "/d"}) == Path("/x/r.sqlite")
    assert store_path(None, {"XDG_DATA_HOME": "/d"}) == Path("/d/samplerlab/runs.sqlite")
    assert store_path(None, {}) == Path.home() / ".local/share/samplerlab/runs.sqlite"
    assert store_path("/o.sqlite", {"SAMPLERLAB_STORE": "/x/r.sqlite"}) == Path("/o.sqlite")


def test_tests_never_touch_the_users_store(run_store):
    assert os.environ["SAMPLERLAB_STORE"] == str(run_store) and store_path() == run_store


# -- lossless generations -------------------------------------------------------------------------
def test_a_stored_generation_comes_back_equal_field_for_field(model):
    settings = Settings({"max_tokens": 6, "seed": 3, "logit_bias": {"LED": -5, 17: False}, "stop": ["\n\n", "。"]})
    [result] = run(model, Request("hi"), [Col("c", settings)]).columns
    assert result.tokens and result.tokens[0].candidates
    assert decode(encode(result)) == result
    odd = ColumnResult(
        "n",
        Settings(),
        1,
        "x",
        "a",
        "end",
        None,
        [TokenEvent(0, 0, 5, "\ud800", float("inf"), 0.5, (Candidate(1, "é", 0.25),), (), 1, 0.0, {7: "top_k"})],
    )
    again = decode(encode(odd))
    assert again.tokens[0].text == "\ud800" and again.tokens[0].cut_by == {7: "top_k"} and again == odd


# -- kill -9 at random points, then --resume ----------------------------------------------------
def test_runs_killed_at_random_points_resume_to_the_uninterrupted_result(tmp_path, run_store):
    experiment = tmp_path / "poem.yaml"
    experiment.write_text(EXPERIMENT)
    reference = cli(
        "run", str(experiment), "--out", str(tmp_path / "reference.yaml"), "--store", str(tmp_path / "ref.sqlite")
    )
    assert reference.returncode == 0, reference.stderr
    total = 12
    random.seed(os.getpid())
    kills: list[int] = []  # generations stored when each process was killed
    child = start("run", str(experiment), "--out", str(tmp_path / "resumed.yaml"), cwd=tmp_path)
    for _ in range(12):
        before, deadline = stored(run_store), time.monotonic() + 300
        if random.random() < 0.3:  # early: loading the model, evaluating the prompt, the first batch
            time.sleep(random.uniform(0.1, 3.0))
        else:  # mid-run: just after a generation was committed, or while the next is being written
            while child.poll() is None and stored(run_store) <= before and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(random.uniform(0.0, 0.3))
        if child.poll() is not None:
            assert child.returncode == 0, child.stderr.read().decode()
            break
        child.send_signal(signal.SIGKILL)
        child.wait()
        kills.append(stored(run_store))
        if sum(0 < k < total for k in kills) >= 3:
            break
        begun = bool(RunStore.open(run_store).runs())  # killed before the run began: start it afresh
        args = ("--resume",) if begun else ("--out", str(tmp_path / "resumed.yaml"))
        child = start("run", str(experiment), *args, cwd=tmp_path)
    assert any(0 < k < total for k in kills), f"no kill fell between generations: {kills}"
    store = RunStore.open(run_store)
    assert store.integrity() == "ok"
    [row] = store.runs()
    assert row.status == "running" and row.done == kills[-1]  # killed: still 'running', its process gone
    finished = cli("run", str(experiment), "--resume", cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.rstrip().endswith(f"wrote {tmp_path / 'resumed.yaml'}")
    store = RunStore.open(run_store)
    assert store.integrity() == "ok"
    [row] = store.runs()
    assert (row.status, row.done, row.total) == ("done", total, total)
    ours, theirs = (yaml.safe_load((tmp_path / name).read_text()) for name in ("resumed.yaml", "reference.yaml"))
    assert without_clock(ours) == without_clock(theirs)
    again = cli("run", str(experiment), "--resume", cwd=tmp_path)
    assert again.returncode == 1 and again.stderr.strip().splitlines()[-1] == (
        f"Error: {experiment}: no unfinished run of it in the run store ({run_store}); run it without --resume"
    )
    check = cli("run", "--check", str(tmp_path / "resumed.yaml"))
    assert check.returncode == 0 and check.stdout.startswith(f"reproduced {total} columns"), check.stdout + check.stderr
