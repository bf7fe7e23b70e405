"""No text from a model, a file or a server reaches the terminal as control characters: an experiment
label that retitles the window, model output full of ESC, all shown as symbols (render.visible)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.cli.main import main
from samplerlab.report.render import visible

LABEL = "a\\e]0;PWNED\\a"  # YAML double-quoted escapes: ESC ] 0 ; PWNED BEL, an xterm title change


def clean(output: str) -> None:
    assert not any(ord(c) < 0x20 and c not in "\n\t" or 0x7F <= ord(c) < 0xA0 for c in output), repr(output)


@pytest.fixture(scope="module")
def hostile_result(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("terminal")
    experiment = folder / "e.yaml"
    experiment.write_text(
        f'prompt: "Hello"\nseed: 0\nmax_tokens: 4\ncolumns:\n  - {{label: "{LABEL}", temperature: 0}}\n'
        '  - {label: "b\\e[2J", temperature: 1.5}\n',
        encoding="utf-8",
    )
    ran = CliRunner().invoke(main, ["run", str(experiment), "--out", str(folder / "r.yaml")])
    assert ran.exit_code == 0, ran.output
    clean(ran.output)
    assert "a␛]0;PWNED␇" in ran.output and "b␛[2J" in ran.output
    return folder / "r.yaml"


def test_runs_table_and_explain_show_control_characters_as_symbols(hostile_result: Path) -> None:
    shown = CliRunner().invoke(main, ["explain", str(hostile_result), "a\x1b]0;PWNED\x07", "b\x1b[2J"])
    assert shown.exit_code == 0, shown.output
    clean(shown.output)
    assert "a␛]0;PWNED␇" in shown.output


def test_an_error_naming_a_hostile_label_is_visible(hostile_result: Path) -> None:
    shown = CliRunner().invoke(main, ["explain", str(hostile_result), "x\x1b[31m", "b\x1b[2J"])
    assert shown.exit_code == 1
    clean(shown.output)


def test_model_output_full_of_escapes_is_visible_in_compare() -> None:
    shown = CliRunner().invoke(
        main, ["compare", "Hello", "--column", "logit_bias=\\x1b:100", "--max-tokens", "4", "--seed", "0"]
    )
    assert shown.exit_code == 0, shown.output
    clean(shown.output)
    assert "␛" in shown.output


def test_visible_keeps_text_and_line_breaks_and_marks_every_other_control() -> None:
    assert visible("日本語\ttab\nline") == "日本語\ttab\nline"
    assert visible("\x1b\x07\r\x00\x7f\x9b") == "␛␇␍␀␡\\x9b"
