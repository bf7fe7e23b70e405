"""The versions that decide whether a result reproduces: samplerlab, llama-cpp-python, llama.cpp and ggml.

Read from the llama.cpp library llama-cpp-python loaded, so only here (and in backends) is llama_cpp named;
the local backend and result files both ask this module.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.metadata
from typing import Any, Callable



UNKNOWN = "unknown"


def environment() -> dict[str, str]:
    """Versions that decide whether a result reproduces: samplerlab, llama-cpp-python, llama.cpp and ggml."""
    # imported here, not at the top, so that importing this module does not load llama.cpp
    from .models import system_info
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return UNKNOWN

    llama_cpp = importlib.import_module("llama_cpp")  # only here: result files need its version
    return {"samplerlab": version("samplerlab"), "llama_cpp_python": version("llama-cpp-python"),
            "llama_cpp": _c_string(lambda: llama_cpp.llama_version()), "ggml_commit": _c_string(_ggml_commit),
            "llama_cpp_system": system_info()}


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
