"""What top-k, top-p and min-p do in a greedy column, said once and the same everywhere, checked on real runs.

llama.cpp runs the whole chain at temperature 0: the truncation stages still cut candidates, and the
temperature stage then keeps only the most likely one left, which they always keep. So they cannot
change the text; the app's greyed knob, the report's card, the why table (terminal, HTML) and the
token view all say exactly that sentence (i18n.inactive_reason 'greedy').
"""

from __future__ import annotations

import html
import math
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.app.views import group_candidates_html
from samplerlab.cli.main import main
from samplerlab.llama.engine import Column, Request, run
from samplerlab.llama.sampling import Candidates, ChainContext, build_chain
from samplerlab.report.explain_html import explanation_html
from samplerlab.report.explain_text import explanation
from samplerlab.runs.results import load_result
from samplerlab.schema.chains import KEEPS_TOP_TOKEN, greedy_inert_stages, inactive_knobs
from samplerlab.schema.params import Settings, neutral_values
from samplerlab.understand.divergence import explain, pick_pair
from samplerlab.words.explain import how
from samplerlab.words.i18n import inactive_reason

PROMPT = "Write a short poem praising light-emitting diodes."
# greedy with a min-p that cuts nearly everything; 'wild' draws almost uniformly from the 8 most likely
# raw candidates (all recorded: TOP_N is 10), so the two part at the first token wild does not draw the top one
EXPERIMENT = f"""prompt: {PROMPT!r}
seed: 0
max_tokens: 24
columns:
  - {{label: greedy, settings: {{temperature: 0, min_p: 0.99}}}}
  - {{label: untruncated greedy, settings: {{temperature: 0, top_k: 0, top_p: 1.0, min_p: 0.0}}}}
  - {{label: wild, settings: {{temperature: 100, top_k: 8, top_p: 1.0, min_p: 0.0}}}}
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Path:
    folder = tmp_path_factory.mktemp("greedy")
    (folder / "e.yaml").write_text(EXPERIMENT, encoding="utf-8")
    answer = CliRunner().invoke(main, ["run", str(folder / "e.yaml"), "--out", str(folder / "r.yaml")])
    assert answer.exit_code == 0, answer.output
    return folder / "r.yaml"


def test_the_truncation_stages_cut_in_a_greedy_column_but_never_change_its_text(result: Path) -> None:
    records = {record["label"]: record for record in load_result(result)["columns"]}
    greedy, untruncated = records["greedy"], records["untruncated greedy"]
    assert [t["id"] for t in greedy["tokens"]] == [t["id"] for t in untruncated["tokens"]]
    cuts = [c["cut_by"] for t in greedy["tokens"] for c in t["before"] if "cut_by" in c]
    assert set(cuts) & KEEPS_TOP_TOKEN, cuts  # they did cut: 'cannot change the text' is not 'do nothing'
    assert "min_p" in cuts
    assert {c.get("cut_by") for t in untruncated["tokens"] for c in t["before"]} <= {None, "temperature"}


def test_greying_and_why_table_say_the_same_sentence(result: Path) -> None:
    document = load_result(result)
    greedy, wild = pick_pair(document["columns"], "greedy", "wild")
    div = explain(greedy, wild)
    assert div.index is not None
    drawn_by_wild = div.drawn[1]["id"]
    fate = next(row for row in div.rows if row.token_id == drawn_by_wild).fates[0]
    # the greedy column's chain cut wild's token with a stage that keeps the top token: marked inert
    assert fate.cut_by in KEEPS_TOP_TOKEN and fate.inert
    assert fate.cut_by in greedy_inert_stages(Settings(greedy["settings"]))
    greyed = inactive_knobs(Settings(greedy["settings"]))
    knob = {"min_p": "min_p", "top_p": "top_p", "top_k": "top_k"}[fate.cut_by]
    assert greyed[knob] == ("greedy", fate.cut_by)  # the app greys that very knob
    action = next(a for a in div.knobs if a.name == knob)
    assert not action.acted and action.reason == "greedy"
    for lang in ("en", "ja"):
        sentence = inactive_reason("greedy", fate.cut_by, lang)
        assert how(action, lang) == sentence
        text = explanation(div, lang, width=160)
        assert f"* 'greedy'{',' if lang == 'en' else ' の'} {fate.cut_by}: {sentence}" in text
        assert (f"cut by {fate.cut_by} *" if lang == "en" else f"{fate.cut_by} が除外 *") in text
        assert html.escape(sentence) in explanation_html(div, lang)
    english, japanese = inactive_reason("greedy", "min_p", "en"), inactive_reason("greedy", "min_p", "ja")
    assert english.startswith("cannot change the text: min_p still cuts candidates")
    assert japanese.startswith("文章は変わらない：min_p は候補を除外するが")


def test_the_verdict_names_the_greedy_draw_not_the_cut(result: Path) -> None:
    greedy, wild = pick_pair(load_result(result)["columns"], "greedy", "wild")
    text = explanation(explain(greedy, wild), "en", width=160)
    assert "'greedy' draws its top token at temperature 0, and " in text
    assert "in 'greedy' cut" not in text


def test_the_report_greys_a_greedy_columns_truncation_knob_with_the_same_words(result: Path, tmp_path: Path) -> None:
    for lang in ("en", "ja"):
        page = tmp_path / f"r-{lang}.html"
        answer = CliRunner().invoke(main, ["report", str(result), "--out", str(page), "--lang", lang])
        assert answer.exit_code == 0, answer.output
        written = page.read_text(encoding="utf-8")
        assert '<li class="differs inactive">min_p=0.99</li>' in written
        assert html.escape(f"min_p: {inactive_reason('greedy', 'min_p', lang)}") in written


def test_the_token_view_marks_the_cuts_that_cannot_change_a_greedy_draw(model) -> None:
    greedy = Settings({"temperature": 0, "min_p": 0.99, "max_tokens": 6, "seed": 0})
    warm = Settings({"temperature": 0.8, "min_p": 0.99, "max_tokens": 6, "seed": 0})
    columns = run(model, Request(PROMPT), [Column("greedy", greedy), Column("warm", warm)]).columns
    for column, marked in zip(columns, (True, False)):
        views = [group_candidates_html(column, range(i, i + 1), "en") for i in range(len(column.tokens))]
        assert any("cut by min_p *" in view for view in views) == marked
        assert any(html.escape(inactive_reason("greedy", "min_p", "en")) in view for view in views) == marked


# -- the rule itself, against llama.cpp's own samplers (no model: random distributions) ------------------
def greedy_draw(values: dict, probs) -> int:
    """The token llama.cpp's chain leaves for ``values`` over ``probs`` (at temperature 0, the only one left)."""
    settings = Settings({**neutral_values(), **values})
    context = ChainContext(None, len(probs), lambda text: [int(text)])
    with build_chain(settings, context, seed=0, n_ctx=64) as chain:
        candidates = Candidates.from_logits([math.log(p) for p in probs])
        chain.sample(candidates)
        return candidates.selected_token


