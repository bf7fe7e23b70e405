"""Seeds everywhere, on the real model: experiments batch columns x seeds, `compare --seeds`, and `samplerlab
stats` on a result file from a real run, its lines computed here from the records (never model text)."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from samplerlab.backends.local import LocalBackend
from samplerlab.cli.main import main
from samplerlab.events import Column, Request
from samplerlab.llama.engine import run
from samplerlab.llama.models import Model
from samplerlab.runs.comparisons import result_document
from samplerlab.runs.experiments import parse_experiment
from samplerlab.runs.results import dump, write_new
from samplerlab.runs.runner import plan, run_columns, run_experiment
from samplerlab.runs.stats import interval
from samplerlab.runs.verdicts import estimate_text
from samplerlab.schema.params import Settings

EXPERIMENT = """\
prompt: "Write a short poem praising light-emitting diodes."
seeds: [0, 1, 2, 3]
max_tokens: 6
columns:
  - {label: defaults, preset: llama.cpp defaults}
  - {label: hot, settings: {temperature: 3.0}}
  - {label: min-p, preset: min-p creative}
"""


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("samplerlab.llama.models.default_threads", lambda: 1)
        yield


@pytest.fixture(scope="module")
def model(one_thread, model_path) -> Model:
    with Model(model_path) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def seeded(model, tmp_path_factory) -> tuple[dict, object]:
    experiment = parse_experiment(EXPERIMENT, "seeds.yaml")
    document = result_document(experiment, LocalBackend(model), run_experiment(LocalBackend(model), experiment))
    path = write_new(tmp_path_factory.mktemp("seeds") / "r.yaml", dump(document))
    return document, path


def test_a_plan_fills_each_batch_with_columns_times_seeds():
    experiment = parse_experiment(EXPERIMENT, "seeds.yaml")
    jobs = plan(experiment, 8)
    assert [len(job.runs) for job in jobs] == [8, 4]
    assert [(run.seed, run.column.label) for job in jobs for run in job.runs] == [
        (seed, label) for seed in (0, 1, 2, 3) for label in ("defaults", "hot", "min-p")
    ]


def test_seeds_batched_together_write_what_each_seed_writes_alone(model, seeded):
    document, _ = seeded
    experiment = parse_experiment(EXPERIMENT, "seeds.yaml")
    for record, planned in zip(document["columns"][3:6], experiment.columns):  # seed 1, batched beside seed 0
        alone = run(model, Request(record["prompt"]), [planned.for_seed(1)]).columns[0]
        assert [t["id"] for t in record["tokens"]] == [t.token_id for t in alone.tokens]
        assert record["seed"] == 1 and record["text"] == alone.text


def test_stats_prints_each_figure_as_computed_from_the_records(seeded):
    document, path = seeded
    result = CliRunner().invoke(main, ["stats", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "3 columns, 4 seeds each at most, 12 generations"
    logprob = lines.index("mean raw log-probability")
    for offset, label in enumerate(("defaults", "hot", "min-p"), 1):
        records = [r for r in document["columns"] if r["label"] == label]
        values = [math.fsum(math.log(t["raw_p"]) for t in r["tokens"]) / len(r["tokens"]) for r in records]
        expected = estimate_text(_estimate(values), "{:.3f}")
        assert lines[logprob + offset].split() == [f"'{label}'", *expected.split(), "n=4"]
    assert any(line.startswith("  'hot' vs 'defaults', ") or line.startswith("  'hot' ") for line in lines)
    japanese = CliRunner().invoke(main, ["stats", str(path), "--lang", "ja"])
    assert japanese.exit_code == 0 and japanese.output.splitlines()[0] == "3 列、各最大 4 シード、生成 12 件"


def _estimate(values):
    from samplerlab.runs.stats import Estimate

    return Estimate(*interval(values), (), tuple(values))


def test_the_report_draws_the_dots_and_the_quality_diversity_chart(seeded, tmp_path):
    _, path = seeded
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.count('class="sl-dots"') == 12 and page.count('class="sl-qd"') == 1
    assert page.count("<circle") >= 12 * 12  # every seed of every column in every figure
    assert "Statistics across seeds" in page


def test_a_one_seed_result_and_a_result_that_is_not_one_get_one_line(model, tmp_path):
    experiment = parse_experiment(EXPERIMENT.replace("seeds: [0, 1, 2, 3]", "seed: 0"), "one.yaml")
    document = result_document(experiment, LocalBackend(model), run_experiment(LocalBackend(model), experiment))
    path = write_new(tmp_path / "one.yaml", dump(document))
    result = CliRunner().invoke(main, ["stats", str(path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: every column ran on one seed (0); statistics across seeds need at least 2 "
        "(run it with seeds: [0, 1, ...], or compare --seeds N)\n"
    )
    (tmp_path / "x.yaml").write_text("columns: 5\n")
    result = CliRunner().invoke(main, ["stats", str(tmp_path / "x.yaml")])
    assert (result.exit_code, result.output.count("\n")) == (1, 1) and "not a samplerlab result" in result.output


def test_compare_on_seeds_batches_them_and_prints_the_statistics(model, model_path):
    columns = [Column("a", Settings({"temperature": 0.8, "max_tokens": 4})), Column("b", Settings({"max_tokens": 4}))]
    from samplerlab.runs.seeded import on_seeds

    batched = run_columns(LocalBackend(model), Request("hi"), on_seeds(columns, [5, 6]))
    assert [r.seed for r in batched] == [5, 5, 6, 6]
    alone = run(model, Request("hi"), [Column("b", columns[1].settings.replace(seed=6))]).columns[0]
    assert batched[3].text == alone.text
    result = CliRunner().invoke(
        main,
        [
            "compare",
            "hi",
            "--column",
            "temperature=0.8",
            "--column",
            "temperature=0",
            "--seeds",
            "0,1",
            "--max-tokens",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 columns, 2 seeds each at most, 4 generations" in result.output
    bad = CliRunner().invoke(main, ["compare", "hi", "--seeds", "two"])
    assert bad.exit_code == 2 and "--seeds 'two': expected a count (16) or a list of seeds (0,1,2)" in bad.output
