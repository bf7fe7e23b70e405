"""The Compare tab's seeds per column, in a real browser: the page's columns on several seeds in one run,
each column's texts (one open, the others a click away) and the statistics with their pictures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.llama.models import Model
from tests.app.test_browser import CHROMIUM, browser, open_page, served, set_number  # noqa: F401 - fixtures

SCREENSHOT = Path(__file__).parent.parent / "screenshots" / "seed-stats.png"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def app_url(model_path, tmp_path_factory):
    bench = Workbench(LocalBackend(Model(model_path)), presets_dir=tmp_path_factory.mktemp("presets"))
    yield from served(bench)
    bench.model.close()


def test_a_person_runs_the_columns_on_three_seeds_and_reads_the_statistics(browser, app_url, tmp_path):  # noqa: F811
    page = open_page(browser, app_url)
    set_number(page, "#run-max-tokens", "8")
    page.get_by_text("Statistics across seeds").first.click()
    page.click("#run-seeds")
    page.wait_for_function(
        "document.querySelector('#seed-stats').innerText.includes('Seeds per column is 1')", timeout=60_000
    )
    assert "Seeds per column is 1" in page.inner_text("#seed-stats")  # 1 keeps today's page
    set_number(page, "#seeds-per-column", "3")
    page.click("#run-seeds")
    page.wait_for_function("document.querySelector('#seed-stats').innerText.includes('verdicts')", timeout=300_000)
    cards = page.locator("#seed-stats .sl-seed-texts article")
    assert cards.count() == 3
    for index in range(3):
        assert cards.nth(index).locator("details").count() == 2  # seeds 1 and 2 a click away
        assert "2 more seeds" in cards.nth(index).inner_text()
    assert page.locator("#seed-stats svg.sl-dots").count() == 12
    assert page.locator("#seed-stats svg.sl-qd").count() == 1
    text = page.inner_text("#seed-stats")
    assert "Column 1" in text and "95% interval: percentile bootstrap" in text
    page.locator("#seed-stats").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "seed-stats.png"), full_page=False)
    if os.environ.get("SAMPLERLAB_UPDATE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "seed-stats.png", SCREENSHOT)
