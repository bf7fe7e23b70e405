"""The run store: lossless generations, kill -9 at random points then --resume, several writers, the
size bound, and a store file that cannot be used. Real processes, real SQLite, the real embedded model."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.cli.main import main
from samplerlab.events import Candidate, ColumnResult, Request, TokenEvent
from samplerlab.events import Column as Col
from samplerlab.llama.engine import run
from samplerlab.runs.codec import decode, encode
from samplerlab.runs.results import load_result
from samplerlab.runs.store import SCHEMA, RunStore, StoreError, dropped_line, store_path
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
# Every run of a column ends at its own max_tokens and all 12 share one batch: the store commits them in
# three waves, seconds apart, so random kills fall between generations as well as inside them.
STAGGERED = """\
prompt: Write a short poem praising light-emitting diodes.
seeds: [1, 2, 3, 4]
columns:
  - {preset: greedy, settings: {max_tokens: 3}}
  - {label: hot, settings: {temperature: 1.5, top_k: 100, max_tokens: 30}}
  - {label: min-p, settings: {min_p: 0.2, temperature: 1.1, max_tokens: 60}}
"""


def finished_run(path) -> bool:
    return any(row.status == "done" for row in RunStore.open(path).runs())


def test_runs_killed_at_random_points_resume_to_the_uninterrupted_result(tmp_path, run_store):
    experiment = tmp_path / "poem.yaml"
    experiment.write_text(STAGGERED)
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
        if finished_run(run_store) or sum(0 < k < total for k in kills) >= 3:
            break
        begun = bool(RunStore.open(run_store).runs())  # killed before the run began: start it afresh
        args = ("--resume",) if begun else ("--out", str(tmp_path / "resumed.yaml"))
        child = start("run", str(experiment), *args, cwd=tmp_path)
    assert any(0 < k < total for k in kills), f"no kill fell between generations: {kills}"
    store = RunStore.open(run_store)
    assert store.integrity() == "ok"
    [row] = store.runs()
    if not finished_run(run_store):  # killed after its last generation and result file, it is done
        assert row.status == "running" and row.done == kills[-1]  # killed: still 'running', its process gone
        finished = cli("run", str(experiment), "--resume", cwd=tmp_path)
        assert finished.returncode == 0, finished.stderr
        assert finished.stdout.rstrip().endswith(f"wrote {tmp_path / 'resumed.yaml'}")
    store = RunStore.open(run_store)
    assert store.integrity() == "ok"
    [row] = store.runs()
    assert (row.status, row.done, row.total) == ("done", total, total)
    ours, theirs = (load_result(tmp_path / name) for name in ("resumed.yaml", "reference.yaml"))
    assert without_clock(ours) == without_clock(theirs)
    again = cli("run", str(experiment), "--resume", cwd=tmp_path)
    assert again.returncode == 1 and again.stderr.strip().splitlines()[-1] == (
        f"Error: {experiment}: no unfinished run of it in the run store ({run_store}); run it without --resume"
    )
    check = cli("run", "--check", str(tmp_path / "resumed.yaml"))
    assert check.returncode == 0 and check.stdout.startswith(f"reproduced {total} columns"), check.stdout + check.stderr


# -- several writers at once ----------------------------------------------------------------------
WRITER = """
import sys
import threading
from samplerlab.events import ColumnResult
from samplerlab.runs.store import SCHEMA, RunStore, StoreError, dropped_line, store_path
from samplerlab.schema.params import Settings
store = RunStore.open(sys.argv[1])
for n in range(int(sys.argv[3])):
    run = store.begin(kind="page", model="m", prompt_start=sys.argv[2], columns=1, seeds=[n], prompts=1, total=2, head="{}", plan="{}")
    for column in range(2):
        store.add(run, (0, 0, column), ColumnResult(f"{sys.argv[2]}-{n}-{column}", Settings(), n, "chain", "x" * 2000))
