"""The bench's sweep: every contender does the same work, the settings x seeds the issue names."""

from __future__ import annotations

import pytest

from samplerlab.runs.bench import TEMPERATURES, bench_columns, column_values, sweep_experiment
from samplerlab.runs.runner import plan


def test_a_sweep_is_every_setting_on_every_seed_and_samplerlab_plans_the_same_columns_in_one_job() -> None:
    values = column_values(64, 128, 4)
    assert {(v["temperature"], v["seed"]) for v in values} == {(t, s) for t in TEMPERATURES[:4] for s in range(16)}
    experiment = sweep_experiment("Once upon a time", values[:4], 16, {2: False})
    jobs = plan(experiment, 64)
    assert len(jobs) == 1
    planned = [run.column.for_seed(run.seed).settings for run in jobs[0].runs]
    assert [(s.temperature, s.seed, s.max_tokens) for s in planned] == [
        (v["temperature"], v["seed"], v["max_tokens"]) for v in values
    ]
    assert all(s.samplers == planned[0].samplers and s.logit_bias == {2: float("-inf")} for s in planned)
    assert experiment.mode == "raw" and experiment.prompts == ("Once upon a time",)


def test_plain_columns_keep_a_temperature_and_seed_each() -> None:
    assert [(v["temperature"], v["seed"]) for v in column_values(3, 8, None)] == [
        (TEMPERATURES[0], 0),
        (TEMPERATURES[1], 1),
        (TEMPERATURES[2], 2),
    ]
    assert bench_columns(None, None, None) == 4 and bench_columns(7, None, None) == 7
    assert bench_columns(None, 4, 16) == 64


def test_a_sweep_that_does_not_divide_the_columns_is_refused() -> None:
    from samplerlab.runs.bench import run_benchmark

    with pytest.raises(ValueError, match="6 columns are not 4 settings"):
        run_benchmark(None, 6, 8, 1, 4)  # type: ignore[arg-type]  # refused before the backend is looked at
    with pytest.raises(ValueError, match="--settings 9 is out of range; expected 1 to 8"):
        run_benchmark(None, 9, 8, 1, 9)  # type: ignore[arg-type]
