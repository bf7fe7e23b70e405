"""Result format 2 (runs.token_lines): tokens as JSON lines, alternatives in a second YAML document.

Every record comes back exactly as format 1 has it; a format-1 file reads as before; `samplerlab stats` reads
the first document only; and a damaged or hostile format-2 file is one line naming the token, never a
traceback, a hang or a flood of memory."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from click.testing import CliRunner

from samplerlab.cli.main import main
from samplerlab.events import Candidate, ColumnResult, TokenEvent
from samplerlab.files import safe_yaml
from samplerlab.runs import results, token_lines
from samplerlab.runs.results import Outcome, ResultError, dump, load_result, result_columns, result_text, write_new
from samplerlab.schema.params import Settings

ODD_TEXTS = [
    "\x85",
    "\u2028",
    "\t",
    "\r",
    "one\r\ntwo\n",
    "ユーザー: おはよう\n",
    "\ufeff",
    " lead",
    "\x7f",
    "😀",
    '"\\',
    "- x",
]


def _token(i: int, text: str, seed: int) -> TokenEvent:
    before = (Candidate(100 + i, text, 0.25), Candidate(7, "cut", 0.125))
    after = (Candidate(100 + i, text, 0.5 + seed / 100),)
    return TokenEvent(
        0, i, 100 + i, text, 0.5 + seed / 100, 0.25, before, after, 3, 0.5, {7: "top_k"}, None, ((100 + i, -1.5),)
    )


def _column(label: str, texts: list[str], seed: int = 0) -> ColumnResult:
    tokens = [_token(i, text, seed) for i, text in enumerate(texts)]
    settings = Settings({"seed": seed})
    return ColumnResult(label, settings, seed, "chain", "".join(texts), "length", None, tokens, seconds=1.0)


def document(keep: int = 0) -> dict:
    outcomes = [
        Outcome(0, "hi", _column(label, ODD_TEXTS[: 3 + seed], seed)) for seed in range(3) for label in ("a", "b")
    ]
    return {
        "samplerlab_result": results.FORMAT,
        "mode": "chat",
        "model": {"spec": "embedded"},
        "load": {},
        "seeds": [0, 1, 2],
        "columns": result_columns(outcomes, keep),
    }


def written(tmp_path, text: str, name: str = "r.yaml"):
    return write_new(tmp_path / name, text)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# -- the records come back exactly ------------------------------------------------------------------
@pytest.mark.parametrize("keep", [0, 2])
def test_a_format_2_file_gives_back_the_document(tmp_path, keep):
    original = document(keep)
    original["columns"][1]["tokens"][0]["approximate"] = "temperature"
    original["columns"][2]["tokens"][1]["p"] = None  # a token llama-server did not report
    original["columns"][3]["tokens"][0]["raw_p"] = math.inf
    text = result_text(original)
    assert text.startswith("samplerlab_result: 2\n") and "\n--- # each token's alternatives" in text
    assert load_result(written(tmp_path, text)) == original


def test_the_lines_are_the_token_records_and_yaml_reads_both_documents(tmp_path):
    original = document()
    head, alternatives = yaml.safe_load_all(result_text(original))
    record = original["columns"][0]
    lines = head["columns"][0]["tokens"].splitlines()
    assert [json.loads(line) for line in lines] == [
        {k: v for k, v in token.items() if k not in ("after", "before")} for token in record["tokens"]
    ]
    first = json.loads(alternatives["alternatives"][0].splitlines()[0])
    assert first == {"after": [[100, "\x85", 0.5]], "before": [[100, "\x85", 0.25], [7, "cut", 0.125, "top_k"]]}
    assert all(line.isascii() and line.isprintable() for line in result_text(original).splitlines())


def test_records_the_lines_cannot_carry_stay_yaml_lists(tmp_path):
    original = document()
    original["columns"][0]["tokens"][0]["note"] = "a key format 1 tolerates"
    original["columns"][1]["tokens"] = []
    text = result_text(original)
    head = next(yaml.safe_load_all(text))
    assert isinstance(head["columns"][0]["tokens"], list) and head["columns"][1]["tokens"] == ""
    assert load_result(written(tmp_path, text)) == original


def test_without_alternatives_the_tokens_are_the_same_but_for_them(tmp_path):
    original = document(keep=2)
    light = load_result(written(tmp_path, result_text(original)), alternatives=False)
    for record in original["columns"]:
        for token in record["tokens"]:
            for key in token_lines.ALTERNATIVE_KEYS:
                token.pop(key)
    assert light == original


def test_a_format_1_file_reads_as_before_and_stats_prints_the_same_for_both(tmp_path, runner):
    original = document()
    old = written(tmp_path, dump({**original, "samplerlab_result": 1}), "old.yaml")
    new = written(tmp_path, result_text(original), "new.yaml")
    assert load_result(old) == {**original, "samplerlab_result": 1}
    printed = [runner.invoke(main, ["stats", str(path)]) for path in (old, new)]
    assert printed[0].exit_code == 0 and printed[0].output == printed[1].output


# -- damaged and hostile files: one line -----------------------------------------------------------------
def _tamper_line(text: str, document_index: int, line_index: int, new: str) -> str:
    """``text`` with the ``line_index``-th JSON line of the first block of document 0 or 1 replaced."""
    lines = text.split("\n")
    start = text[: text.index("\n--- #")].count("\n") + 1 if document_index else 0
    blocks = [i for i, line in enumerate(lines) if i > start and line.lstrip().startswith("{")]
    target = blocks[line_index]
    indent = lines[target][: len(lines[target]) - len(lines[target].lstrip())]
    lines[target] = indent + new
    return "\n".join(lines)


GOOD = '{"id": 100, "text": "x", "p": 0.5, "raw_p": 0.25}'


# (document, the line put in place of the first block's second, the error after "{path}: ")
BAD_LINES = [
    (0, '{"id": 100, "text": "x", "p": 0.5', "columns[0].tokens[1]: not a JSON line (Expecting ',' delimiter)"),
    (0, "[1, 2]", "columns[0].tokens[1]: expected a JSON object, got list"),
    (
        0,
        GOOD[:-1] + ', "x": 1}',
        "columns[0].tokens[1]: unknown key 'x'; expected approximate, entropy, id, p, raw_p, survivors, text",
    ),
    (0, GOOD.replace("0.5", '"high"'), "columns[0].tokens[1].p: expected a number, got 'high'"),
    (
        0,
        GOOD.replace("100", "9" * 5000),
        "columns[0].tokens[1]: not a JSON line (Exceeds the limit (4300 digits) for integer string conversion)",
    ),
    (0, GOOD.replace("100", "true"), "columns[0].tokens[1].id: expected a whole number, got True"),
    (0, GOOD.replace('"x"', "[" * 100_000), "columns[0].tokens[1]: nested too deeply"),
    (0, GOOD + " " + GOOD, "columns[0].tokens[1]: not a JSON line (Extra data)"),
    (1, '{"after": [[1, "x"]]}', "columns[0].tokens[1].after[0]: expected [id, text, p]"),
    (1, '{"before": [[1, "x", 0.5, 3]]}', "columns[0].tokens[1].before[0].cut_by: expected a string, got 3"),
    (1, '{"after": 5}', "columns[0].tokens[1].after: expected a list, got int"),
    (1, '{"later": []}', "columns[0].alternatives[1]: unknown key 'later'; expected after, before, candidates"),
    (1, '{"candidates": [[1]]}', "columns[0].tokens[1].candidates[0]: expected [token id, logprob], got list"),
]


@pytest.mark.parametrize("document_index, line, message", BAD_LINES)
def test_a_bad_line_is_one_line_naming_the_token(tmp_path, runner, document_index, line, message):
    text = _tamper_line(result_text(document()), document_index, 1, line)
    path = written(tmp_path, text)
    for args in (["report", str(path), "--out", str(tmp_path / "r.html")], ["run", "--check", str(path)]):
        result = runner.invoke(main, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert (result.exit_code, result.output) == (1, f"Error: {path}: {message}\n")
    stats = runner.invoke(main, ["stats", str(path)])
    if document_index:  # stats does not read the alternatives, so it has nothing to refuse
        assert stats.exit_code == 0
    else:
        assert stats.output == f"Error: {path}: {message}\n"


def _with_second(text: str, second) -> str:
    """``text``'s result with ``second`` as its second document."""
    return text[: text.index("\n--- #")] + "\n---\n" + yaml.safe_dump(second)


