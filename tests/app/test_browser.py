"""A real browser (Debian's headless Chromium) uses the app the way a person would."""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from samplerlab.app.ui import serve
from samplerlab.app.workbench import Workbench
from samplerlab.backends.local import LocalBackend
from samplerlab.llama.models import Model

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path(__file__).parent.parent / "screenshots" / "app.png"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def app_url(model_path, tmp_path_factory):
    bench = Workbench(LocalBackend(Model(model_path)), presets_dir=tmp_path_factory.mktemp("presets"))
    yield from served(bench)
    bench.model.close()


def served(bench: Workbench):
    """The app on a free port of 127.0.0.1, after the independence check, for as long as a fixture lasts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bench.check()
    demo, url, _ = serve(bench, port=port, block=False, say=lambda *_: None)
    yield url
    demo.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def open_page(browser, url):
    """A fresh browser context is a separate session, as another person's browser would be."""
    page = browser.new_context(viewport={"width": 1440, "height": 1250}).new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(url)
    page.wait_for_selector("#run", timeout=60_000)
    return page


@pytest.fixture
def page(browser, app_url):
    return open_page(browser, app_url)


def set_number(page, selector: str, value: str) -> None:
    field = page.locator(f"{selector} input[type=number]")
    field.fill(value)
    field.press("Enter")


def wait_for_stats(page, index: int) -> str:
    page.wait_for_function(f"document.querySelector('#stats-{index}').innerText.includes('tokens')", timeout=180_000)
    return page.inner_text(f"#stats-{index}")


