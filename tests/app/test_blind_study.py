"""The README's blind study in the app: the committed votes file, loaded in the Blind test tab of a real
browser, reveals the ranking `samplerlab votes` printed for it (and is the README's screenshot)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.report.blind import ranking_of
from samplerlab.runs.votes import load_votes
from tests.app.test_blind_browser import no_generation_left_behind  # noqa: F401
from tests.app.test_browser import CHROMIUM, browser, open_page, served  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent.parent
STUDY = ROOT / "experiments" / "led-poem-blind-votes.jsonl"
SCREENSHOT = ROOT / "tests" / "screenshots" / "blind-reveal.png"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def test_the_led_poem_study_reveals_its_ranking_in_the_app(browser, model, tmp_path):  # noqa: F811
    verdict = ranking_of(load_votes(STUDY)).verdicts[0].line()
    bench = Workbench(LocalBackend(model), presets_dir=tmp_path / "presets")
    for url in served(bench):
        page = open_page(browser, url)
        page.get_by_role("tab", name="Blind test").click()
        page.locator("#blind-load input[type=file]").set_input_files(str(STUDY))
        page.wait_for_function(
            "document.querySelector('#blind-pair').innerText.includes('12 votes so far')", timeout=240_000
        )
        page.click("#blind-reveal")
        page.wait_for_function(
            "document.querySelector('#blind-reveal-view').innerText.includes('left side chosen')", timeout=120_000
        )
        shown = page.inner_text("#blind-reveal-view")
        assert verdict in shown and "Bradley-Terry" in shown and "Votes per pair" in shown
        page.evaluate("window.scrollBy(0, document.querySelector('#blind-reveal').getBoundingClientRect().top - 10)")
        page.screenshot(path=str(tmp_path / "reveal.png"), full_page=False)
        if os.environ.get("SAMPLERLAB_UPDATE_SCREENSHOT"):
            shutil.copyfile(tmp_path / "reveal.png", SCREENSHOT)
