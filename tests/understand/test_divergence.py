"""Where and why two columns part: constructed records with known answers, and a real run."""

from __future__ import annotations

from click.testing import CliRunner

from samplerlab.cli.main import main
from samplerlab.report.explain_text import explanation
from samplerlab.understand.divergence import explain, first_parting


def token(tid, text, p, raw, before=(), after=()):
    return {"id": tid, "text": text, "p": p, "raw_p": raw, "before": list(before), "after": list(after)}


def record(label, settings, tokens, seed=0):
    return {
        "label": label,
        "settings": {"seed": seed, **settings},
        "seed": seed,
        "tokens": tokens,
        "finish_reason": "length",
    }


RAW = [{"id": 1, "text": "A", "p": 0.6}, {"id": 2, "text": "B", "p": 0.3}, {"id": 3, "text": "C", "p": 0.1}]
SHARED = [token(7, "Hi", 0.9, 0.8), token(8, " there", 0.9, 0.7)]


def test_a_cut_that_parts_two_columns_is_named() -> None:
    a = record(
        "cold",
        {"min_p": 0.4},
        SHARED
        + [
            token(
                1,
                "A",
                1.0,
                0.6,
                [*RAW[:1], {**RAW[1], "cut_by": "min_p"}, {**RAW[2], "cut_by": "min_p"}],
                [{"id": 1, "text": "A", "p": 1.0}],
            )
        ],
    )
    b = record(
        "warm",
        {"min_p": 0.05},
        SHARED
        + [
            token(
                2,
                "B",
                0.3,
                0.3,
                RAW,
                [{"id": 1, "text": "A", "p": 0.6}, {"id": 2, "text": "B", "p": 0.3}, {"id": 3, "text": "C", "p": 0.1}],
            )
        ],
    )
    div = explain(a, b)
    assert (div.index, div.shared_text) == (2, "Hi there")
    assert [(r.text, r.fates[0].describe(), r.fates[1].describe()) for r in div.rows] == [
        ("A", "1.000", "0.600"),
        ("B", "cut by min_p", "0.300"),
        ("C", "cut by min_p", "0.100"),
    ]
    assert div.verdict == (
        "'cold' drew 'A' (p 1.000 after its chain); 'warm' drew 'B' (p 0.300 after its chain); min_p in 'cold' cut 'B'"
    )
    assert [(k.name, k.acted, k.how) for k in div.knobs] == [("min_p", True, "its stage (min_p) cut candidates here")]
    assert explanation(div).splitlines()[:3] == ["'cold' and 'warm' part at token 2.", "shared text: 'Hi there'", ""]


def test_columns_that_never_part_say_so_and_a_part_at_token_zero() -> None:
    same = [token(1, "A", 0.5, 0.5)]
    assert (
        explain(record("x", {}, same), record("y", {"top_k": 3}, same)).verdict
        == "'x' and 'y' never part: they wrote the same 1 tokens"
    )
    assert (
        explanation(explain(record("x", {}, same), record("y", {}, same)), "ja")
        == "'x' と 'y' は最後まで分かれません（同じ 1 トークンを書きました）。"
    )
    assert first_parting(record("x", {}, [token(1, "A", 1, 1)]), record("y", {}, [token(2, "B", 1, 1)])) == 0


def test_explain_on_a_real_run_names_the_parting_token(model_path, tmp_path) -> None:
    experiment = tmp_path / "e.yaml"
    experiment.write_text(
        'prompt: "Write a short poem praising light-emitting diodes."\nseed: 0\nmax_tokens: 8\n'
        "columns:\n  - {label: default}\n  - {label: greedy, settings: {temperature: 0}}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(experiment), "--out", str(tmp_path / "r.yaml")]).exit_code == 0
    result = runner.invoke(main, ["explain", str(tmp_path / "r.yaml"), "default", "greedy"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("'default' and 'greedy' part at token ")
    assert "  temperature: 0.8 / 0  (acted here: its stage (temperature) cut candidates here)" in lines
    missing = runner.invoke(main, ["explain", str(tmp_path / "r.yaml"), "default", "nope"])
    assert missing.exit_code == 1 and missing.output.strip().endswith(
        "no column labelled 'nope'; the columns are: default, greedy"
    )


def test_a_branch_continues_every_column_from_the_chosen_token_and_reproduces(tmp_path) -> None:
    from samplerlab.understand.branching import branch_prefix

    prefix = branch_prefix(["In", " the", " glow"], 2, " dark")
    assert prefix == "In the dark"
    experiment = tmp_path / "branch.yaml"
    experiment.write_text(
        'prompt: "Write a short poem praising light-emitting diodes."\nseed: 0\nmax_tokens: 8\n'
        f"prefix: {prefix!r}\n"
        "columns:\n  - {label: default}\n  - {label: greedy, settings: {temperature: 0}}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    ran = runner.invoke(main, ["run", str(experiment), "--out", str(tmp_path / "r.yaml")])
    assert ran.exit_code == 0, ran.output
    from samplerlab.runs.results import load_result

    document = load_result(tmp_path / "r.yaml")
    assert document["prefix"] == "In the dark"
    assert "In the dark" in document["rendered"][0]["prompt_text"]
    assert runner.invoke(main, ["run", "--check", str(tmp_path / "r.yaml")]).output.strip() == "reproduced 2 columns"
    compared = runner.invoke(
        main,
        [
            "compare",
            "Write a short poem praising light-emitting diodes.",
            "--column",
            "temperature=0",
            "--max-tokens",
            "8",
            "--prefix",
            "In the dark",
            "--width",
            "60",
        ],
    )
    assert compared.exit_code == 0, compared.output
    assert compared.output.splitlines()[0] == (
        "every reply starts with the forced 'In the dark'; the columns show what follows"
    )
    greedy = [c for c in document["columns"] if c["label"] == "greedy"][0]["text"]
    assert compared.output.splitlines()[3].strip().startswith(greedy.split("\n")[0][:20].strip())
