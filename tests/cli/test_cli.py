"""The CLI parses, calls the library and prints exactly what the library produced."""

from __future__ import annotations

import io
import re

import pytest
from click.testing import CliRunner

from samplerlab.cli.main import main
from samplerlab.llama.engine import Column, Request, run
from samplerlab.report.render import LiveTable, side_by_side
from samplerlab.schema.params import Settings

PROMPT = "Write a short poem praising light-emitting diodes."


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_compare_prints_the_library_result_side_by_side(runner, model):
    args = [
        "compare",
        PROMPT,
        "--column",
        "temperature=0.8",
        "--column",
        "temperature=0",
        "--column",
        "temperature=3,top_k=100",
        "--seed",
        "0",
        "--max-tokens",
        "12",
        "--width",
        "90",
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    columns = [
        Column(spec, Settings({"seed": 0, "max_tokens": 12, **values}))
        for spec, values in [
            ("temperature=0.8", {"temperature": 0.8}),
            ("temperature=0", {"temperature": 0}),
            ("temperature=3,top_k=100", {"temperature": 3.0, "top_k": 100}),
        ]
    ]
    expected = side_by_side(run(model, Request(PROMPT), columns), 90)
    # speeds vary, and with their width the padding after them
    strip_speed = lambda text: re.sub(r" +", " ", re.sub(r"\d+\.\d tok/s", "N tok/s", text))  # noqa: E731
    assert strip_speed(result.output) == strip_speed(expected) + "\n"
    assert result.output.splitlines()[0].split("│")[0].strip() == "temperature=0.8"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["compare", "hi", "--column", "temprature=1"],
            "Error: --column 'temprature=1': unknown setting 'temprature' (did you mean 'temperature'?)\n",
        ),
        (
            ["compare", "hi", "--column", "top_p=2"],
            "Error: --column 'top_p=2': top_p: 2.0 is out of range; expected 0 to 1\n",
        ),
        (["compare", "hi", "--model", "/nonexistent/model.gguf"], "Error: /nonexistent/model.gguf: no such file\n"),
        (
            ["compare", "hi", "--load", "flash_attn=maybe"],
            "Error: --load: flash_attn: expected one of auto, off, on, got 'maybe'\n",
        ),
        (["compare", "hi", "--hf-repo", "a/b"], "Error: --hf-repo and --hf-file go together: give both\n"),
    ],
)
def test_bad_input_is_one_line(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and result.output == message


def test_raw_mode_with_a_stop_string(runner):
    result = runner.invoke(
        main,
        [
            "compare",
            "ユーザー: おはよう\n魔理沙: ",
            "--mode",
            "raw",
            "--stop",
            "\n",
            "--column",
            "temperature=0",
            "--max-tokens",
            "40",
            "--width",
            "60",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "[stop '\\n']" in result.output


def test_bench_prints_three_contenders_and_the_ratio_last(runner):
    result = runner.invoke(main, ["bench", "--columns", "2", "--tokens", "4", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[2]
        == "every contender loaded with samplerlab's load settings: repack=false, flash_attn=off, n_gpu_layers=0"
    )
    assert [line.split("  ")[0] for line in lines[3:6]] == [
        "sequential create_completion",
        "bare batched loop",
        "samplerlab",
    ]
    assert re.fullmatch(r"overhead=\d+\.\d{3}", lines[-2]) and re.fullmatch(r"ratio=\d+\.\d{3}", lines[-1])


def test_bench_times_a_sweep_of_settings_x_seeds_run_as_samplerlab_run_runs_it(runner):
    result = runner.invoke(main, ["bench", "--settings", "2", "--seeds", "2", "--tokens", "3", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "columns: 4 (2 settings x 2 seeds)  tokens: 3  threads: 2"
    assert [line.split("  ")[0] for line in lines[3:6]] == [
        "sequential create_completion",
        "bare batched loop",
        "samplerlab",
    ]
    assert re.fullmatch(r"overhead=\d+\.\d{3}", lines[-2])


@pytest.mark.parametrize(
    "arguments, line",
    [
        (
            ["--settings", "4"],
            "Error: bench: --settings and --seeds go together (--settings 4 --seeds 16 is a sweep of 64 columns)",
        ),
        (
            ["--seeds", "16"],
            "Error: bench: --settings and --seeds go together (--settings 4 --seeds 16 is a sweep of 64 columns)",
        ),
        (
            ["--columns", "8", "--settings", "2", "--seeds", "4"],
            "Error: bench: give --columns, or --settings with --seeds, not both",
        ),
        (["--settings", "8", "--seeds", "33"], "Error: bench: --settings 8 x --seeds 33 is 264 columns; at most 256"),
    ],
)
def test_bench_refuses_a_sweep_it_cannot_run_in_one_line_before_loading_anything(runner, arguments, line):
    result = runner.invoke(main, ["bench", *arguments])
    assert result.exit_code == 1 and result.output.strip() == line


def test_the_live_table_redraws_in_place_and_clears_before_the_final_print():
    screen = io.StringIO()
    live = LiveTable(["a", "b"], screen, width=40, every=0)
    live.add(0, "Hello")
    live.add(1, "こんにちは")
    first, second = screen.getvalue().split("\033[", 1)
    assert first.splitlines()[0].startswith("a ") and "Hello" in first and "1 tokens …" in first
    assert second.startswith("5F\033[J") and "こんにちは" in second
    live.clear()
    assert screen.getvalue().endswith("\033[5F\033[J")


def test_a_drawn_seed_is_printed_and_a_banned_token_never_appears(runner):
    result = runner.invoke(
        main,
        [
            "compare",
            PROMPT,
            "--seed",
            "-1",
            "--max-tokens",
            "12",
            "--width",
            "100",
            "--column",
            "temperature=0,logit_bias=In:false",
        ],
    )
    assert result.exit_code == 0, result.output
    seed = int(re.search(r"seed (\d+) \(drawn\)", result.output).group(1))
    again = runner.invoke(
        main,
        [
            "compare",
            PROMPT,
            "--seed",
            str(seed),
            "--max-tokens",
            "12",
            "--width",
            "100",
            "--column",
            "temperature=0,logit_bias=In:false",
        ],
    )
    text = lambda output: output.split("─\n", 1)[1].split("\n─", 1)[0]  # noqa: E731
    assert text(again.output) == text(result.output) and not text(result.output).startswith("In")
