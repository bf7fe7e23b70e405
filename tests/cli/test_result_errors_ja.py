"""`samplerlab --lang ja stats|report broken.yaml`: a damaged or hostile result file is one Japanese line naming
the file, the place and the value, as the English one does.

The hostile files are the token-lines tests' own (tests/runs/test_token_lines.py BAD_LINES, BAD_SECONDS), written
as format-2 files, and files the YAML reader and the result's shape refuse. Each runs in English too, where
the check must find English: so it can fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from samplerlab.runs import token_lines
from samplerlab.runs.results import dump, result_text
from tests.cli.test_lang_ja import english_words, invoke
from tests.runs.test_token_lines import BAD_LINES, BAD_SECONDS, _tamper_line, _with_second, document

# names in the messages: the file's keys, YAML's syntax, the formats, and Python's names of the values' types
KEYS = token_lines.TOKEN_KEYS | token_lines.LINE_KEYS | set(token_lines.CANDIDATE_KEYS) | set(token_lines.CUT_KEYS)
NAMES = [*KEYS, "columns", "alternatives", "&name", "*name", "JSON", "YAML", "null", "list", "int", "True", "logprob"]


def _without_a_line() -> str:
    text = result_text(document())
    lines = text.split("\n")
    start = text[: text.index("\n--- #")].count("\n")
    del lines[next(i for i, line in enumerate(lines) if i > start and line.startswith("  {"))]
    return "\n".join(lines)


def _tokens_as_yaml_with_alternatives() -> str:
    both = yaml.safe_load_all(result_text(document()))
    first, second = next(both), next(both)
    first["columns"][0]["tokens"] = [{"id": 1, "text": "x", "p": 0.5, "raw_p": 0.5}]
    return dump(first) + "---\n" + dump(second)


GOOD = result_text(document())
FILES = {
    **{f"line-{i}": _tamper_line(GOOD, d, 1, line) for i, (d, line, _) in enumerate(BAD_LINES)},
    **{f"second-{i}": _with_second(GOOD, second) for i, (second, _) in enumerate(BAD_SECONDS)},
    "a-line-missing": _without_a_line(),
    "alternatives-without-lines": _tokens_as_yaml_with_alternatives(),
    "format-3": GOOD.replace("samplerlab_result: 2", "samplerlab_result: 3", 1),
    "empty": "",
    "not-a-mapping": "- 1\n- 2\n",
    "unclosed-list": GOOD.replace("seeds: [0, 1, 2]", "seeds: [0, 1, 2", 1),
    "mapping-in-a-value": GOOD.replace("mode: chat", "mode: chat: raw", 1),
    "unclosed-string": GOOD + '\nx: "open\n',
    "an-alias": GOOD.replace("mode: chat", "mode: &m chat\nagain: *m", 1),
    "a-column-without-label": GOOD.replace("label: a\n", "", 1),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_hostile_result_file_is_one_japanese_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(FILES[name], encoding="utf-8")
    out = tmp_path / "r.html"
    for command in (["report", str(path), "--out", str(out)], ["stats", str(path)]):
        japanese = invoke(["--lang", "ja", *command])
        if not japanese.startswith("エラー: ") and "stats" in command:
            continue  # stats does not read the alternatives, so it has nothing to refuse there
        english = invoke(command)
        assert japanese.count("\n") == 1 and japanese.startswith(f"エラー: {path}"), japanese
        assert english_words(japanese.removeprefix(f"エラー: {path}"), NAMES) == [], japanese
        assert english_words(english.removeprefix(f"Error: {path}"), NAMES), english
        assert not out.exists()