TRUNCATING = {"top_k": 5, "top_p": 0.8, "min_p": 0.2, "top_n_sigma": 1.0, "tfs_z": 0.9}
STAGE_KNOB = {"top_k": "top_k", "top_p": "top_p", "min_p": "min_p", "top_n_sigma": "top_n_sigma", "tail_free": "tfs_z"}


@pytest.mark.parametrize(
    "values, inert",
    [
        ({"temperature": 0, **TRUNCATING}, {"top_k", "top_p", "min_p", "top_n_sigma", "tail_free"}),
        ({"temperature": 0, **TRUNCATING, "typical_p": 0.5}, {"top_p", "min_p"}),  # only those after typical-p
        ({"temperature": 0, **TRUNCATING, "xtc_probability": 1.0, "xtc_threshold": 0.2}, set()),
        ({"temperature": 0, **TRUNCATING, "samplers": "tkpm"}, {"top_k", "top_p", "min_p"}),  # after temperature
        ({"temperature": 0, **TRUNCATING, "samplers": "kpm"}, set()),  # no temperature stage: no greedy draw
        ({"temperature": 0, **TRUNCATING, "dynatemp_range": 0.5}, set()),  # a dynamic temperature is not 0
        ({"temperature": 0.7, **TRUNCATING}, set()),
    ],
)
def test_the_stages_called_inert_never_change_llama_cpps_greedy_draw(values: dict, inert: set) -> None:
    assert greedy_inert_stages(Settings({**neutral_values(), **values})) == inert
    generator = random.Random(7)
    for _ in range(300):
        probs = [generator.random() ** 4 + 1e-6 for _ in range(24)]
        total = sum(probs)
        probs = [p / total for p in probs]
        drawn = greedy_draw(values, probs)
        for stage in inert:
            assert greedy_draw({**values, STAGE_KNOB[stage]: neutral_values()[STAGE_KNOB[stage]]}, probs) == drawn


def test_a_stage_before_xtc_can_change_a_greedy_draw_so_it_is_not_called_inert() -> None:
    """min-p leaves XTC a renormalised set in which a third token passes the threshold, so XTC keeps that one."""
    probs = (0.35, 0.3, 0.22, 0.08, 0.05)
    xtc = {"temperature": 0, "xtc_probability": 1.0, "xtc_threshold": 0.25}
    assert greedy_draw(xtc, probs) == 1
    assert greedy_draw({**xtc, "min_p": 0.5}, probs) == 2
    assert "min_p" not in greedy_inert_stages(Settings({**neutral_values(), **xtc, "min_p": 0.5}))
