"""samplerlab: compare llama.cpp sampling settings side by side on one prompt and seed."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("samplerlab")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"