def test_without_a_second_document_the_tokens_have_no_alternatives(tmp_path):
    text = result_text(document())
    loaded = load_result(written(tmp_path, text[: text.index("\n--- #")]))
    assert loaded == load_result(written(tmp_path, text, "whole.yaml"), alternatives=False)


BAD_SECONDS = [  # (the second document, the error after "{path}: ")
    ({"alternatives": [None] * 7}, "alternatives: 7 blocks for 6 columns; expected one per column"),
    ({"alternatives": 3}, "the second YAML document: expected a mapping with an 'alternatives' list"),
    ([1, 2], "the second YAML document: expected a mapping with an 'alternatives' list"),
    ({"alternatives": [5] + [None] * 5}, "alternatives[0]: expected a block of JSON lines or null"),
]


@pytest.mark.parametrize("second, message", BAD_SECONDS)
def test_a_bad_second_document_is_one_line(tmp_path, second, message):
    path = written(tmp_path, _with_second(result_text(document()), second))
    with pytest.raises(ResultError) as caught:
        load_result(path)
    assert str(caught.value) == f"{path}: {message}"


def test_lines_and_blocks_that_disagree_are_named(tmp_path):
    text = result_text(document())
    head, rest = text[: text.index("\n--- #")], text[text.index("\n--- #") :]
    lines = rest.split("\n")
    first_line = next(i for i, line in enumerate(lines) if line.startswith("  {"))
    del lines[first_line]
    with pytest.raises(ResultError, match=r"columns\[0\]\.alternatives: 2 lines for 3 tokens; expected one per token$"):
        load_result(written(tmp_path, head + "\n".join(lines)))
    both = yaml.safe_load_all(text)
    first, second = next(both), next(both)
    first["columns"][0]["tokens"] = [{"id": 1, "text": "x", "p": 0.5, "raw_p": 0.5}]
    mixed = dump(first) + "---\n" + dump(second)
    with pytest.raises(ResultError, match=r"alternatives\[0\]: columns\[0\] has no token lines for them$"):
        load_result(written(tmp_path, mixed, "mixed.yaml"))


