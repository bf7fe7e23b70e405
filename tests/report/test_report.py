"""Reports: the terminal table and the HTML page, on hand-made results and on a real sweep in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.app.views import token_frame, why_html
from samplerlab.backends.local import LocalBackend
from samplerlab.cli.main import main
from samplerlab.llama.engine import Candidate, ColumnResult, TokenEvent
from samplerlab.llama.models import Model
from samplerlab.report.explain_text import explanation
from samplerlab.report.page import progress_html, render_report, sweep_series, text_table
from samplerlab.runs.comparisons import result_document
from samplerlab.runs.experiments import parse_experiment
from samplerlab.runs.result_shape import check_shape
from samplerlab.runs.results import Outcome, dump, load_result, result_columns, seed_summaries, write_new
from samplerlab.runs.runner import run_experiment
from samplerlab.schema.params import Settings
from samplerlab.understand.divergence import explain

CHROMIUM = "/usr/bin/chromium"
HOSTILE = "<img src=x onerror=alert(1)>"


def column(
    label: str, settings: Settings, texts: list[str], probs: list[float], reason: str = "length"
) -> ColumnResult:
    tokens = [
        TokenEvent(
            0, i, 100 + i, text, p, p / 2, (Candidate(100 + i, text, p / 2),), (Candidate(100 + i, text, p),), 3, 0.5
        )
        for i, (text, p) in enumerate(zip(texts, probs))
    ]
    return ColumnResult(label, settings, settings.seed, "chain", "".join(texts), reason, None, tokens, seconds=2.0)


def document(*columns: ColumnResult, sweep: tuple[str, ...] = (), values: list[dict] | None = None) -> dict:
    outcomes = [Outcome(0, "a <b>prompt</b>", c, (values or [None] * len(columns))[i]) for i, c in enumerate(columns)]
    return {
        "experiment": {"file": "x/demo.yaml", "description": "demo & test"},
        "mode": "chat",
        "prompts": ["p"],
        "seeds": [0],
        "sweep": list(sweep),
        "columns": result_columns(outcomes),
    }


def test_the_text_table_has_one_aligned_row_per_column():
    doc = document(
        column("default", Settings(), ["a", "b"], [0.5, 0.25]),
        column("ホット", Settings({"temperature": 3.0}), ["a", "b", "c", "d"], [1.0, 1.0, 0.5, 0.5], "end"),
    )
    assert text_table(doc) == (
        "column   finish  tokens  tok/s  mean p  distinct-2\n"
        "default  length       2    1.0   0.375       1.000\n"
        "ホット   end          4    2.0   0.750       1.000"
    )


def test_sweep_series_average_each_point_over_seeds_per_second_knob_value():
    settings = Settings()
    runs = [(0.5, 0.9, 0.2), (0.5, 0.9, 0.4), (0.5, 1.0, 0.6), (1.0, 0.9, 0.1)]
    columns = [column(f"c{i}", settings, ["x"], [p]) for i, (_, _, p) in enumerate(runs)]
    doc = document(
        *columns, sweep=("temperature", "top_p"), values=[{"temperature": t, "top_p": top_p} for t, top_p, _ in runs]
    )
    assert sweep_series(doc["columns"], doc["sweep"], "mean_prob") == {
        "top_p=0.9": [(0.5, pytest.approx(0.3)), (1.0, 0.1)],
        "top_p=1": [(0.5, 0.6)],
    }


def test_the_page_escapes_everything_and_highlights_on_every_card_what_differs_in_the_group():
    page = render_report(
        document(
            column(HOSTILE, Settings(), [HOSTILE, "\n"], [0.95, 0.01]),
            column("hot", Settings({"temperature": 3.0, "top_k": 40}), ["ok"], [0.3]),
            column("hot too", Settings({"temperature": 3.0}), ["ok"], [0.3]),
        )
    )
    assert HOSTILE not in page and "<b>prompt" not in page
    # the label (card and stats table), the token, and the token's title (after and before the chain); on the two
    # other cards the note of where they part from it (no chart line: they end there); the 2 pairs' explanations
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") == 5 + 2 + 2 * 5
    assert page.count('<li class="differs">temperature=') == 3 and '<li class="differs">temperature=0.8</li>' in page
    assert "top_k=40" not in page
    assert '<span class="t b0" title="p 0.950 (raw 0.475)' in page and '<span class="t b4"' in page
    assert "<script" not in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def tok(
    index: int, token: int, text: str, p: float, raw: float, before: list, after: list, cut: dict | None = None
) -> TokenEvent:
    return TokenEvent(
        0,
        index,
        token,
        text,
        p,
        raw,
        tuple(Candidate(*c) for c in before),
        tuple(Candidate(*c) for c in after),
        len(after),
        0.1 * index,
        cut or {},
    )


SHARED = [
    tok(0, 10, " The", 0.9, 0.8, [(10, " The", 0.8)], [(10, " The", 0.9)]),
    tok(1, 11, " sun", 0.7, 0.6, [(11, " sun", 0.6)], [(11, " sun", 0.7)]),
]
RAW = [(12, " light", 0.6), (13, "<glow>", 0.3), (14, " dark", 0.1)]


def parting_document() -> dict:
    """'cool' and 'warm <i>' differ only in temperature and part at token 2, where cool's min-p cut what warm drew;
    'same a' and 'same b' differ only in top_k and never part. Other pairs differ in two knobs or more."""
    cool = ColumnResult(
        "cool",
        Settings({"temperature": 0.2}),
        0,
        "chain",
        " The sun light",
        "length",
        None,
        SHARED + [tok(2, 12, " light", 1.0, 0.6, RAW, [(12, " light", 1.0)], {13: "min_p", 14: "min_p"})],
        seconds=1.0,
    )
    warm = ColumnResult(
        "warm <i>",
        Settings({"temperature": 1.5}),
        0,
        "chain",
        " The sun<glow>",
        "length",
        None,
        SHARED
        + [tok(2, 13, "<glow>", 0.35, 0.3, RAW, [(12, " light", 0.5), (13, "<glow>", 0.35), (14, " dark", 0.15)])],
        seconds=1.0,
    )
    same = [
        ColumnResult(
            label,
            Settings({"temperature": 0.2, "min_p": 0.2, "top_k": k}),
            0,
            "chain",
            " The sun",
            "end",
            None,
            SHARED,
            seconds=1.0,
        )
        for label, k in (("same a", 20), ("same b", 30))
    ]
    return document(cool, warm, *same)


def test_where_columns_part_explains_each_pair_differing_in_one_knob():
    page = render_report(parting_document())
    section = page[page.index('<section class="parting">') :]
    section = section[: section.index("</section>") + len("</section>")]
    assert section == (
        '<section class="parting"><h2>Where columns part</h2><p class="note">Columns of one prompt and seed that '
        "differ in exactly one setting (in a sweep, each step against its neighbour): the first token where their "
        "texts differ, the model&#x27;s raw candidates there, and what each column&#x27;s chain made of them.</p>"
        '<article class="pair"><h3>cool · warm &lt;i&gt;: only temperature differs</h3><div class="sl-why">'
        '<p class="sl-why-part">&#x27;cool&#x27; and &#x27;warm &lt;i&gt;&#x27; part at token 2.</p>'
        '<p class="sl-why-shared">shared text: <code>&#x27; The sun&#x27;</code></p><table class="sl-why-table">'
        "<thead><tr><th>candidate</th><th>raw p</th><th>cool</th><th>warm &lt;i&gt;</th></tr></thead><tbody>"
        '<tr><th><code>&#x27; light&#x27;</code></th><td>0.600</td><td class="kept drawn">1.000 <b>← drawn</b></td>'
        '<td class="kept">0.500</td></tr>'
        '<tr><th><code>&#x27;&lt;glow&gt;&#x27;</code></th><td>0.300</td><td class="cut">cut by min_p</td>'
        '<td class="kept drawn">0.350 <b>← drawn</b></td></tr>'
        '<tr><th><code>&#x27; dark&#x27;</code></th><td>0.100</td><td class="cut">cut by min_p</td>'
        '<td class="kept">0.150</td></tr></tbody></table>'
        '<p class="sl-why-verdict">&#x27;cool&#x27; drew &#x27; light&#x27; (p 1.000 after its chain); '
        "&#x27;warm &lt;i&gt;&#x27; drew &#x27;&lt;glow&gt;&#x27; (p 0.350 after its chain); "
        "min_p in &#x27;cool&#x27; cut &#x27;&lt;glow&gt;&#x27;</p>"
        '<p class="sl-why-knobs-head">settings that differ:</p><ul class="sl-why-knobs"><li class="acted">'
        "<code>temperature</code>: 0.2 / 1.5 — acted here (temperature reshapes every probability)</li></ul></div>"
        '</article><article class="pair"><h3>same a · same b: only top_k differs</h3><div class="sl-why">'
        '<p class="sl-why-never">&#x27;same a&#x27; and &#x27;same b&#x27; never part: both wrote the same 2 '
        "tokens.</p></div></article></section>"
    )
    assert "<glow>" not in page and "<i>" not in page


def test_each_card_charts_its_tokens_and_marks_where_it_parts_from_the_first_column():
    page = render_report(parting_document())
    cards = page.split('<article class="col">')[1:]
    assert [card.count("<svg") for card in cards] == [3, 3, 3, 3]  # p and raw p, entropy, survivors
    assert [card.count('class="mark"') for card in cards] == [0, 3, 0, 0]  # same a and b end where cool goes on
    assert [card.count("parts from &#x27;cool&#x27; at token 2") for card in cards] == [0, 4, 1, 1]
    assert cards[0].count("<polyline") == 4 and '<span><i style="background:#2563eb"></i>p after the chain' in cards[0]


def test_the_report_speaks_japanese_when_asked():
    page = render_report(parting_document(), lang="ja")
    for words in (
        '<html lang="ja">',
        "<h2>プロンプト 1 · シード 0</h2>",
        "<h2>列が分かれるところ</h2>",
        "<h2>統計</h2>",
        "<h3>cool · warm &lt;i&gt;：違うのは temperature だけ</h3>",
        "&#x27;cool&#x27; と &#x27;warm &lt;i&gt;&#x27; はトークン 2 で分かれます。",
        "<th>候補</th><th>元の確率</th>",
        '<td class="cut">min_p が除外</td>',
        "1.000 <b>← 選択</b>",
        "チェーン後のエントロピー（nats）",
        "トークン 2 で &#x27;cool&#x27; と分かれる",
        "ここで効いた (temperature はすべての確率を変える)",
    ):
        assert words in page, words
    assert "Where columns part" not in page and "Statistics" not in page


def test_candidates_without_ids_still_explain_by_the_drawn_tokens():
    """A result file's candidates may lack ids (the shape allows it): the table keeps the drawn tokens only."""
    doc = parting_document()
    for record in doc["columns"]:
        for token in record["tokens"]:
            for candidate in token["before"] + token["after"]:
                del candidate["id"]
    check_shape(doc | {"model": {"spec": "embedded"}, "load": {}})
    section = render_report(doc).split('<section class="parting">')[1]
    assert (
        section.count("<tr><th><code>") == 2
        and "&#x27;cool&#x27; and &#x27;warm &lt;i&gt;&#x27; part at token 2" in section
    )


