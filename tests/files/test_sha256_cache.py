"""A model file's sha256 is read once per machine, and the app's page runs record it once it is known."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from samplerlab.backends.local import LocalBackend
from samplerlab.events import Column, Request
from samplerlab.files.model_files import file_sha256, known_sha256
from samplerlab.runs.durable import page_head
from samplerlab.schema.params import DEFAULTS


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SAMPLERLAB_CACHE", str(cache))
    return cache


def a_file(tmp_path: Path, size: int = (9 << 20) + 7) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    return path


def test_the_hash_is_remembered_for_the_file_as_it_is(tmp_path):
    path = a_file(tmp_path)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert known_sha256(path) is None
    assert file_sha256(path) == expected
    assert known_sha256(path) == expected
    with path.open("ab") as handle:  # another file now: its size and mtime differ
        handle.write(b"more")
    assert known_sha256(path) is None
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest() != expected


def test_a_damaged_or_unwritable_cache_only_costs_a_new_read(tmp_path, fresh_cache, monkeypatch):
    path = a_file(tmp_path, 1000)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    file_sha256(path)
    (marker,) = (fresh_cache / "sha256").iterdir()
    marker.write_text("not a digest\n")
    assert known_sha256(path) is None and file_sha256(path) == expected
    marker.unlink()
    marker.symlink_to("/dev/zero")  # endless: only its first bytes are read
    assert known_sha256(path) is None
    marker.unlink()
    marker.write_text(expected + "\n" + "0" * (1 << 20))
    assert known_sha256(path) is None
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("SAMPLERLAB_CACHE", str(blocked))
    assert file_sha256(path) == expected and known_sha256(path) is None
    assert not list(blocked.parent.glob("*.tmp"))


def test_a_background_hash_waits_while_a_generation_holds_the_lock(tmp_path):
    path = a_file(tmp_path)
    lock, found = threading.Lock(), []
    with lock:  # a generation is running
        worker = threading.Thread(target=lambda: found.append(file_sha256(path, between_blocks=lambda: lock)))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and not found
    worker.join(30)
    assert found == [hashlib.sha256(path.read_bytes()).hexdigest()]


def test_a_page_run_records_the_sha256_once_the_background_hash_has_it(model):
    backend = LocalBackend(model)
    columns = [Column("1", DEFAULTS)]
    before, _ = page_head(Request("hi"), columns, backend)
    assert before["model"]["sha256"] is None  # a page run never waits for the hash
    backend.hash_in_background().join(60)
    after, _ = page_head(Request("hi"), columns, backend)
    assert after["model"]["sha256"] == hashlib.sha256(Path(model.path).read_bytes()).hexdigest()
    assert page_head(Request("hi"), columns, LocalBackend(model))[0]["model"]["sha256"] == after["model"]["sha256"]
