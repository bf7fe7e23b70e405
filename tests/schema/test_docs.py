"""The README's reference tables are the schema's own output, so they cannot drift."""

from pathlib import Path

from samplerlab.schema import docs

README = (Path(__file__).resolve().parent.parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_knob_table_is_generated_from_the_schema():
    assert docs.knob_table("en") in README


def test_readme_order_table_is_generated_from_the_schema():
    assert docs.order_table() in README


def test_japanese_table_has_every_knob():
    table = docs.knob_table("ja")
    assert table.count("\n") == len(docs.KNOBS) + 1 and "温度" in table


def test_japanese_order_table_has_every_stage_in_japanese():
    """`knobs --orders --lang ja`: the same stages, letters and orders, the words in Japanese."""
    english, japanese = docs.order_table("en"), docs.order_table("ja")
    assert japanese.count("\n") == english.count("\n")
    for stage in docs.STAGES:
        assert f"| `{stage.letter}` | {stage.name} ({stage.label_ja}) |" in japanese
    for word in ("letter", "stage", "picks the token", "replaces"):
        assert word in english and word not in japanese
    assert "繰り返しペナルティ" in japanese and "温度" in japanese
