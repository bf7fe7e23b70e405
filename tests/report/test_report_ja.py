"""`samplerlab report --lang ja` on a real run: the page a reader sees (its text and its hovers) has no English
prose, and the progress cards of a running experiment are Japanese too.

Two checks, each shown to fail on the English report: no phrase of the English report-word tables (i18n,
explain, stats words and the statistics' own headings, never typed here) appears, and no English word is
left once the result file's own words (the model's texts and tokens, labels, prompt, versions) are set aside.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from samplerlab.report.page import progress_html
from samplerlab.runs.metrics import STATS
from samplerlab.runs.results import load_result
from samplerlab.schema.params import Settings
from samplerlab.words.explain import WORDS as EXPLAIN
from samplerlab.words.i18n import TEXT
from samplerlab.words.report_words import STAT_JA
from samplerlab.words.stats_words import FIGURE_WORDS
from samplerlab.words.stats_words import WORDS as STATS_WORDS
from tests.cli.test_lang_ja import english_words, invoke
from tests.report.test_report import column

EXPERIMENT = """\
description: a sweep in Japanese
prompt: "LED を褒める短い詩を書いて。"
seeds: [0, 1, 2]
max_tokens: 6
columns:
  - {label: ref, preset: greedy}
  - {label: warm, settings: {top_k: 5, mirostat: 2, stop: ["\\n"]}}
sweep:
  temperature: [0.5, 1.5]
  min_p: [0.0, 0.2]
"""
NAMES = ["nats", "Mirostat"]  # a unit and a sampler's name, in both languages
CJK = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]+")


def tables() -> list[dict[str, str]]:
    """Every report-word table as {"en": ..., "ja": ...} pairs."""
    pairs = [*TEXT.values(), *EXPLAIN.values(), *STATS_WORDS.values()]
    for words in FIGURE_WORDS.values():
        pairs += [{"en": words[f"{k}en"], "ja": words[f"{k}ja"]} for k in ("", "up_", "down_", "more_", "less_")
                  if f"{k}en" in words]  # fmt: skip
    pairs += [{"en": s.help, "ja": STAT_JA[s.name][1]} for s in STATS]
    return pairs


def phrases(lang: str) -> set[str]:
    """Pieces of the tables' words in ``lang`` long enough that no model text shares them."""
    found = set()
    for words in tables():
        if words.get("en") == words.get("ja"):
            continue
        for piece in re.split(r"\{[^}]*\}|[()（）:：;、。,.]", words.get(lang, "")):
            other = words.get("ja" if lang == "en" else "en", "")
            if len(piece := piece.strip()) >= 14 and " " in piece and piece not in other:  # not a shared name
                found.add(piece)
    return found


class _Shown(HTMLParser):
    """The text a reader sees: the page's text and its hovers (title, aria-label), not its styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("style", "script")
        self.parts += [value for name, value in attrs if name in ("title", "aria-label") and value]

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def shown(page: str) -> str:
    parser = _Shown()
    parser.feed(page)
    return "\n".join(parser.parts)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def prose(text: str, document: dict) -> list[str]:
    """The English words of ``text`` that are not the result file's own (its values, not its keys)."""
    own = set(english_words(CJK.sub(" ", "\n".join(_strings(document))), NAMES))
    return [word for word in english_words(CJK.sub(" ", text), NAMES) if word not in own]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("report-ja")
    (folder / "e.yaml").write_text(EXPERIMENT, encoding="utf-8")
    invoke(["--lang", "ja", "run", str(folder / "e.yaml"), "--out", str(folder / "r.yaml")])
    invoke(["--lang", "ja", "report", str(folder / "r.yaml"), "--out", str(folder / "ja.html")])
    invoke(["report", str(folder / "r.yaml"), "--lang", "ja", "--out", str(folder / "ja2.html")])
    invoke(["report", str(folder / "r.yaml"), "--out", str(folder / "en.html")])
    pages = {name: (folder / f"{name}.html").read_text(encoding="utf-8") for name in ("ja", "ja2", "en")}
    return {"document": load_result(folder / "r.yaml"), **pages}


def test_the_japanese_report_has_no_english_phrase_or_word(reports: dict[str, Any]) -> None:
    japanese, english = shown(reports["ja"]), shown(reports["en"])
    assert reports["ja2"] == reports["ja"]  # `report --lang ja` as `samplerlab --lang ja report`
    for section in ("sl-stats", "<svg", "inactive-note"):  # the parts worth checking were drawn
        assert section in reports["ja"], section
    assert sorted(p for p in phrases("en") if p in japanese) == []
    assert prose(japanese, reports["document"]) == []
    assert sorted(p for p in phrases("en") if p in english)  # the checks find English where there is some
    assert prose(english, reports["document"])


def test_the_progress_cards_follow_the_language() -> None:
    finished = [column("a", Settings(), ["x", "y"], [0.5, 0.5], "stop"), column("b", Settings(), [], [], "length")]
    finished[0].stopped_by = "\n"
    japanese, english = shown(progress_html(finished, 6, "ja")), shown(progress_html(finished, 6))
    own = {"labels": [c.label for c in finished], "texts": [c.text for c in finished]}
    assert prose(japanese, own) == [], japanese
    assert "6 列中 2 列が完了" in japanese and "2 トークン · シード 0" in japanese
    assert "2 of 6 columns done" in english and prose(english, own)
