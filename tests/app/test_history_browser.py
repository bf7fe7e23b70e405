"""The History tab in a real Chromium: one browser runs a comparison, another reopens it from the tab and
reads its token view, as the first left it."""

from __future__ import annotations

import pytest

from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.llama.models import Model
from samplerlab.runs.store import RunStore
from samplerlab.words.i18n import t
from tests.app.test_browser import browser, open_page, served, set_number, wait_for_stats  # noqa: F401 - a fixture

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def history_url(model_path, tmp_path_factory):
    store = RunStore.open(tmp_path_factory.mktemp("store") / "runs.sqlite")
    bench = Workbench(LocalBackend(Model(model_path)), presets_dir=tmp_path_factory.mktemp("presets"), store=store)
    yield from served(bench)
    bench.model.close()


def test_another_browser_reopens_a_run_from_the_history_tab_with_its_token_view(browser, history_url):  # noqa: F811
    first = open_page(browser, history_url)
    set_number(first, "#run-max-tokens", "8")
    first.click("#run")
    texts = [wait_for_stats(first, i) and first.input_value(f"#output-{i} textarea") for i in range(3)]
    second = open_page(browser, history_url)
    second.get_by_role("tab", name="History").click()
    second.wait_for_function("document.querySelector('#history-table').innerText.includes('done')", timeout=60_000)
    assert "Write a short poem praising light-emitt…" in second.inner_text("#history-table")
    picked = second.locator("#history-run input").input_value()
    second.get_by_role("radio", name="ja").check()  # the table follows the language; the picked run stays
    second.wait_for_function(
        "(done) => document.querySelector('#history-table').innerHTML.includes(done)",
        arg=f"<td>{t('status_done', 'ja')}</td>",  # the status cell, not the heading 完了数
        timeout=30_000,
    )
    assert t("history_status", "ja") in second.inner_text("#history-table")
    assert second.locator("#history-run input").input_value() == picked
    second.get_by_role("radio", name="en").check()
    second.wait_for_function("document.querySelector('#history-table').innerText.includes('done')", timeout=30_000)
    second.click("#history-reopen")
    second.wait_for_function(
        "document.querySelector('#history-status').innerText.includes('Reopened run')", timeout=60_000
    )
    second.get_by_role("tab", name="Compare").click()
    assert [second.input_value(f"#output-{i} textarea") for i in range(3)] == texts
    assert "tokens" in second.inner_text("#stats-0")
    second.click("#token-view-0 input")
    second.locator("#tokens-0 .token").nth(1).click()
    second.wait_for_function(
        "document.querySelector('#candidates-0').innerText.includes('after the chain')", timeout=30_000
    )