"""


def test_several_processes_and_threads_write_at_once_without_loss(tmp_path):
    path = tmp_path / "shared.sqlite"
    RunStore.open(path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{i}", "25"], env=env, stderr=subprocess.PIPE)
        for i in range(4)
    ]
    store = RunStore.open(path)

    def thread_writer(name: str) -> None:
        for n in range(25):
            run_id = store.begin(
                kind="page",
                model="m",
                prompt_start=name,
                columns=1,
                seeds=[n],
                prompts=1,
                total=2,
                head="{}",
                plan="{}",
            )
            for column in range(2):
                store.add(run_id, (0, 0, column), ColumnResult(f"{name}-{n}-{column}", Settings(), n, "c", "y"))

    threads = [threading.Thread(target=thread_writer, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        assert writer.wait(timeout=300) == 0, writer.stderr.read().decode()
    rows = store.runs(limit=1000)
    assert len(rows) == 7 * 25 and all(row.done == 2 for row in rows)
    labels = {result.label for row in rows for result in store.generations(row.id).values()}
    assert labels == {
        f"{w}-{n}-{c}" for w in ("p0", "p1", "p2", "p3", "t0", "t1", "t2") for n in range(25) for c in range(2)
    }
    assert store.integrity() == "ok"


# -- the size bound ---------------------------------------------------------------------------------
def big_result(label: str, tokens: int = 400) -> ColumnResult:
    """A column whose stored form takes about 40 KiB: random figures do not compress."""
    rng = random.Random(label)
    events = [
        TokenEvent(
            0,
            i,
            i,
            f"t{i}",
            rng.random(),
            rng.random(),
            tuple(Candidate(rng.randrange(50000), "x", rng.random()) for _ in range(10)),
            (),
            3,
            rng.random(),
        )
        for i in range(tokens)
    ]
    return ColumnResult(label, Settings(), 1, "c", "x", "length", None, events)


def test_the_oldest_runs_are_dropped_beyond_the_bound_and_the_drop_is_said(tmp_path):
    store = RunStore.open(tmp_path / "small.sqlite", max_mib=1)
    ids = []
    for n in range(40):
        ids.append(
            store.begin(
                kind="page",
                model="m",
                prompt_start=str(n),
                columns=1,
                seeds=[1],
                prompts=1,
                total=1,
                head="{}",
                plan="{}",
            )
        )
        store.add(ids[-1], (0, 0, 0), big_result(str(n)))
        store.set_status(ids[-1], "done")
        dropped = store.trim(keep=ids[-1])
        if dropped:
            break
    assert dropped and dropped[0].id == ids[0] and store.used_bytes() <= 1 << 20
    remaining = [row.id for row in store.runs()]
    assert ids[-1] in remaining and not {d.id for d in dropped} & set(remaining)
    assert remaining == sorted(remaining, reverse=True) and min(remaining) > max(d.id for d in dropped)
    line = dropped_line(dropped, store)
    assert line.startswith(f"run store: dropped the {len(dropped)} oldest run(s) (1") and line.endswith(
        "to stay within 1 MiB (SAMPLERLAB_STORE_MAX_MIB)"
    )


def test_a_cli_run_beyond_the_bound_says_what_it_dropped(tmp_path, run_store):
    store = RunStore.open(run_store)
    for n in range(30):
        old = store.begin(
            kind="page", model="m", prompt_start=str(n), columns=1, seeds=[1], prompts=1, total=1, head="{}", plan="{}"
        )
        store.add(old, (0, 0, 0), big_result(str(n)))
        store.set_status(old, "done")
    experiment = tmp_path / "one.yaml"
    experiment.write_text("prompt: hi\nmax_tokens: 2\ncolumns: [{preset: greedy}]\n")
    result = CliRunner().invoke(
        main, ["run", str(experiment), "--out", str(tmp_path / "r.yaml"), "--store-max-mib", "1"]
    )
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stderr.splitlines() if "dropped" in line]
    assert line.startswith("note: run store: dropped the ") and line.endswith(
        "to stay within 1 MiB (SAMPLERLAB_STORE_MAX_MIB)"
    )
    assert RunStore.open(run_store).used_bytes() <= 1 << 20


# -- a store that cannot be used ---------------------------------------------------------------------
def test_a_store_that_is_not_a_database_newer_or_unreachable_is_one_line_and_the_run_still_runs(tmp_path):
    experiment = tmp_path / "one.yaml"
    experiment.write_text("prompt: hi\nmax_tokens: 2\ncolumns: [{preset: greedy}]\n")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database at all, only text\n" * 100)
    newer = tmp_path / "newer.sqlite"
    RunStore.open(newer)
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version={SCHEMA + 1}")
    (tmp_path / "afile").write_text("x")
    cases = {
        garbage: f"{garbage}: not a samplerlab run store (not an SQLite database); move it away or set SAMPLERLAB_STORE",
        newer: f"{newer}: written by a newer samplerlab (store schema {SCHEMA + 1}, this one reads {SCHEMA}); "
        "upgrade samplerlab or set SAMPLERLAB_STORE to another file",
        tmp_path
        / "afile"
        / "runs.sqlite": f"{tmp_path / 'afile'}: a file, not a folder; the run store cannot be made in it",
    }
    for n, (path, message) in enumerate(cases.items()):
        with pytest.raises(StoreError) as raised:
            RunStore.open(path)
        assert str(raised.value) == message
        result = CliRunner().invoke(
            main, ["run", str(experiment), "--out", str(tmp_path / f"r{n}.yaml"), "--store", str(path)]
        )
        assert result.exit_code == 0 and (tmp_path / f"r{n}.yaml").exists(), result.output
        assert result.stderr.splitlines() == [f"note: {message}; this run is not recorded (it cannot be resumed)"]
        history = CliRunner().invoke(main, ["history", "--store", str(path)])
        assert history.exit_code == 1 and history.output == f"Error: {message}\n"
        resume = CliRunner().invoke(main, ["run", "--resume", "1", "--store", str(path)])
        assert resume.exit_code == 1 and resume.output == f"Error: {message}\n"
    assert garbage.read_bytes().startswith(b"this is not a database")  # never overwritten


def test_a_full_disk_mid_run_is_one_line_and_the_run_finishes(tmp_path, run_store, monkeypatch):
    """SQLite's own 'database or disk is full' (its page limit reached), after the run has begun."""
    experiment = tmp_path / "two.yaml"
    experiment.write_text("prompt: hi\nmax_tokens: 3\nseeds: [1, 2]\ncolumns: [{preset: greedy}]\n")
    RunStore.open(run_store)
    connect = sqlite3.connect

    def limited(*args, **kwargs):
        connection = connect(*args, **kwargs)
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count={pages}")  # nothing more fits: the next page is refused
        return connection

    monkeypatch.setattr(sqlite3, "connect", limited)
    result = CliRunner().invoke(main, ["run", str(experiment), "--out", str(tmp_path / "r.yaml")])
    assert result.exit_code == 0 and (tmp_path / "r.yaml").exists(), result.output
    assert result.stderr.splitlines() == [
        f"note: {run_store}: the disk is full; the run store cannot grow; this run goes on without being recorded"
    ]