def test_a_truncated_file_is_one_line_or_reads_what_it_holds(tmp_path):
    text = result_text(document())
    for cut in range(200, len(text), max(1, len(text) // 40)):
        path = tmp_path / f"cut-{cut}.yaml"
        path.write_text(text[:cut], encoding="utf-8")
        for alternatives in (True, False):
            try:
                load_result(path, alternatives=alternatives)
            except ResultError as error:
                assert "\n" not in str(error) and str(error).startswith(f"{path}")


def test_the_second_document_is_bounded_and_its_errors_point_at_the_file_line(tmp_path):
    text = result_text(document())
    head = text[: text.index("\n--- #")]
    line = head.count("\n") + 2  # the '---' line is the head's last line + 1; the bomb on the next
    bomb = written(tmp_path, head + "\n---\nalternatives: &a [*a]\n", "bomb.yaml")
    with pytest.raises(ResultError) as caught:
        load_result(bomb)
    assert str(caught.value) == f"{bomb}:{line + 1}: anchors and aliases (&name, *name) are not allowed here"
    broken = written(tmp_path, head + "\n---\nalternatives: [\n", "broken.yaml")
    with pytest.raises(ResultError, match=rf"broken\.yaml:{line + 2}: not valid YAML"):
        load_result(broken)
    assert load_result(broken, alternatives=False)["columns"]  # stats never scans it


def test_token_lines_count_against_the_value_limit(tmp_path, monkeypatch):
    text = result_text(document())
    path = written(tmp_path, text)
    head = text[: text.index("\n--- #")]
    yaml_values = safe_yaml.check_events(head, max_nodes=10**6)
    tokens = sum(token_lines.value_bound(r["tokens"]) for r in next(yaml.safe_load_all(text))["columns"])
    over = r"r\.yaml: columns\[\d\]\.tokens: more values than a result may hold$"
    monkeypatch.setattr(results, "MAX_RESULT_NODES", yaml_values + tokens - 1)
    with pytest.raises(ResultError, match=over):
        load_result(path, alternatives=False)
    monkeypatch.setattr(results, "MAX_RESULT_NODES", yaml_values + tokens)
    assert load_result(path, alternatives=False)["columns"]
    with pytest.raises(ResultError, match=over):  # the alternatives' lines do not fit beside them
        load_result(path)
    monkeypatch.setattr(results, "MAX_RESULT_NODES", yaml_values + 3)  # nor the second document's YAML
    with pytest.raises(ResultError, match=rf"r\.yaml:\d+: more than {yaml_values + 3} YAML values in the result$"):
        load_result(path)


def test_the_value_bound_is_never_below_the_values():
    for text in ['{"a": [1, 2, [3, {"b": []}]], "c": "x,y"}', "[]", "[[], [], {}]", '{"after": [[1, "t", 0.5]]}']:
        values, stack = 0, [json.loads(text)]
        while stack:
            item = stack.pop()
            values += 1
            stack.extend(item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
        assert token_lines.value_bound(text + "\n") >= values
