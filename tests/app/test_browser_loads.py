"""A real browser: loading a model retires every panel of the last run, and the model line says at once when
a model has no chat template (chat mode cannot run on it); trying chat anyway is one error, not two."""

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


def test_the_experiments_max_tokens_field_starts_empty(browser, app_url):  # noqa: F811
    page = open_page(browser, app_url)
    page.get_by_role("tab", name="Experiments").click()
    field = page.locator("#experiment-max-tokens textarea, #experiment-max-tokens input")
    field.wait_for(timeout=30_000)
    assert field.input_value() == ""


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


def test_a_model_without_a_chat_template_says_so_at_load_and_chat_is_one_error(browser, app_url, untemplated_path):  # noqa: F811
    page = open_page(browser, app_url)
    assert t("no_template_hint", "en") not in page.inner_text("#model-info")
    load(page, str(untemplated_path))
    page.wait_for_function(
        "(hint) => document.querySelector('#model-info').innerText.includes(hint)",
        arg=t("no_template_hint", "en"),
        timeout=120_000,
    )
    page.get_by_role("radio", name="ja").check()
    page.wait_for_function(
        "(hint) => document.querySelector('#model-info').innerText.includes(hint)",
        arg=t("no_template_hint", "ja"),
        timeout=30_000,
    )
    set_number(page, "#run-max-tokens", "4")
    page.click("#run")  # in chat mode, the page's first
    page.wait_for_selector("[data-testid=toast-text]", timeout=60_000)
    page.wait_for_timeout(3000)  # a second toast would have come by now
    toasts = page.locator("[data-testid=toast-text]")
    shown = [toasts.nth(i).inner_text() for i in range(toasts.count())]
    assert shown == ["no-template.gguf にはチャットテンプレートがありません。raw モードを使ってください"]
    page.get_by_role("radio", name="raw").check()  # what the hint says to do
    page.click("#run")
    for index in range(3):
        page.wait_for_function(
            f"document.querySelector('#stats-{index}').innerText.includes('トークン')", timeout=180_000
        )
