"""The build and machine that decide whether a result reproduces: versions, llama.cpp's kernels, the CPU.

Read from the llama.cpp library that llama-cpp-python loaded, but only when asked: importing this
module loads nothing, so result files and checks can name it without starting llama.cpp.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.metadata
from collections.abc import Callable
from typing import Any

from .machine import cpu_name, cpu_summary, kernel_family

UNKNOWN = "unknown"


def _llama_cpp() -> Any:
    return importlib.import_module("llama_cpp")


def version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN


def system_info() -> str:
    """llama.cpp's own account of the kernels it runs ('CPU : SSE3 = 1 | ... | AVX512 = 1 | ...')."""
    return _c_string(lambda: _llama_cpp().llama_print_system_info()).strip(" |")


def gpu_offload() -> bool:
    """Whether this llama.cpp build can run layers on a GPU (a CUDA, Metal, Vulkan ... backend)."""
    return bool(_llama_cpp().llama_supports_gpu_offload())


def llama_build() -> str:
    """The llama.cpp build and kernels that a verdict about loading holds for."""
    return f"{version('llama-cpp-python')} {system_info()}"


def environment() -> dict[str, str]:
    """Versions that decide whether a result reproduces: samplerlab, llama-cpp-python, llama.cpp and ggml."""
    return {
        "samplerlab": version("samplerlab"),
        "llama_cpp_python": version("llama-cpp-python"),
        "llama_cpp": _c_string(lambda: _llama_cpp().llama_version()),
        "ggml_commit": _c_string(_ggml_commit),
        "llama_cpp_system": system_info(),
    }


def machine() -> dict[str, Any]:
    """The machine a local result was computed on: texts reproduce on the same llama.cpp build and the
    same kind of CPU/GPU kernels, so a check elsewhere can say why it parts."""
    return {
        "cpu": cpu_name(),
        "cpu_features": cpu_summary(),
        "kernels": kernel_family(system_info()),
        "gpu_offload": gpu_offload(),
    }


def _c_string(read: Callable[[], Any]) -> str:
    """A version string from a C function this build may lack: 'unknown' then, never a crash."""
    try:
        value = read()
    except Exception:  # a missing symbol (AttributeError), library (OSError, ImportError) ...
        return UNKNOWN
    return value.decode("utf-8", "replace") if isinstance(value, bytes) and value else UNKNOWN


def _ggml_commit() -> bytes:
    """ggml's build commit, from the ggml library llama-cpp-python loaded."""
    function = importlib.import_module("llama_cpp._ggml").libggml.ggml_commit
    function.argtypes, function.restype = [], ctypes.c_char_p
    return function()