def test_the_terminal_explanation_says_the_same_in_japanese():
    records = parting_document()["columns"]
    assert explanation(explain(records[0], records[1]), "ja") == (
        "'cool' と 'warm <i>' はトークン 2 で分かれます。\n共通の文: ' The sun'\n\n"
        "候補      元の確率  cool          warm <i>\n"
        "' light'  0.600     1.000 ← 選択  0.500\n"
        "'<glow>'  0.300     min_p が除外  0.350 ← 選択\n"
        "' dark'   0.100     min_p が除外  0.150\n\n"
        "'cool' は ' light' を引いた（チェーン後の確率 1.000）; 'warm <i>' は '<glow>' を引いた（チェーン後の確率 0.350）; "
        "'cool' の min_p が '<glow>' を除外していた\n\n"
        "違う設定:\n  temperature: 0.2 / 1.5  (ここで効いた: temperature はすべての確率を変える)"
    )


def test_the_apps_chart_and_why_read_the_same_records():
    """The app's per-column plot data (long format for gr.LinePlot) and its why panel, on the same records."""
    records = parting_document()["columns"]
    assert token_frame(records[1], records[0], "en").values.tolist() == [
        [0, 0.9, "p"],
        [0, 0.8, "raw p"],
        [0, 0.0, "entropy"],
        [1, 0.7, "p"],
        [1, 0.6, "raw p"],
        [1, 0.1, "entropy"],
        [2, 0.35, "p"],
        [2, 0.3, "raw p"],
        [2, 0.2, "entropy"],
        [2, 0.0, "parts from col. 1"],
        [2, 1.0, "parts from col. 1"],
    ]
    assert token_frame(records[0], records[0], "ja")["series"].unique().tolist() == ["p", "元の p", "エントロピー"]
    assert len(token_frame(records[2], records[0], "en")) == 6  # it ends where column 1 goes on: no line
    assert '<p class="sl-why-part">&#x27;cool&#x27; and &#x27;warm &lt;i&gt;&#x27; part at token 2.</p>' in why_html(
        records, 0, 1, "en"
    )
    assert why_html([], 0, 1, "en") == "<p>Run a comparison first: the explanation reads its last run.</p>"
    assert why_html(records, 0, 5, "ja") == "<p>直前の実行に列 6 はありません。</p>"
    assert why_html(records, 1, 1, "en") == "<p>Pick two different columns.</p>"


