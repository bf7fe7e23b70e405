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
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..schema.load_settings import LoadSettings
from ..files.model_files import ModelError

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


def cache_dir() -> Path:
    """samplerlab's per-user cache: ``$SAMPLERLAB_CACHE``, else ``$XDG_CACHE_HOME/samplerlab``, else ~/.cache/samplerlab."""
    if os.environ.get("SAMPLERLAB_CACHE"):
        return Path(os.environ["SAMPLERLAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "samplerlab"


def cpu_flags() -> set[str]:
    """The CPU's feature flags as the kernel lists them (empty where /proc/cpuinfo is not there)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_summary(flags: set[str] | None = None) -> str:
    """The features that decide llama.cpp's CPU kernels, e.g. 'AMX, AVX-512 VNNI, AVX2' or 'AVX2'."""
    flags = cpu_flags() if flags is None else flags
    names = []
    if flags & {"amx_int8", "amx_bf16", "amx_tile"}:
        names.append("AMX")
    if "avx512f" in flags:
        names.append("AVX-512" + (" VNNI" if "avx512_vnni" in flags else ""))
    if "avx2" in flags:
        names.append("AVX2")
    return ", ".join(names) or "no AVX2"


def cpu_name() -> str:
    """The CPU's model name ('AMD EPYC 9B14'), or 'unknown'."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def kernel_family(system_info: str) -> str:
    """Which kernels llama.cpp runs, from its system info: the widest CPU family it uses ('AMX',
    'AVX-512', 'AVX2' ...) and any GPU backend. Texts can part between families, never within one."""
    features = {name.split(":")[-1].strip() for name, _, value in (part.partition("=") for part in system_info.split("|"))
                if value.strip() == "1"}
    cpu = next((label for flag, label in (("AMX_INT8", "AMX"), ("AVX512", "AVX-512"), ("AVX2", "AVX2"),
                                          ("AVX", "AVX"), ("NEON", "NEON")) if flag in features), "generic CPU")
    devices = [part.split(":", 1)[0].strip() for part in system_info.split("|") if ":" in part]
    gpus = [name for name in devices if name and name != "CPU"]
    return " + ".join([cpu, *gpus])


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
    command = [sys.executable, "-m", "samplerlab.llama.load_guard", str(path), json.dumps(dict(load))]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, preexec_fn=die_with_parent)
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
    return (asserts or lines or [""])[-1][:300]


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
    changed = [f"{name}={str(value).lower() if isinstance(value, bool) else value}"
               for name, value in dict(load).items() if value != LoadSettings().get(name)]
    settings = ", ".join(changed) or "the default load settings"
    cpu = cpu_summary()
    if died == "timeout":
        return f"{path.name}: the trial load with {settings} did not finish within {TRIAL_TIMEOUT:.0f} s; nothing was loaded"
    said = f" ({tail})" if tail else ""
    if load.repack:
        why = "with repack on this CPU (AMX: llama.cpp#20824)" if "AMX" in cpu else f"with repack on this CPU ({cpu})"
        return f"{settings}: llama.cpp crashed ({died}) loading {path.name} {why}{said}; load with repack off"
    return (f"{path.name}: llama.cpp crashed ({died}) loading it with {settings} on this CPU ({cpu}){said}; "
            "the file may be damaged or made for another llama.cpp; nothing was loaded")


def _trial(path: str, load_json: str) -> None:
    """The child's work: load as the parent would, then decode a few tokens for two columns in a batch."""
    from .engine import run
    from ..events import Column, Request
    from .models import Model
    from ..schema.params import Settings

    load = LoadSettings(json.loads(load_json), source="trial")
    with Model(path, load, trial=False) as model:
        crash = os.environ.get(CRASH_SEAM)
        if crash:
            os.kill(os.getpid(), signal.Signals[crash])
        columns = [Column("greedy", Settings({"temperature": 0, "max_tokens": 4})),
                   Column("sampled", Settings({"max_tokens": 4, "seed": 1}))]
        run(model, Request("Hello", "raw"), columns)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        _trial(*args)
    except Exception as error:  # the parent's own load reports ordinary errors; here they only end the child
        print(f"trial: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

