"""Build (once per machine) the llama-server of the llama.cpp commit that llama-cpp-python vendors.

The server tests need a real llama-server of the very same llama.cpp as the local backend, so
their texts can be compared token for token. PyPI has no such binary; llama-cpp-python's source
distribution holds that llama.cpp, which cmake builds in about 15 minutes on 2 cores. The binary
and its shared libraries are cached outside the clone (``$SAMPLERLAB_CACHE`` or
``~/.cache/samplerlab``), so a machine builds it once. Run as a script it prints the binary's path.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "llama-cpp-python"


def pinned_version() -> str:
    """The llama-cpp-python version installed beside samplerlab (the one the local backend runs)."""
    return importlib.metadata.version(PACKAGE)


def cache_dir() -> Path:
    root = os.environ.get("SAMPLERLAB_CACHE") or Path.home() / ".cache" / "samplerlab"
    return Path(root) / f"llama-server-{pinned_version()}"


def server_binary() -> Path:
    return cache_dir() / "llama-server"


def _run(command: list[str], cwd: Path, log) -> None:
    print("+", " ".join(command), file=log, flush=True)
    subprocess.run(command, cwd=cwd, check=True, stdout=log, stderr=subprocess.STDOUT)


def build(log=sys.stderr) -> Path:
    """Build llama-server into the cache unless it is there already; return the binary's path."""
    target = cache_dir()
    if (target / "llama-server").is_file():
        return target / "llama-server"
    version = pinned_version()
    with tempfile.TemporaryDirectory(prefix="llama-server-build-") as tmp:
        work = Path(tmp)
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                f"{PACKAGE}=={version}",
                "-d",
                str(work),
            ],
            work,
            log,
        )
        archive = next(work.glob("llama_cpp_python-*.tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data")
        source = next(work.glob("llama_cpp_python-*/vendor/llama.cpp"))
        build_dir = work / "build"
        _run(
            [
                "cmake",
                "-S",
                str(source),
                "-B",
                str(build_dir),
                "-DCMAKE_BUILD_TYPE=Release",
                "-DLLAMA_CURL=OFF",
                "-DLLAMA_BUILD_TESTS=OFF",
                "-DLLAMA_BUILD_EXAMPLES=OFF",
                "-DCMAKE_BUILD_RPATH_USE_ORIGIN=ON",
                "-DCMAKE_BUILD_RPATH=$ORIGIN",
            ],
            work,
            log,
        )
        _run(
            ["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 2), "--target", "llama-server"], work, log
        )
        staging = Path(
            tempfile.mkdtemp(
                prefix=".llama-server-", dir=target.parent if target.parent.exists() else _made(target.parent)
            )
        )
        for item in (build_dir / "bin").iterdir():
            if item.name == "llama-server" or ".so" in item.name:
                shutil.copy2(item, staging / item.name, follow_symlinks=True)
        staging.rename(target)
    return target / "llama-server"


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def server_env() -> dict[str, str]:
    """The environment that lets the cached binary find its shared libraries wherever it lies."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        part for part in (str(cache_dir()), env.get("LD_LIBRARY_PATH", "")) if part
    )
    return env


if __name__ == "__main__":
    print(build())