def test_across_seeds_names_the_prompt_when_there_are_several():
    runs = [(prompt, seed) for prompt in (0, 1) for seed in (0, 1)]
    columns = [column("greedy", Settings({"temperature": 0, "seed": seed}), ["x", "y"], [0.5, 0.5]) for _, seed in runs]
    doc = {**document(*columns), "prompts": ["a", "b"], "seeds": [0, 1]}
    for record, (prompt, _) in zip(doc["columns"], runs):
        record["prompt_index"] = prompt
    doc["seed_summary"] = seed_summaries(doc["columns"])
    page = render_report(doc)
    assert "<tr><th>p1 greedy</th><td>2</td>" in page and "<tr><th>p2 greedy</th><td>2</td>" in page
    single = {**doc, "prompts": ["a"], "columns": doc["columns"][:2], "seed_summary": doc["seed_summary"][:1]}
    assert "<tr><th>greedy</th><td>2</td>" in render_report(single)


def test_a_running_experiment_shows_each_finished_column():
    finished = [column(HOSTILE, Settings(), ["Hel", "lo"], [0.5, 0.5], "stop"), column("b", Settings(), [], [], "end")]
    finished[0].stopped_by = "\n"
    grid = progress_html(finished, 6)
    assert grid.startswith("<p>2 of 6 columns done</p>") and grid.count("<article") == 2 and HOSTILE not in grid
    assert "&lt;img src=x onerror=alert(1)&gt;" in grid and ">Hello</div>" in grid
    assert "stop &#x27;\\n&#x27; · 2 tokens · seed 0" in grid and "end · 0 tokens" in grid
    japanese = progress_html(finished, 6, "ja")  # the Experiments tab in Japanese
    assert (
        japanese.startswith("<p>6 列中 2 列が完了</p>")
        and "停止文字列 &#x27;\\n&#x27; · 2 トークン · シード 0" in japanese
    )


