"""The Blind test tab in a real browser (headless Chromium): start, vote with keys 1-4, reveal; and a
shared group test where the host (the page with the host key) and a visitor vote in two sessions."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from samplerlab.app.blind_tab import host_key
from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.runs.votes import load_votes
from samplerlab.words.blind import w
from tests.app.test_browser import CHROMIUM, browser, open_page, served, set_number  # noqa: F401
from tests.app.test_browser_fresh import settled_leftovers

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(autouse=True)
def no_generation_left_behind():
    """The model is closed after the tests: no pair generated ahead may still be running on it."""
    yield
    for thread in [t for t in threading.enumerate() if t.name == "blind-prefetch"]:
        thread.join(300)


def start(page, seeds: str = "3", tokens: str = "12") -> None:
    page.get_by_role("tab", name="Blind test").click()
    page.wait_for_selector("#blind-start", timeout=30_000)
    set_number(page, "#blind-seeds", seeds)
    set_number(page, "#blind-tokens", tokens)
    page.click("#blind-start")
    wait_for_votes(page, 0)


def wait_for_votes(page, count: int) -> None:
    page.wait_for_function(
        f"document.querySelector('#blind-pair').innerText.includes('{count} votes so far')"
        " && document.querySelector('#blind-left textarea').value.length > 0",
        timeout=240_000,
    )


def test_a_person_votes_with_keys_and_reveals(browser, model, tmp_path):  # noqa: F811
    bench = Workbench(LocalBackend(model), presets_dir=tmp_path / "presets")
    for url in served(bench):
        page = open_page(browser, url)
        start(page)
        assert "llama.cpp defaults" not in page.inner_text("#blind-pair")  # the settings are hidden
        page.locator("#blind-pair").click()  # the focus leaves the number fields: keys vote
        for count, key in enumerate("1213", 1):
            page.keyboard.press(key)
            wait_for_votes(page, count)
        page.click("#blind-vote-bad")
        wait_for_votes(page, 5)
        page.click("#blind-reveal")
        page.wait_for_function(
            "document.querySelector('#blind-reveal-view').innerText.includes('left side chosen')", timeout=120_000
        )
        shown = page.inner_text("#blind-reveal-view")
        assert "Bradley-Terry" in shown and "min-p creative" in shown and "Votes per pair" in shown
        assert "can't tell" in shown or "you prefer" in shown
        link = page.locator("#blind-download a").first.get_attribute("href")
        assert link
        page.get_by_role("radio", name="ja").check()  # the pair's header and the reveal follow the language
        page.wait_for_function(
            "(said) => document.querySelector('#blind-pair').innerText.includes(said)",
            arg=w("voted", "ja").format(n=5),
            timeout=30_000,
        )
        page.wait_for_function(
            "!document.querySelector('#blind-reveal-view').innerText.includes('left side chosen')", timeout=30_000
        )
        assert settled_leftovers(page, "ja") == []
        page.get_by_role("radio", name="en").check()
        saved = next((bench.scratch("blind")).glob("blind-*.jsonl"))
        votes = load_votes(saved)
        assert [v.choice for v in votes.votes] == ["A", "B", "A", "tie", "bad"]
        again = open_page(browser, url)  # another browser continues the file, as its voter
        again.get_by_role("tab", name="Blind test").click()
        again.locator("#blind-load input[type=file]").set_input_files(str(saved))
        wait_for_votes(again, 5)
        again.click("#blind-vote-a")
        wait_for_votes(again, 6)
        continued = load_votes(next((bench.scratch("blind")).glob("continued-*.jsonl")))
        assert len(continued.votes) == 6 and len({v.voter for v in continued.votes}) == 1


def test_a_shared_group_test_hides_the_settings_until_the_host_reveals(browser, model, tmp_path):  # noqa: F811
    bench = Workbench(LocalBackend(model), presets_dir=tmp_path / "presets", shared=True)
    for url in served(bench):
        visitor = open_page(browser, url)
        visitor.get_by_role("tab", name="Blind test").click()
        visitor.click("#blind-start")  # a visitor cannot start the group's test
        visitor.wait_for_function(
            "document.querySelector('#blind-status').innerText.includes('Only the host')", timeout=60_000
        )
        host = open_page(browser, f"{url}?blind_host={host_key(bench)}")
        start(host, seeds="2", tokens="10")
        host.click("#blind-vote-a")
        wait_for_votes(host, 1)
        visitor.click("#blind-start")  # now the visitor joins: its own first pair
        wait_for_votes(visitor, 0)
        visitor.click("#blind-vote-b")
        wait_for_votes(visitor, 1)
        visitor.click("#blind-reveal")
        visitor.wait_for_function(
            "document.querySelector('#blind-reveal-view').innerText.includes('not revealed')", timeout=60_000
        )
        assert "min-p creative" not in visitor.inner_text("#blind-reveal-view")
        host.click("#blind-reveal")
        host.wait_for_function(
            "document.querySelector('#blind-reveal-view').innerText.includes('Per voter')", timeout=120_000
        )
        assert "All voters pooled: 2" in host.inner_text("#blind-reveal-view")
        visitor.click("#blind-reveal")
        visitor.wait_for_function(
            "document.querySelector('#blind-reveal-view').innerText.includes('Bradley-Terry')", timeout=60_000
        )
        assert "Per voter" not in visitor.inner_text("#blind-reveal-view")
        assert visitor.locator("#blind-download a").count() == 0  # the file (with settings) is the host's


def test_the_host_lets_a_judge_vote_and_the_reveal_shows_agreement(browser, model, server, tmp_path):  # noqa: F811
    """Issue 18, item 1: the judge's URL and button in the tab, against a real llama-server."""
    bench = Workbench(LocalBackend(model), presets_dir=tmp_path / "presets")
    for url in served(bench):
        page = open_page(browser, url)
        start(page, seeds="2", tokens="8")
        page.click("#blind-vote-a")
        wait_for_votes(page, 1)
        page.click("#blind-vote-b")
        wait_for_votes(page, 2)
        page.locator("#blind-judge-url input, #blind-judge-url textarea").first.fill(server.url)
        page.click("#blind-judge")
        page.wait_for_function(
            "document.querySelector('#blind-judge-status').innerText.includes('abstentions')", timeout=240_000
        )
        said = page.inner_text("#blind-judge-status")
        assert "Cohen's kappa" in said or "no pair voted on by both" in said
        assert "min-p creative" not in said  # the tally names no setting: the host may still be voting
        page.click("#blind-reveal")
        page.wait_for_function(
            "document.querySelector('#blind-reveal-view').innerText.includes('Bradley-Terry')", timeout=120_000
        )
        page.screenshot(path=str(tmp_path / "judge.png"), full_page=False)
        saved = load_votes(next(bench.scratch("blind").glob("blind-*.jsonl")))
        judged = [v for v in saved.votes if v.judge]
        assert all(v.voter == "judge" for v in judged) and len([v for v in saved.votes if not v.judge]) == 2
        assert ("judge vs person: Cohen's kappa" in page.inner_text("#blind-reveal-view")) == bool(judged)
