"""How samplerlab writes YAML: the preset files' readable style, shared with the exports in YAML.

Block style for the document, one-line lists and mappings for values, multi-line text as a literal
block, and strings with invisible characters in double quotes so "\\n" stays readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

LINE_WIDTH = 10_000  # never fold a description over several quoted lines


class _PresetDumper(yaml.SafeDumper):
    """SafeDumper with the representers below: nothing but plain YAML types is ever written."""


class InlineList(list):
    """A value list written on one line: ``stop: ["\\n"]``."""


class InlineMapping(dict):
    """A value mapping written on one line: ``logit_bias: {15043: false}``."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    """PyYAML itself falls back to double quotes where a literal block is not allowed (inside lists)."""
    lines = text.split("\n")
    style = "|" if len(lines) > 1 and all(line.isprintable() for line in lines) else None
    if style is None and not text.isprintable():
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_PresetDumper.add_representer(str, _represent_text)
_PresetDumper.add_representer(
    InlineList, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)
_PresetDumper.add_representer(
    InlineMapping, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)


def dump_yaml(document: Mapping[str, Any]) -> str:
    """Readable YAML: keys in the given order, UTF-8 text unescaped, multi-line text as a block."""
    return yaml.dump(
        document, Dumper=_PresetDumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=LINE_WIDTH
    )
