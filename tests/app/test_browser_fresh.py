"""A real browser: every panel belongs to one run, and the language switch re-words all of the page.

One walk, as a learner would take it: run, open every panel, run again with other settings, switch
to Japanese, run a Japanese prompt and read its characters, switch back. The words checked come from
the i18n tables (every phrase whose English and Japanese differ), never typed here.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from samplerlab.words import blind, explain, history_words, i18n, stats_words
from tests.app.test_browser import CHROMIUM, app_url, browser, open_page, set_number, wait_for_stats  # noqa: F401

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
SCREENSHOTS = Path(__file__).parent.parent / "screenshots"
PAGE_TABLES = (  # every word table the page draws from (the CLI's own are not on it)
    i18n.TEXT, i18n.FINISH_REASONS, i18n.INACTIVE_REASONS, explain.WORDS, blind.WORDS,
    history_words.HISTORY_TEXT, stats_words.WORDS, stats_words.FIGURE_WORDS,
)  # fmt: skip
PANELS = ["#why", "#why-1", "#what-if-0"]  # emptied by a new run (the candidates go back to the hint)


def phrases(lang: str) -> set[str]:
    """Fragments of the page's words in ``lang`` long enough that no model text or other language shares them."""
    found = set()
    for table in PAGE_TABLES:
        for words in table.values():
            if words.get("en") == words.get("ja"):
                continue
            for piece in re.split(r"\{[^}]*\}|[()（）:：;、。,.]", words.get(lang, "")):
                piece = piece.strip()
                if (
                    (len(piece) >= 14 and " " in piece)
                    if lang == "en"
                    else (len(piece) >= 6 and bool(re.search("[\u3040-\u30ff\u4e00-\u9fff]", piece)))
                ):
                    found.add(piece)
    return found


def visible_text(page) -> str:
    """What a person sees of the page's own words: visible text, without the model's text areas."""
    return page.evaluate("document.querySelector('gradio-app').innerText")


def leftovers(page, lang: str) -> list[str]:
    """The other language's phrases on screen, each with the id of the innermost element showing it."""
    other = "en" if lang == "ja" else "ja"
    text = visible_text(page)
    found = sorted(p for p in phrases(other) if p in text)
    where = (
        "(p) => [...document.querySelectorAll('[id]')].filter(e => e.innerText && e.innerText.includes(p))"
        ".map(e => e.id).pop()"
    )
    places = [(p, page.evaluate(where, p)) for p in found]
    return [f"{p} (in #{place})" for p, place in places]


def settled_leftovers(page, lang: str, seconds: float = 30.0) -> list[str]:
    """``leftovers`` once the switch's redraws have landed (each is its own event), or as they stand after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while (found := leftovers(page, lang)) and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    return found


def open_every_panel(page, top_p: str) -> None:
    page.click("#why-button")
    page.wait_for_selector("#why .sl-why", timeout=30_000)
    page.click("#why-here-1")
    page.wait_for_selector("#why-1 .sl-why", timeout=30_000)
    if not page.is_checked("#token-view-0 input"):
        page.click("#token-view-0 input")
    page.locator("#tokens-0 .token").nth(1).click()
    page.wait_for_selector("#candidates-0 .sl-cands", timeout=30_000)
    page.wait_for_selector("#branch-0", state="visible", timeout=30_000)
    set_number(page, "#top_p-0", top_p)
    page.wait_for_function("document.querySelector('#what-if-0').innerText.includes('What if')", timeout=30_000)


def test_every_panel_belongs_to_one_run_and_every_word_follows_the_language(browser, app_url, tmp_path):  # noqa: F811
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(app_url)
    page.wait_for_selector("#run", timeout=60_000)
    for selector in ("#run", "#stop"):  # reachable without scrolling at 1440×900
        box = page.locator(selector).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, (selector, box)
    page.set_viewport_size({"width": 1440, "height": 1250})
    set_number(page, "#run-max-tokens", "14")
    page.click("#run")
    for index in range(3):
        wait_for_stats(page, index)
    open_every_panel(page, "0.5")
    assert "14 tokens" in page.inner_text("#what-if-0")

    set_number(page, "#run-max-tokens", "9")  # run again with other settings: nothing of the first run stays
    set_number(page, "#run-seed", "7")
    page.click("#run")
    page.wait_for_function("document.querySelector('#why').innerText.trim() === ''", timeout=30_000)
    for selector in PANELS:
        assert page.inner_text(selector).strip() == "", selector
    assert not page.locator("#branch-0").is_visible()
    assert "Click a token" in page.inner_text("#candidates-0")
    for index in range(3):
        assert "9 tokens" in wait_for_stats(page, index)
    open_every_panel(page, "0.6")
    assert "9 tokens" in page.inner_text("#what-if-0") and "14 tokens" not in page.inner_text("#what-if-0")

    page.get_by_role("radio", name="ja").check()  # the language switch re-words everything on screen, panels included
    page.wait_for_function("document.querySelector('#run').innerText.includes('実行')", timeout=30_000)
    page.wait_for_function("document.querySelector('#what-if-0').innerText.includes('もし')", timeout=30_000)
    page.wait_for_function("document.querySelector('#why').innerText.includes('分かれ')", timeout=30_000)
    page.wait_for_function("document.querySelector('#why-1').innerText.includes('分かれ')", timeout=30_000)
    assert settled_leftovers(page, "ja") == []
    assert "全列をここから分岐" in page.inner_text("#column-0")
    assert "トークンごとの確率" in page.inner_text("#column-0")  # the chart's title

    page.fill("#prompt textarea", "発光ダイオードを讃える詩をつくってください")
    set_number(page, "#run-max-tokens", "24")
    page.click("#run")
    for index in range(3):  # the stats line in Japanese: "… トークン · …"
        page.wait_for_function(
            f"document.querySelector('#stats-{index}').innerText.includes('トークン')", timeout=180_000
        )
    spans = page.locator("#tokens-0 .token")
    texts = [spans.nth(i).inner_text() for i in range(spans.count())]
    assert all(text.strip("\u200b") or text.isspace() for text in texts), texts  # no empty slivers
    merged = False
    for i, text in enumerate(texts):
        if text and not text.isascii():
            spans.nth(i).click()
            page.wait_for_selector("#candidates-0 .sl-cands", timeout=30_000)
            if "個のバイトトークン" in page.inner_text("#candidates-0"):
                merged = True
                break
    assert merged, texts  # the embedded model writes kana as byte tokens: one of them is a merged span
    assert "\\\\x" not in page.inner_text("#candidates-0")
    page.click("#why-button")
    page.wait_for_selector("#why .sl-why", timeout=30_000)
    assert "''" not in page.inner_text("#why .sl-why-verdict")
    page.evaluate("window.scrollBy(0, document.querySelector('#why-a').getBoundingClientRect().top - 20)")
    page.screenshot(path=str(tmp_path / "app-ja.png"), full_page=False)
    assert leftovers(page, "ja") == []

    page.get_by_role("radio", name="en").check()
    page.wait_for_function("document.querySelector('#run').innerText.includes('Run')", timeout=30_000)
    assert settled_leftovers(page, "en") == []
    if os.environ.get("SAMPLERLAB_UPDATE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "app-ja.png", SCREENSHOTS / "app-ja.png")
