"""The schema validates every value with a one-line message naming the knob."""

from __future__ import annotations

import math

import pytest

from samplerlab.schema.assignments import parse_assignments
from samplerlab.schema.load_settings import LoadSettings
from samplerlab.schema.params import (
    KNOB_BY_NAME,
    KNOBS,
    NAMED_ORDERS,
    STAGES,
    Settings,
    SettingsError,
    neutral_values,
    order_names,
    parse_order,
    stage_enabled,
)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"temprature": 1.0}, "settings: unknown setting 'temprature' (did you mean 'temperature'?)"),
        ({"top_k": -3}, "settings: top_k: -3 is out of range; expected 0 to 1000000"),
        ({"top_p": 1.5}, "settings: top_p: 1.5 is out of range; expected 0 to 1"),
        ({"top_p": "high"}, "settings: top_p: expected a number, got 'high'"),
        ({"top_k": 2.5}, "settings: top_k: expected a whole number, got 2.5"),
        ({"temperature": math.nan}, "settings: temperature: expected a finite number, got nan"),
        ({"temperature": math.inf}, "settings: temperature: expected a finite number, got inf"),
        ({"temperature": True}, "settings: temperature: expected a number, got True"),
        ({"mirostat": 3}, "settings: mirostat: expected one of 0, 1, 2, got 3"),
        ({"stop": [1]}, "settings: stop: expected a list of strings, got [1]"),
        ({"stop": [""]}, "settings: stop: empty strings are not allowed"),
        (
            {"logit_bias": {"5": 200}},
            "settings: logit_bias: bias for '5' must be a number from -100 to 100 or false (ban), got 200",
        ),
        ({"logit_bias": [1]}, "settings: logit_bias: expected a mapping of token (id or text) to bias, got [1]"),
        (
            {"samplers": "ekz"},
            "settings: samplers: unknown sampler letter 'z'; known: e=penalties d=dry s=top_n_sigma "
            "k=top_k f=tail_free y=typ_p p=top_p m=min_p x=xtc t=temperature a=adaptive_p",
        ),
        (
            {"samplers": ["top_k", "top_kk"]},
            "settings: samplers: unknown sampler stage 'top_kk' (did you mean 'top_k'?); "
            "known: penalties, dry, top_n_sigma, top_k, tail_free, typ_p, top_p, min_p, xtc, temperature, adaptive_p",
        ),
        ({"samplers": "kk"}, "settings: samplers: stage 'top_k' appears twice"),
        ({"seed": -2}, "settings: seed: -2 is out of range; expected -1 to 4294967294"),
    ],
)
def test_bad_values_get_one_line_messages(values, message):
    with pytest.raises(SettingsError) as error:
        Settings(values)
    assert str(error.value) == message


def test_defaults_are_llama_cpp_common_h():
    defaults = Settings()
    assert (defaults.temperature, defaults.top_k, defaults.top_p, defaults.min_p) == (0.8, 40, 0.95, 0.05)
    assert (defaults.repeat_penalty, defaults.repeat_last_n, defaults.dry_base) == (1.0, 64, 1.75)
    assert defaults.dry_sequence_breakers == ("\n", ":", '"', "*")
    assert order_names(defaults.samplers) == (
        "penalties",
        "dry",
        "top_n_sigma",
        "top_k",
        "tail_free",
        "typ_p",
        "top_p",
        "min_p",
        "xtc",
        "temperature",
    )


@pytest.mark.parametrize(
    "value, letters",
    [
        ("edskypmxt", "edskypmxt"),
        ("llama-cpp-python", NAMED_ORDERS["llama-cpp-python"]),
        (["penalties", "top-k", "nucleus", "temp"], "ekpt"),
        ("top_k;typ_p;min_p", "kym"),
        (["TopK", "minp"], "km"),
        ("aedk", "edka"),  # adaptive-p picks the token: llama.cpp runs it last wherever it is written
        (["adaptive-p", "top_k"], "ka"),
    ],
)
def test_order_accepts_llama_cpp_spellings(value, letters):
    assert parse_order(value) == letters


def test_order_round_trips_through_names():
    for letters in NAMED_ORDERS.values():
        assert parse_order(list(order_names(letters))) == letters


def test_every_stage_has_a_unique_letter_and_knobs():
    assert len({s.letter for s in STAGES}) == len(STAGES)
    staged = {knob.stage for knob in KNOBS if knob.stage}
    assert staged == {s.name for s in STAGES}


def test_every_knob_documents_itself_in_english_and_japanese():
    for knob in KNOBS:
        assert knob.help_en and knob.help_ja, knob.name
        assert knob.example is not None, knob.name
        Settings({**knob.companions, knob.name: knob.example})


def test_neutral_values_switch_every_stage_off():
    neutral = Settings(neutral_values())
    assert not any(stage_enabled(stage.name, neutral) for stage in STAGES)


def test_a_range_of_zero_holds_a_switched_on_stage_off():
    assert stage_enabled("dry", Settings({"dry_multiplier": 0.8}))
    assert not stage_enabled("dry", Settings({"dry_multiplier": 0.8, "dry_penalty_last_n": 0}))
    assert not stage_enabled("penalties", Settings({"repeat_penalty": 1.1, "repeat_last_n": 0}))


