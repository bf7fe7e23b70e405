"""A real browser: loading a model retires every panel of the last run."""

from __future__ import annotations

from pathlib import Path

import pytest

from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.llama.models import Model
from samplerlab.words.i18n import t
from tests.app.test_browser import CHROMIUM, browser, open_page, served, set_number, wait_for_stats  # noqa: F401
from tests.app.test_browser_fresh import PANELS, open_every_panel

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
CHARTS = [f"#{kind}-{index}" for index in range(3) for kind in ("chart", "entropy-chart")]


@pytest.fixture(scope="module")
def app_url(model_path, tmp_path_factory):
    """An app of this module's own: its tests load other models into it."""
    bench = Workbench(LocalBackend(Model(model_path)), presets_dir=tmp_path_factory.mktemp("presets"))
    yield from served(bench)
    bench.model.close()


def load(page, path: str = "") -> None:
    """Open the model panel and load ``path`` (empty: the embedded model, its own button)."""
    if not page.is_visible("#load-model"):
        page.click("#model-panel")
    if path:
        page.fill("#model-path textarea", path)
        page.click("#load-model")
    else:
        page.click("#load-embedded")


def test_loading_a_model_again_retires_every_panel_of_the_last_run(browser, app_url):  # noqa: F811
    page = open_page(browser, app_url)
    set_number(page, "#run-max-tokens", "8")
    page.click("#run")
    for index in range(3):
        wait_for_stats(page, index)
    for chart in CHARTS:
        page.wait_for_selector(f"{chart} svg", timeout=60_000)
    open_every_panel(page, "0.5")
    assert page.locator("#tokens-0 .token").count() > 0
    load(page)  # the same model again: what was shown was of a model that is gone
    page.wait_for_function("document.querySelector('#why').innerText.trim() === ''", timeout=120_000)
    for selector in PANELS:
        assert page.inner_text(selector).strip() == "", selector
    assert not page.locator("#branch-0").is_visible()
    assert page.inner_text("#candidates-0").strip() == t("pick_a_token", "en")
    assert page.locator("#tokens-0 .token").count() == 0
    for index in range(3):
        assert page.inner_text(f"#stats-{index}").strip() == ""
    for chart in CHARTS:
        assert not page.locator(chart).is_visible(), chart
    assert "SmolLM2" in page.inner_text("#model-info")
