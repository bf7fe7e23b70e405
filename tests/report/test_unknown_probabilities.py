"""Unknown probabilities, end to end with a real llama-server: a token that ends inside a multi-byte
character (Japanese) comes without its probability. Such a token's p is unknown: null in the result
file, left out of every mean, "?" in tables and the grey "p unknown" bucket in token views and the
report; never NaN printed, never a crash in the buckets."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from samplerlab.app.views import bucket, candidates_html, stats_line, token_spans
from samplerlab.backends.server import UNREPORTED, ServerBackend
from samplerlab.cli.main import main
from samplerlab.events import Column, Request, collect
from samplerlab.report.buckets import UNKNOWN_BUCKET
from samplerlab.report.render import footer
from samplerlab.runs.metrics import column_stats, mean_probability
from samplerlab.runs.results import load_result
from samplerlab.schema.params import Settings

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "led-poem-ja.yaml"


@pytest.fixture(scope="module")
def japanese(server, tmp_path_factory) -> tuple[Path, str]:
    """The issue's reproduction, shortened: the Japanese LED poem on a real llama-server."""
    out = tmp_path_factory.mktemp("ja") / "ja.yaml"
    ran = CliRunner().invoke(
        main, ["run", str(EXPERIMENT), "--server", server.url, "--max-tokens", "32", "--out", str(out)]
    )
    assert ran.exit_code == 0, ran.output
    return out, ran.output


def unreported(document) -> list[dict]:
    return [t for c in document["columns"] for t in c["tokens"] if t["id"] == UNREPORTED]


def test_unknown_probabilities_are_null_and_left_out_of_the_means(japanese) -> None:
    path, output = japanese
    document = load_result(path)
    missing = unreported(document)
    assert missing, "the Japanese prompt should give tokens llama-server does not report"
    assert all(t["p"] is None and t["raw_p"] is None and t["entropy"] is None for t in missing)
    assert ".nan" not in path.read_text(encoding="utf-8")
    for column in document["columns"]:
        known = [t["p"] for t in column["tokens"] if t["p"] is not None]
        assert column["stats"]["mean_prob"] == pytest.approx(sum(known) / len(known), rel=1e-3)
    assert "nan" not in output and "mean p" in output


def test_report_draws_unknown_tokens_in_their_own_bucket(japanese, tmp_path: Path) -> None:
    path, _ = japanese
    made = CliRunner().invoke(main, ["report", str(path), "--out", str(tmp_path / "r.html")])
    assert made.exit_code == 0, made.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert UNKNOWN_BUCKET[1] in page and "p ? (raw ?)" in page and "nan" not in page.lower().replace("nanos", "")


def test_a_result_written_with_nan_still_reports(japanese, tmp_path: Path) -> None:
    """Results written before unknowns were null hold .nan: they are unknown too."""
    path, _ = japanese
    old = path.read_text(encoding="utf-8").replace("p: null", "p: .nan").replace("entropy: null", "entropy: .nan")
    (tmp_path / "old.yaml").write_text(old, encoding="utf-8")
    made = CliRunner().invoke(main, ["report", str(tmp_path / "old.yaml"), "--out", str(tmp_path / "old.html")])
    assert made.exit_code == 0, made.output
    assert UNKNOWN_BUCKET[1] in (tmp_path / "old.html").read_text(encoding="utf-8")


def test_the_app_views_and_the_terminal_show_unknown_probabilities(server) -> None:
    backend = ServerBackend(server.url)
    request = Request(yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))["prompt"])
    results = collect(backend.generate(request, [Column("c", Settings({"max_tokens": 32, "seed": 0}))]), 1)
    column = results[0]
    missing = [t for t in column.tokens if t.token_id == UNREPORTED]
    assert missing and all(math.isnan(t.prob) for t in missing)
    assert {label for _, label in token_spans(column.tokens)} >= {UNKNOWN_BUCKET[1]}
    assert bucket(missing[0].prob) == UNKNOWN_BUCKET[1] and "p = ?" in candidates_html(missing[0], "chain", "ja")
    mean = mean_probability([t.prob for t in column.tokens])
    assert mean is not None and math.isfinite(mean) and column_stats(column)["mean_prob"] == mean
    assert f"mean p {mean:.2f}" in footer(column)[1] and "nan" not in stats_line(column, "ja")


def test_a_column_none_of_whose_probabilities_is_known_has_no_mean() -> None:
    assert mean_probability([math.nan, None]) is None
    assert mean_probability([]) == 0.0
    assert mean_probability([0.5, math.nan, None, 0.25]) == 0.375


def test_columns_that_part_at_an_unreported_token_are_explained_in_text_and_html() -> None:
    """The red-team round's crash: report sorted the parting's candidates by a null probability."""
    from samplerlab.report.explain_html import explanation_html
    from samplerlab.report.explain_text import explanation
    from samplerlab.understand.divergence import explain

    def record(label: str, token: int, seed: int) -> dict:
        step = {"id": token, "text": "", "p": None, "raw_p": None, "before": [{"id": 5, "text": "a", "p": None}]}
        settings = dict(Settings({"temperature": 0.8 if label == "a" else 1.2}))
        return {
            "label": label,
            "seed": seed,
            "settings": settings,
            "finish_reason": "length",
            "tokens": [{"id": 1, "text": "x", "p": 0.5, "raw_p": 0.5}, step],
        }

    parting = explain(record("a", 7, 0), record("b", 8, 0))
    assert parting.index == 1 and [row.raw_prob for row in parting.rows] == [None, None, None]
    for lang in ("en", "ja"):
        assert "?" in explanation(parting, lang) and "nan" not in explanation(parting, lang).lower()
        assert "<td>?</td>" in explanation_html(parting, lang)