def test_settings_are_immutable_and_compare_by_value():
    settings = Settings({"temperature": 0.5})
    with pytest.raises(AttributeError):
        settings.temperature = 1.0  # type: ignore[misc]
    assert settings == Settings({"temperature": 0.5}) != Settings()
    assert settings.changed() == {"temperature": 0.5}
    assert settings.replace(top_k=3).changed() == {"temperature": 0.5, "top_k": 3}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("temperature=3,top_k=100", {"temperature": 3.0, "top_k": 100}),
        ("stop=\\n|END", {"stop": ["\n", "END"]}),
        ("stop=\\n|。|魔理沙:", {"stop": ["\n", "。", "魔理沙:"]}),
        ("stop=\\x|C:\\Users|\\\\n|\\x41\\t", {"stop": ["\\x", "C:\\Users", "\\n", "A\t"]}),  # llama-cli's escapes
        (
            "top_k=-1e9,temperature=1e-1",
            {"top_k": -1e9, "temperature": 0.1},
        ),  # numbers, so the schema says what is wrong
        ("samplers=ekt", {"samplers": "ekt"}),
        ("logit_bias=15043:-5|Hello:false|a:b:2", {"logit_bias": {"15043": -5.0, "Hello": False, "a:b": 2.0}}),
    ],
)
def test_column_assignments(text, expected):
    assert parse_assignments(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "logit_bias=oops",
            "column: logit_bias: expected TOKEN:BIAS pairs separated by |, e.g. 15043:-5|Hello:false; got 'oops'",
        ),
        (
            "stop=\\xff",
            "column: stop: not UTF-8 text once its escapes are processed (byte 0); \\xHH escapes must "
            "spell whole UTF-8 characters",
        ),
    ],
)
def test_column_assignment_value_errors_are_one_line(text, message):
    with pytest.raises(SettingsError) as error:
        parse_assignments(text)
    assert str(error.value) == message


def test_column_assignment_errors_suggest():
    with pytest.raises(SettingsError, match=r"unknown setting 'topk' \(did you mean 'top_k'\?\)"):
        parse_assignments("topk=3")
    with pytest.raises(SettingsError, match="expected name=value"):
        parse_assignments("temperature")


def test_load_settings_validate_like_settings():
    assert LoadSettings().n_ctx == 2048
    with pytest.raises(SettingsError, match="flash_attn: expected one of auto, off, on, got 'maybe'"):
        LoadSettings({"flash_attn": "maybe"})


# -- per-column setup is bounded where every caller reads it (issue 20, items 1 and 5) -----------------
def _bounded(name: str):
    knob = KNOB_BY_NAME[name]
    return knob, knob.max_items, knob.max_bytes


@pytest.mark.parametrize("name", ["dry_sequence_breakers", "stop"])
def test_string_lists_are_bounded_in_count_and_length(name):
    """100,000 DRY breakers froze a shared app inside llama_sampler_init_dry (a vocabulary scan each)."""
    knob, most, longest = _bounded(name)
    assert Settings({name: [f"b{i}" for i in range(most)]})[name][-1] == f"b{most - 1}"
    with pytest.raises(SettingsError, match=rf"^settings: {name}: at most {most} strings, got 100000$"):
        Settings({name: [f"b{i}" for i in range(100_000)]})
    assert Settings({name: ["é" * (longest // 2)]})[name] == ("é" * (longest // 2),)  # bytes, as llama.cpp counts
    with pytest.raises(
        SettingsError, match=rf"^settings: {name}: a string of at most {longest} bytes, got {longest + 1} \('x"
    ):
        Settings({name: ["x" * (longest + 1)]})


def test_dry_breakers_are_bounded_as_llama_cpp_truncates_them():
    """llama.cpp cuts a breaker to 40 bytes (MAX_CHAR_LEN): a longer one would not act as written."""
    assert KNOB_BY_NAME["dry_sequence_breakers"].max_bytes == 40
    assert len(KNOB_BY_NAME["dry_sequence_breakers"].default) <= KNOB_BY_NAME["dry_sequence_breakers"].max_items


def test_logit_bias_keys_are_bounded_before_any_is_read():
    """Four columns of 150,000 bias keys took 42.7 s and 1.4 GB under the model's lock."""
    knob, most, longest = _bounded("logit_bias")
    assert len(Settings({"logit_bias": {str(i): 1 for i in range(most)}}).logit_bias) == most
    with pytest.raises(SettingsError, match=rf"^settings: logit_bias: at most {most} tokens, got 150000$"):
        Settings({"logit_bias": {str(i): 1 for i in range(150_000)}})
    with pytest.raises(SettingsError, match=rf"^settings: logit_bias: a token text of at most {longest} bytes, got"):
        Settings({"logit_bias": {"y" * (longest + 1): 1}})


def test_a_preset_file_with_too_many_breakers_is_refused_in_one_line(tmp_path):
    from samplerlab.presets.store import PresetError, parse_preset_text

    text = (
        "name: frozen\ndry_multiplier: 0.8\ndry_sequence_breakers: [" + ", ".join(f"b{i}" for i in range(1000)) + "]\n"
    )
    with pytest.raises(PresetError) as caught:
        parse_preset_text(text, source="uploaded file")
    assert "dry_sequence_breakers: at most 16 strings, got 1000" in str(caught.value)
    assert "\n" not in str(caught.value)