def test_a_person_compares_three_columns_and_reads_the_token_view(page, app_url, tmp_path):
    for selector, value in (("#temperature-2", "2"), ("#run-max-tokens", "40")):
        set_number(page, selector, value)
    page.click("#run")
    for index in range(3):
        wait_for_stats(page, index)
        assert page.input_value(f"#output-{index} textarea").strip()
    assert "Differs from column 1: temperature 2.0 (0.8)" in page.inner_text("#column-2")
    page.click("#token-view-0 input")
    page.locator("#tokens-0 .token").nth(1).click()
    page.wait_for_function(
        "document.querySelector('#candidates-0').innerText.includes('after the chain')", timeout=30_000
    )
    page.evaluate("window.scrollBy(0, document.querySelector('#why-a').getBoundingClientRect().top - 20)")
    page.screenshot(path=str(tmp_path / "app.png"), full_page=False)
    if os.environ.get("SAMPLERLAB_UPDATE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "app.png", SCREENSHOT)
    assert all(url.startswith(app_url) or url.startswith("data:") for url in page.requests), [
        url for url in page.requests if not url.startswith(app_url)
    ]


def test_the_language_switches_to_japanese_with_what_is_on_screen(page):
    """From the first load column 2 says how it differs; after a run, the switch re-words all of it."""
    page.wait_for_function(
        "document.querySelector('#column-1').innerText.includes('Differs from column 1')", timeout=30_000
    )
    set_number(page, "#run-max-tokens", "6")
    page.click("#run")
    assert "tokens" in wait_for_stats(page, 0)
    page.get_by_label("ja").check()
    page.wait_for_function("document.querySelector('#run').innerText.includes('実行')", timeout=30_000)
    assert "候補の絞り込み" in page.inner_text("#column-0")
    page.wait_for_function("document.querySelector('#stats-0').innerText.includes('トークン')", timeout=30_000)
    assert "列1との違い" in page.inner_text("#column-1")


def test_stop_while_queued_stops_only_that_sessions_run(browser, app_url):
    """B presses Stop while its run waits behind A's: B's run ends at once, A's runs to the end."""
    first, second = open_page(browser, app_url), open_page(browser, app_url)
    set_number(first, "#run-max-tokens", "160")
    set_number(second, "#run-max-tokens", "160")
    first.click("#run")
    first.wait_for_function("document.querySelector('#output-0 textarea').value.length > 0", timeout=60_000)
    second.click("#run")
    second.wait_for_timeout(1000)  # as a person would: the run is queued behind the first one
    second.click("#stop")
    assert "stopped" in wait_for_stats(second, 0)
    assert "stopped" not in wait_for_stats(first, 0)
    assert len(second.input_value("#output-0 textarea")) < len(first.input_value("#output-0 textarea"))


def test_the_dice_draws_a_seed_and_the_column_count_shows_and_hides_columns(page):
    page.click("#dice")
    page.wait_for_function("document.querySelector('#run-seed input').value !== '0'", timeout=30_000)
    assert 0 <= int(page.input_value("#run-seed input")) < 2**31
    assert not page.locator("#column-3").is_visible()
    set_number(page, "#column-count", "4")
    page.wait_for_selector("#column-3", state="visible", timeout=30_000)
    set_number(page, "#column-count", "2")
    page.wait_for_selector("#column-2", state="hidden", timeout=30_000)


def test_a_person_loads_a_chat_compares_its_next_reply_and_keeps_one(page):
    """Upload a chat file, run its next reply with an empty prompt, keep column 1's reply for the next turn."""
    chat = Path(__file__).parent.parent / "data" / "chats" / "openai-messages.json"
    page.get_by_text("Conversation (turns before the prompt)").first.click()
    page.set_input_files("#chat-file input[type=file]", str(chat))
    page.wait_for_function(
        "document.querySelector('#conversation').innerText.includes('Which one is newest?')", timeout=60_000
    )
    page.fill("#prompt textarea", "")
    set_number(page, "#run-max-tokens", "6")
    page.click("#run")
    wait_for_stats(page, 0)
    reply = page.input_value("#output-0 textarea")
    page.click("#keep-reply")
    kept = json.dumps({"role": "assistant", "content": reply}, ensure_ascii=False)
    page.wait_for_function(
        "(kept) => document.querySelector('#conversation').innerText.includes(kept)", arg=kept, timeout=30_000
    )
    lines = [line.rstrip(",") for line in page.inner_text("#conversation").splitlines() if '"role"' in line]
    assert lines[-2:] == ['{"role": "user", "content": "Which one is newest?"}', kept]
    assert page.input_value("#prompt textarea") == ""


WHY_SCREENSHOT = Path(__file__).parent.parent / "screenshots" / "why.png"


def test_a_person_asks_why_two_columns_part_and_reads_each_columns_chart(page, tmp_path):
    """Column 1 (llama.cpp defaults) and column 2 (greedy) share a prefix, then each draws its own token: the
    explanation names that token for each, and each column charts its tokens after the run."""
    set_number(page, "#run-max-tokens", "20")
    page.click("#run")
    outputs = []
    for index in range(3):
        wait_for_stats(page, index)
        outputs.append(page.input_value(f"#output-{index} textarea"))
    page.wait_for_function(
        "document.querySelector('#chart-1').textContent.includes('parts from col. 1')", timeout=60_000
    )  # the by-token plot, drawn with its legend
    page.click("#why-button")
    page.wait_for_selector("#why .sl-why-part", timeout=30_000)
    part = page.inner_text("#why .sl-why-part")
    assert part.startswith("'1 · llama.cpp defaults' and '2 · greedy' part at token ")  # named after the presets
    shared = ast.literal_eval(page.inner_text("#why .sl-why-shared code"))
    drawn = page.locator("#why .sl-why-table tr:has(td.drawn)")
    cells = [[drawn.nth(r).locator("td").nth(c).get_attribute("class") for c in (1, 2)] for r in range(drawn.count())]
    texts = [ast.literal_eval(drawn.nth(r).locator("th").inner_text()) for r in range(drawn.count())]
    first = texts[[i for i, c in enumerate(cells) if "drawn" in c[0]][0]]
    second = texts[[i for i, c in enumerate(cells) if "drawn" in c[1]][0]]
    assert outputs[0].startswith(shared + first) and outputs[1].startswith(shared + second) and first != second
    verdict = page.inner_text("#why .sl-why-verdict")
    assert f"'1 · llama.cpp defaults' drew {first!r}" in verdict and f"'2 · greedy' drew {second!r}" in verdict
    page.locator("#why").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "why.png"), full_page=False)
    if os.environ.get("SAMPLERLAB_UPDATE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "why.png", WHY_SCREENSHOT)
    page.click("#why-here-2")  # column 3 against column 1, under column 3
    page.wait_for_selector("#why-2 .sl-why", timeout=30_000)
    assert "'1 · llama.cpp defaults' and '3 · min-p creative'" in page.inner_text("#why-2")
    page.get_by_label("ja").check()  # what is on screen follows the language
    page.wait_for_function(
        "document.querySelector('#why .sl-why-part').innerText.includes('で分かれます')", timeout=30_000
    )
    assert (
        page.inner_text("#why .sl-why-part")
        == part.replace(" and ", " と ").replace(" part at token ", " はトークン ")[:-1] + " で分かれます。"
    )


def test_a_person_tries_other_settings_on_the_last_text_and_branches_from_a_token(page, tmp_path):
    """Moving a slider after a run replays that column's text at once; picking another token at some
    position continues every column from there, the forced start marked."""
    set_number(page, "#run-max-tokens", "12")
    page.click("#run")
    for index in range(3):
        wait_for_stats(page, index)
    original = page.input_value("#output-0 textarea")
    set_number(page, "#top_p-0", "0.5")
    page.wait_for_function("document.querySelector('#what-if-0').innerText.includes('What if')", timeout=30_000)
    line = page.inner_text("#what-if-0")
    assert "replayed on the last text, 12 tokens" in line and "made impossible" in line
    page.click("#token-view-0 input")
    page.locator("#tokens-0 .token").nth(2).click()
    page.wait_for_selector("#branch-0", state="visible", timeout=30_000)
    page.click("#branch-choice-0 input")
    options = page.locator("ul[role=listbox] li")
    options.nth(1).click()  # the model's second choice at token 2
    shown = page.input_value("#branch-choice-0 input")  # "' In'  p 0.123": quoted, with its raw p
    chosen = ast.literal_eval(shown.rsplit("  p ", 1)[0])
    page.click("#branch-0")
    page.wait_for_function("document.querySelector('#prefix textarea').value.length > 0", timeout=30_000)
    prefix = page.input_value("#prefix textarea")
    assert prefix.endswith(chosen) and original.startswith(prefix[: len(prefix) - len(chosen)])
    page.wait_for_function(
        f"(document.querySelector('#tokens-0 .token') || {{}}).innerText === {json.dumps(prefix)}", timeout=180_000
    )  # the forced start, first and marked
    for index in range(3):
        wait_for_stats(page, index)
    page.screenshot(path=str(tmp_path / "branch.png"), full_page=False)


@pytest.fixture(scope="module")
def server_app_url(server, tmp_path_factory):
    from samplerlab.backends.server import ServerBackend

    yield from served(Workbench(ServerBackend(server.url), presets_dir=tmp_path_factory.mktemp("presets")))


def test_the_app_drives_a_llama_server_with_the_same_token_view(browser, server_app_url, model, tmp_path):
    """`samplerlab --server URL`: the model bar names the server, the columns are the local engine's text,
    and the token view shows the replayed chain's candidates."""
    from samplerlab.events import Column, Request
    from samplerlab.llama.engine import run

    page = open_page(browser, server_app_url)
    assert "llama-server http://127.0.0.1:" in page.inner_text("#model-info")
    set_number(page, "#run-max-tokens", "16")
    page.click("#run")
    texts = []
    for index in range(3):
        wait_for_stats(page, index)
        texts.append(page.input_value(f"#output-{index} textarea"))
    presets = ["llama.cpp defaults", "greedy", "min-p creative"]
    from samplerlab.presets.store import load_preset

    local = run(
        model,
        Request("Write a short poem praising light-emitting diodes."),
        [Column(name, load_preset(name).settings.replace(max_tokens=16)) for name in presets],
    ).columns
    assert texts == [column.text for column in local]
    page.click("#token-view-0 input")
    page.locator("#tokens-0 .token").nth(1).click()
    page.wait_for_function(
        "document.querySelector('#candidates-0').innerText.includes('after the chain')", timeout=30_000
    )
    page.screenshot(path=str(tmp_path / "server.png"), full_page=False)