SWEEP = """\
description: a sweep to look at
prompt: "Write a short poem praising light-emitting diodes. <b>bold?</b>"
seeds: [0, 1]
max_tokens: 10
columns:
  - {label: "<script>alert(1)</script> & reference", preset: greedy}
sweep:
  temperature: [0, 0.8, 1.6]
  top_p: [0.9, 1.0]
"""


@pytest.fixture(scope="module")
def model(model_path) -> Model:
    """One thread: llama.cpp's waiting threads spin, and on two shared, busy cores two were far slower."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("samplerlab.llama.models.default_threads", lambda: 1)
        with Model(model_path) as loaded:
            yield loaded


@pytest.fixture(scope="module")
def sweep_result(model, tmp_path_factory) -> Path:
    experiment = parse_experiment(SWEEP, "sweep.yaml")
    folder = tmp_path_factory.mktemp("sweep")
    return write_new(
        folder / "sweep.yaml",
        dump(result_document(experiment, LocalBackend(model), run_experiment(LocalBackend(model), experiment))),
    )


def test_the_report_command_writes_the_page_beside_the_result(sweep_result):
    result = CliRunner().invoke(main, ["report", str(sweep_result)])
    page = sweep_result.with_suffix(".html")
    assert (result.exit_code, result.stdout) == (0, f"wrote {page}\n")
    html = page.read_text()
    # sweep, token charts, and across its seeds a dot chart per figure plus the quality-diversity chart
    assert html.count("<svg") == 4 + 14 * 3 + 12 + 1 and html.count('<article class="col">') == 14
    assert "<h2>Across seeds</h2>" in html and "<script>" not in html
    # per seed, the reference against each swept column it differs from in one knob, and the sweep's neighbours:
    # temperature 0 · 0.8 and 0.8 · 1.6 at each top_p, top_p 0.9 · 1.0 at each temperature
    parting = html[html.index('<section class="parting">') :]
    assert (
        parting.count('<article class="pair">'),
        parting.count("only temperature differs"),
        parting.count("only top_p differs"),
    ) == (2 * 9, 2 * 4, 2 * (2 + 3))  # 2 seeds x (reference 2 + 4 + 3)
    assert "temperature=0, top_p=0.9 · temperature=1.6, top_p=0.9" not in parting  # not neighbours
    assert "<h3>s1 temperature=0, top_p=0.9 · temperature=0.8, top_p=0.9: only temperature differs</h3>" in parting
    japanese = sweep_result.with_name("sweep.ja.html")
    result = CliRunner().invoke(main, ["report", str(sweep_result), "--lang", "ja", "--out", str(japanese)])
    assert (result.exit_code, result.stdout) == (0, f"{japanese} に書き込みました\n")  # --lang ja: the line too
    assert "<h2>列が分かれるところ</h2>" in japanese.read_text() and "<h2>統計</h2>" in japanese.read_text()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)")
def test_a_sweep_report_renders_offline_in_headless_chromium(sweep_result, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    page_path = tmp_path / "report.html"
    page_path.write_text(render_report(load_result(sweep_result)), encoding="utf-8")
    requests, errors = [], []
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
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(page_path.as_uri())
        charts = page.locator("svg").count()
        polylines = page.locator("svg polyline").count()
        cards = page.locator("article.col").count()
        title = page.locator(".text span.t").first.get_attribute("title")
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == [] and errors == []
    # 4 stats x 2 top_p lines; 7 columns x 2 seeds, each with 3 token charts (p and raw p, entropy, survivors);
    # across the 2 seeds a dot chart per figure (12) and the quality-diversity chart, which draw no polylines
    assert (charts, polylines, cards) == (4 + 14 * 3 + 12 + 1, 8 + 14 * 4, 14)
    assert title.startswith("p ") and "after the chain:" in title
    assert width <= 1280  # nothing overflows sideways
    assert (tmp_path / "report.png").stat().st_size > 50_000
