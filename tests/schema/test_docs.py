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
