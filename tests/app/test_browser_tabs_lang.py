"""A real browser: every tab, with a note of what an action did on each, reads in the chosen language.

One walk in Japanese through every tab (Compare, Presets, Experiments, History, Blind test), doing on
each one thing that leaves a status note, then back to English. The words checked come from the i18n
tables (``test_browser_fresh.phrases``); the notes, which the library words in English and the edge
translates, must hold Japanese characters under Japanese.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.llama.models import Model
from samplerlab.presets.store import load_preset
from samplerlab.runs.store import RunStore
from tests.app.test_browser import CHROMIUM, browser, open_page, served, set_number, wait_for_stats  # noqa: F401
from tests.app.test_browser_fresh import phrases, settled_leftovers

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]
SCREENSHOT = Path(__file__).parent.parent / "screenshots" / "presets-ja.png"
JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")
TINY = "prompt: hi\nseed: 0\nmax_tokens: 3\ncolumns: [{label: a, preset: greedy}, {label: b, settings: {temperature: 1}}]\n"


@pytest.fixture(scope="module")
def tabs_url(model_path, tmp_path_factory):
    """An app with its own presets, experiments (one tiny file) and run store, so every tab has something."""
    experiments = tmp_path_factory.mktemp("experiments")
    (experiments / "tiny.yaml").write_text(TINY, encoding="utf-8")
    bench = Workbench(
        LocalBackend(Model(model_path)),
        presets_dir=tmp_path_factory.mktemp("presets"),
        experiments_dir=experiments,
        store=RunStore.open(tmp_path_factory.mktemp("store") / "runs.sqlite"),
    )
    yield from served(bench)
    bench.model.close()


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def choose(page, selector: str, option: str) -> None:
    """Pick ``option`` in a Gradio dropdown as a person would: open it, click the option."""
    page.click(f"{selector} input")
    page.locator("ul[role=listbox] li", has_text=option).first.click()


def note(page, selector: str, words: str) -> str:
    """The status note once it says ``words``; under Japanese it must be Japanese, not only free of the tables'
    English (a note the library words in English would pass that)."""
    page.wait_for_function(
        "([s, w]) => document.querySelector(s).innerText.includes(w)", arg=[selector, words], timeout=60_000
    )
    return page.inner_text(selector)


def test_every_tab_and_its_notes_follow_the_language(browser, tabs_url, tmp_path):  # noqa: F811
    page = open_page(browser, tabs_url)
    page.get_by_role("radio", name="ja").check()
    page.wait_for_function("document.querySelector('#run').innerText.includes('実行')", timeout=30_000)

    set_number(page, "#run-max-tokens", "4")  # Compare: a run, its stats lines and charts
    page.click("#run")
    for index in range(3):
        page.wait_for_function(
            f"document.querySelector('#stats-{index}').innerText.includes('トークン')", timeout=120_000
        )
    page.wait_for_selector("#chart-0 canvas, #chart-0 svg", timeout=30_000)
    page.locator("#chart-0").scroll_into_view_if_needed()  # hover along it: the nearest point shows its tooltip
    box = page.locator("#chart-0 canvas, #chart-0 svg").first.bounding_box()
    for step in range(1, 6):
        page.mouse.move(box["x"] + box["width"] * step / 6, box["y"] + box["height"] / 3)
        page.wait_for_timeout(200)
    page.wait_for_selector("#vg-tooltip-element.visible", timeout=10_000)
    tooltip = page.inner_text("#vg-tooltip-element")
    assert "系列" in tooltip and "series" not in tooltip, tooltip  # the hover box names its fields in Japanese
    page.mouse.move(0, 0)
    assert settled_leftovers(page, "ja") == []

    tab(page, "プリセット")  # Presets: save a column, refuse the same name again, show a built-in
    page.fill("#preset-name textarea", "テスト用")
    page.click("#save-preset")
    assert "テスト用" in note(page, "#preset-status", "保存しました")
    page.click("#save-preset")
    assert "すでにあります" in note(page, "#preset-status", "上書き")
    other = open_page(browser, tabs_url)  # a page opened since lists it: the page's load refreshes the presets
    tab(other, "Presets")
    other.click("#preset-show input")
    other.locator("ul[role=listbox] li", has_text="テスト用").first.wait_for(timeout=30_000)
    other.close()
    choose(page, "#preset-show", "greedy")
    about = note(page, "#preset-about", "貪欲法")
    assert about.strip() == load_preset("greedy").description_ja
    page.screenshot(path=str(tmp_path / "presets-ja.png"), full_page=True)
    if os.environ.get("SAMPLERLAB_UPDATE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "presets-ja.png", SCREENSHOT)
    assert settled_leftovers(page, "ja") == []

    tab(page, "実験")  # Experiments: run the tiny file, then save the Compare tab's run as one
    choose(page, "#experiment", "tiny")
    page.click("#run-experiment")
    note(page, "#experiment-status", "✓")  # ✓ and the result file's name
    page.wait_for_selector("#experiment-report iframe", timeout=60_000)
    report = page.frame_locator("#experiment-report iframe").locator("body").inner_text()
    assert JAPANESE.search(report) and [p for p in phrases("en") if p in report] == []  # the report in Japanese
    page.fill("#comparison-name textarea", "比較メモ")
    page.click("#save-comparison")
    assert JAPANESE.search(note(page, "#comparison-status", "保存しました"))
    page.click("#save-comparison")  # the same name again: refused, in Japanese
    saved_again = note(page, "#comparison-status", "✗")
    assert JAPANESE.search(saved_again), saved_again
    assert settled_leftovers(page, "ja") == []

    tab(page, "履歴")  # History: the runs above, reopen one
    page.wait_for_function("document.querySelector('#history-table').innerText.length > 20", timeout=30_000)
    page.click("#history-reopen")
    note(page, "#history-status", "開き直しました")
    assert settled_leftovers(page, "ja") == []

    tab(page, "ブラインドテスト")  # Blind test: a vote before a test is started says to start one
    page.click("#blind-vote-a")
    assert JAPANESE.search(note(page, "#blind-pair", "開始"))
    assert settled_leftovers(page, "ja") == []

    page.get_by_role("radio", name="en").check()  # back to English: every tab, notes included
    page.wait_for_function("document.querySelector('#run').innerText.includes('Run')", timeout=30_000)
    for name in ("Blind test", "History", "Experiments", "Presets", "Compare"):
        tab(page, name)
        assert settled_leftovers(page, "en") == [], name
    tab(page, "Presets")
    assert page.inner_text("#preset-about").strip() == load_preset("greedy").description
