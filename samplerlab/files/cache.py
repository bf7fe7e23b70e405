"""samplerlab's per-user cache folder, for what is worth remembering between runs on one machine."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """samplerlab's per-user cache: ``$SAMPLERLAB_CACHE``, else ``$XDG_CACHE_HOME/samplerlab``, else ~/.cache/samplerlab."""
    if os.environ.get("SAMPLERLAB_CACHE"):
        return Path(os.environ["SAMPLERLAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "samplerlab"
