"""A trial load in a child process, so that a crash inside llama.cpp ends the child, not samplerlab.

Some loads die in native code, where Python cannot catch anything: llama.cpp 0c1e57098 (the one
llama-cpp-python 0.3.36 vendors) repacks weights into its AMX buffer type on CPUs that have AMX,
and the first decode after that dies with SIGSEGV (ggml-org/llama.cpp#20824); a GGUF header with
values llama.cpp asserts on aborts with SIGABRT. In an app, that would end every visitor's session.

So before a file is loaded with some settings for the first time on this machine, a child process
loads it with the same settings and decodes a few tokens in a batch. A child killed by a signal
becomes one ``ModelError`` line that names the CPU features that matter; a child that succeeds
leaves a marker in the per-user cache, keyed by the file (path, size, mtime), the load settings,
the llama.cpp build and the CPU, so that the trial (about a second on the embedded model, a model
load's time on a large one) is paid once, not at every start. A child that fails without a signal
changes nothing: the load in this process then raises its own error.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files.cache import cache_dir
from ..files.model_files import ModelError
from ..schema.load_settings import LoadSettings
from .machine import cpu_flags, cpu_summary

CRASH_SEAM = "SAMPLERLAB_TRIAL_CRASH"  # tests: the child kills itself with this signal after loading
TRIAL_TIMEOUT = 900.0  # seconds: a multi-GB model read from a slow disk, then a few decodes
TAIL_BYTES = 4096  # of the child's stderr, for llama.cpp's last words (GGML_ASSERT ...)
CPU_FEATURES = ("amx_int8", "amx_bf16", "amx_tile", "avx512f", "avx512_vnni", "avx512_bf16", "avx2")


@dataclass(frozen=True)
class TrialLoad:
    """What the guard did for one load: whether a child ran, how long it took, and why."""

    ran: bool
    seconds: float
    reason: str

    def describe(self) -> str:
        if not self.ran:
            return f"trial load: skipped ({self.reason})"
        return f"trial load in a child process: {self.seconds:.1f} s ({self.reason})"


def verdict_key(path: Path, load: LoadSettings, build: str) -> str:
    """What a passed trial proves: this file as it is now, these settings, this build, this CPU."""
    stat = path.stat()
    parts = [str(path.resolve()), stat.st_size, stat.st_mtime_ns, dict(load), build, sorted(cpu_flags())]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def guard_load(path: Path, load: LoadSettings, build: str) -> TrialLoad:
    """Try the load in a child unless an identical one passed before; raise ModelError if the child crashed."""
    marker = cache_dir() / "trial-loads" / verdict_key(path, load, build)
    if marker.exists():
        return TrialLoad(False, 0.0, "the same file and settings passed before on this machine")
    started = time.monotonic()
    died, tail = _run_child(path, load)
    seconds = time.monotonic() - started
    if died is not None:
        raise ModelError(crash_message(path, load, died, tail))
    _remember(marker)
    return TrialLoad(True, seconds, "first load of this file with these settings on this machine")


def _run_child(path: Path, load: LoadSettings) -> tuple[str | None, str]:
    """Run the trial; the name of the signal that killed it (or 'timeout'), and its stderr's tail."""
    command = [sys.executable, "-m", "samplerlab.llama.trial_child", str(path), json.dumps(dict(load))]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=die_with_parent,
        env={**os.environ, "GGML_NO_BACKTRACE": "1"},  # ggml's abort would attach gdb: seconds, pages of noise
    )
    try:
        _, stderr = process.communicate(timeout=TRIAL_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        return "timeout", _tail(stderr)
    if process.returncode < 0:
        return signal.Signals(-process.returncode).name, _tail(stderr)
    return None, ""


def _tail(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr[-TAIL_BYTES:].decode("utf-8", "replace").splitlines() if line.strip()]
    asserts = [line for line in lines if "GGML_ASSERT" in line or "error" in line.lower()]
    return _source_name(asserts or lines or [""])[-1][:300]


def _source_name(lines: list[str]) -> list[str]:
    """'/tmp/pip-install-x/vendor/llama.cpp/src/llama-model.cpp:1328: ...' as 'llama-model.cpp:1328: ...':
    the build machine's folders say nothing to a reader (nor should a shared app show them)."""
    return [re.sub(r"\S*/([^/\s]+\.(?:c|cpp|h):\d+:)", r"\1", line) for line in lines]


def _libc_prctl() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: children may outlive a crashed parent
        return None


_PRCTL = _libc_prctl()  # looked up here: between fork and exec a child must not load libraries
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """In a child before exec: receive SIGKILL when the parent dies, so no child outlives a crash."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)


def _remember(marker: Path) -> None:
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:  # an unwritable cache only means the trial runs again next time
        pass


def crash_message(path: Path, load: LoadSettings, died: str, tail: str) -> str:
    """One line: which settings, what killed llama.cpp, on which CPU, and what to do instead."""
    changed = [
        f"{name}={str(value).lower() if isinstance(value, bool) else value}"
        for name, value in dict(load).items()
        if value != LoadSettings().get(name)
    ]
    settings = ", ".join(changed) or "the default load settings"
    cpu = cpu_summary()
    if died == "timeout":
        return f"{path.name}: the trial load with {settings} did not finish within {TRIAL_TIMEOUT:.0f} s; nothing was loaded"
    said = f" ({tail})" if tail else ""
    if load.repack:
        why = "with repack on this CPU (AMX: llama.cpp#20824)" if "AMX" in cpu else f"with repack on this CPU ({cpu})"
        return f"{settings}: llama.cpp crashed ({died}) loading {path.name} {why}{said}; load with repack off"
    return (
        f"{path.name}: llama.cpp crashed ({died}) loading it with {settings} on this CPU ({cpu}){said}; "
        "the file may be damaged or made for another llama.cpp; nothing was loaded"
    )
