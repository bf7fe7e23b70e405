"""Exports use the real tools' key names and say what they cannot carry; imports behave as in the source tool."""

from __future__ import annotations

import ast
import inspect
import json
import shlex
from pathlib import Path

import llama_cpp
import pytest
import yaml

from samplerlab.presets import formats, formats_import
from samplerlab.presets.formats import (
    EXPORT_FORMATS,
    LAUNCH_KEY,
    LLAMA_SERVER_KEYS,
    ST_NEUTRAL,
    TARGETS,
    UNSUPPORTED_KEY,
    FormatError,
    export_preset,
    load_flags,
)
from samplerlab.presets.formats_import import IMPORTERS, detect_format, import_preset
from samplerlab.presets.store import Preset, PresetError, load_preset, preset_yaml
from samplerlab.schema.load_settings import LoadSettings
from samplerlab.schema.params import DEFAULTS, KNOB_BY_NAME, KNOBS, SPELLING_TOOLS, Settings, spelled

# The tools' own key names, copied from their sources (see the research notes), not from samplerlab.
LLAMA_SERVER_BODY_KEYS = {
    "temperature",
    "dynatemp_range",
    "dynatemp_exponent",
    "top_k",
    "top_p",
    "min_p",
    "typical_p",
    "top_n_sigma",
    "xtc_probability",
    "xtc_threshold",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
    "repeat_penalty",
    "repeat_last_n",
    "frequency_penalty",
    "presence_penalty",
    "dry_multiplier",
    "dry_base",
    "dry_allowed_length",
    "dry_penalty_last_n",
    "dry_sequence_breakers",
    "logit_bias",
    "samplers",
    "seed",
    "n_predict",
    "stop",
    "adaptive_target",
    "adaptive_decay",
}
LLAMA_CLI_FLAGS = {
    "--temp",
    "--top-k",
    "--top-p",
    "--min-p",
    "--typical",
    "--top-nsigma",
    "--xtc-probability",
    "--xtc-threshold",
    "--mirostat",
    "--mirostat-lr",
    "--mirostat-ent",
    "--repeat-penalty",
    "--repeat-last-n",
    "--presence-penalty",
    "--frequency-penalty",
    "--dry-multiplier",
    "--dry-base",
    "--dry-allowed-length",
    "--dry-penalty-last-n",
    "--dry-sequence-breaker",
    "--dynatemp-range",
    "--dynatemp-exp",
    "--sampling-seq",
    "--seed",
    "--n-predict",
    "--logit-bias",
    "--reverse-prompt",
    "--adaptive-target",
    "--adaptive-decay",
    "--ctx-size",
    "--threads",
    "--batch-size",
    "--ubatch-size",
    "--gpu-layers",
    "--flash-attn",
    "--cache-type-k",
    "--cache-type-v",
    "--repack",
    "--no-repack",
}
# samplerlab's default load settings as llama.cpp flags (common/arg.cpp), as the llama.cpp exports begin
LOAD_ARGS = [
    "--ctx-size",
    "2048",
    "--threads",
    "0",
    "--batch-size",
    "512",
    "--ubatch-size",
    "512",
    "--gpu-layers",
    "0",
    "--flash-attn",
    "off",
    "--cache-type-k",
    "f16",
    "--cache-type-v",
    "f16",
    "--no-repack",
]
OLLAMA_OPTIONS = {
    "num_keep",
    "seed",
    "num_predict",
    "top_k",
    "top_p",
    "min_p",
    "typical_p",
    "repeat_last_n",
    "temperature",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
    "stop",
}
OPEN_WEBUI_PARAMS = {
    "seed",
    "stop",
    "temperature",
    "reasoning_effort",
    "logit_bias",
    "max_tokens",
    "top_k",
    "top_p",
    "min_p",
    "frequency_penalty",
    "presence_penalty",
    "mirostat",
    "mirostat_eta",
    "mirostat_tau",
    "repeat_last_n",
    "tfs_z",
    "repeat_penalty",
}
TGW_PRESET_KEYS = {
    "temperature",
    "dynatemp_low",
    "dynatemp_high",
    "dynatemp_exponent",
    "smoothing_factor",
    "smoothing_curve",
    "top_p",
    "top_k",
    "min_p",
    "top_n_sigma",
    "typical_p",
    "xtc_threshold",
    "xtc_probability",
    "epsilon_cutoff",
    "eta_cutoff",
    "tfs",
    "top_a",
    "adaptive_target",
    "adaptive_decay",
    "dry_multiplier",
    "dry_allowed_length",
    "dry_base",
    "repetition_penalty",
    "frequency_penalty",
    "presence_penalty",
    "encoder_repetition_penalty",
    "no_repeat_ngram_size",
    "repetition_penalty_range",
    "penalty_alpha",
    "guidance_scale",
    "mirostat_mode",
    "mirostat_tau",
    "mirostat_eta",
    "do_sample",
    "dynamic_temperature",
    "temperature_last",
    "sampler_priority",
    "dry_sequence_breakers",
}
ST_NEUTRAL_JSON = """{ "temp": 1, "temperature_last": true, "top_p": 1, "top_k": 0, "top_a": 0, "tfs": 1,
  "epsilon_cutoff": 0, "eta_cutoff": 0, "typical_p": 1, "min_p": 0,
  "rep_pen": 1, "rep_pen_range": 0, "rep_pen_decay": 0, "rep_pen_slope": 1,
  "no_repeat_ngram_size": 0, "penalty_alpha": 0, "num_beams": 1, "length_penalty": 1,
  "min_length": 0, "encoder_rep_pen": 1, "freq_pen": 0, "presence_pen": 0, "skew": 0,
  "do_sample": true, "early_stopping": false,
  "dynatemp": false, "min_temp": 0, "max_temp": 2, "dynatemp_exponent": 1,
  "smoothing_factor": 0, "smoothing_curve": 1,
  "dry_allowed_length": 2, "dry_multiplier": 0, "dry_base": 1.75,
  "dry_sequence_breakers": "[\\"\\\\n\\", \\":\\", \\"\\\\\\"\\", \\"*\\"]", "dry_penalty_last_n": 0,
  "add_bos_token": true, "ban_eos_token": false, "skip_special_tokens": true,
  "mirostat_mode": 0, "mirostat_tau": 5, "mirostat_eta": 0.1,
  "guidance_scale": 1, "negative_prompt": "", "grammar_string": "", "json_schema": null,
  "json_schema_allow_empty": false, "banned_tokens": "",
  "sampler_priority": ["repetition_penalty","presence_penalty","frequency_penalty","dry","temperature",
     "dynamic_temperature","quadratic_sampling","top_n_sigma","top_k","top_p","typical_p",
     "epsilon_cutoff","eta_cutoff","tfs","top_a","min_p","mirostat","xtc",
     "encoder_repetition_penalty","no_repeat_ngram"],
  "samplers": ["penalties","dry","top_n_sigma","top_k","typ_p","tfs_z","typical_p","xtc","top_p","min_p","temperature"],
  "samplers_priorities": ["dry","penalties","no_repeat_ngram","temperature","top_nsigma","top_p_top_k",
     "top_a","min_p","tfs","eta_cutoff","epsilon_cutoff","typical_p","quadratic","xtc"],
  "ignore_eos_token": false, "spaces_between_special_tokens": true, "speculative_ngram": false,
  "sampler_order": [6,0,1,3,4,2,5], "logit_bias": [],
  "xtc_threshold": 0.1, "xtc_probability": 0, "nsigma": 0, "min_keep": 0, "rep_pen_size": 0 }"""

# Every knob set to its documented example, but only knobs llama-server can carry.
EVERY_KNOB = Settings({knob.name: knob.example for knob in KNOBS if knob.name not in ("tfs_z", "penalize_prompt")})
TGW_ORDER = "edstkpyfmx"  # TGW's default sampler_priority, as stages


# -- tables ---------------------------------------------------------------------------------


def test_every_table_is_keyed_by_real_knob_names():
    tables = [
        getattr(module, name)
        for module in (formats, formats_import)
        for name in dir(module)
        if name.endswith("_KEYS") or name.endswith("_FLAGS")
    ]
    for target in TARGETS.values():
        tables += [target.keys, target.acts_as, target.reasons, dict.fromkeys(target.handled)]
    assert len(tables) > 15
    for table in tables:
        assert set(table) <= set(KNOB_BY_NAME), set(table) - set(KNOB_BY_NAME)


def test_every_spelling_names_a_known_tool():
    """A misspelt tool in a knob's spellings would silently drop the knob from that tool's exports."""
    for knob in KNOBS:
        assert set(knob.spellings) <= set(SPELLING_TOOLS), knob.name
    with pytest.raises(
        ValueError,
        match="^unknown tool 'olama'; known: openai, ollama, open_webui, llama_cpp_python, tgw, sillytavern$",
    ):
        spelled("olama")


def test_the_formats_are_the_promised_ones():
    assert (
        list(EXPORT_FORMATS)
        == list(TARGETS)
        == ["llama-cli", "llama-server", "openai", "ollama", "open-webui", "llama-cpp-python", "tgw", "sillytavern"]
    )
    assert list(IMPORTERS) == ["tgw", "sillytavern"]


@pytest.mark.parametrize(
    "fmt, message",
    [
        (
            "olama",
            "unknown format 'olama' (did you mean 'ollama'?); known: llama-cli, llama-server, openai, ollama, "
            "open-webui, llama-cpp-python, tgw, sillytavern",
        ),
        (
            "kobold",
            "unknown format 'kobold'; known: llama-cli, llama-server, openai, ollama, open-webui, "
            "llama-cpp-python, tgw, sillytavern",
        ),
    ],
)
def test_unknown_export_format(fmt, message):
    with pytest.raises(FormatError) as error:
        export_preset(DEFAULTS, fmt)
    assert str(error.value) == message


def test_unknown_import_format_is_a_preset_error():
    with pytest.raises(
        PresetError, match=r"^unknown format 'sillytaven' \(did you mean 'sillytavern'\?\); known: tgw, sillytavern$"
    ):
        import_preset("{}", "sillytaven", "x")


# -- exports use the tools' names -------------------------------------------------------------


def json_export(settings: Settings, fmt: str) -> dict:
    return json.loads(export_preset(settings, fmt))


def test_llama_server_body_uses_its_keys_and_round_trips():
    body = json_export(EVERY_KNOB, "llama-server")
    assert body.pop("cache_prompt") is False and body.pop(LAUNCH_KEY)
    assert set(body) == LLAMA_SERVER_BODY_KEYS
    assert body["samplers"] == [
        "temperature",
        "penalties",
        "dry",
        "top_n_sigma",
        "top_k",
        "typ_p",
        "top_p",
        "min_p",
        "xtc",
    ]
    assert body["logit_bias"] == [["!", 5.0]] and body["dry_sequence_breakers"] == ["."]
    by_key = {key: name for name, key in LLAMA_SERVER_KEYS.items()}
    values = {by_key[key]: value for key, value in body.items()}
    assert Settings({**values, "logit_bias": dict(map(tuple, body["logit_bias"]))}) == EVERY_KNOB.replace(
        samplers=EVERY_KNOB.samplers.replace("f", "")
    )


def test_openai_body_uses_openai_names_for_standard_fields():
    body = json_export(EVERY_KNOB.replace(logit_bias={15043: False, "Hi": 1.0}), "openai")
    assert set(body) == LLAMA_SERVER_BODY_KEYS - {"n_predict"} | {"max_tokens", "cache_prompt", LAUNCH_KEY}
    assert body["logit_bias"] == {"15043": False, "Hi": 1.0} and body["max_tokens"] == 4


@pytest.mark.parametrize("fmt", ["llama-server", "openai", "ollama", "open-webui"])
def test_no_limit_is_minus_one_for_llama_cpp_and_ollama(fmt):
    text = export_preset(DEFAULTS.replace(max_tokens=0), fmt)
    assert (
        ("PARAMETER num_predict -1" in text)
        if fmt == "ollama"
        else json.loads(text)["n_predict" if fmt == "llama-server" else "max_tokens"] == -1
    )


def cli_arguments(text: str) -> list[str]:
    command = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return shlex.split(command.replace("\\\n", " "))


def test_llama_cli_writes_only_what_differs_from_llama_cpp():
    assert cli_arguments(export_preset(DEFAULTS.replace(max_tokens=0, seed=-1), "llama-cli")) == [
        "llama-cli",
        "-m",
        "model.gguf",
        *LOAD_ARGS,
    ]
    settings = DEFAULTS.replace(
        temperature=0.7,
        stop=["\n", "User:"],
        dry_sequence_breakers=[],
        samplers="tkp",
        logit_bias={15043: 1.5, 2: False},
    )
    arguments = cli_arguments(export_preset(settings, "llama-cli"))
    assert arguments[3 + len(LOAD_ARGS) :] == [
        "--temp",
        "0.7",
        "--dry-sequence-breaker",
        "none",
        "--logit-bias",
        "15043+1.5",
        "--logit-bias",
        "2-inf",
        "--sampling-seq",
        "tkp",
        "--seed",
        "0",
        "--n-predict",
        "256",
        "--reverse-prompt",
        "\\n",
        "--reverse-prompt",
        "User:",
    ]
    assert set(arguments[3 + len(LOAD_ARGS) :: 2]) <= LLAMA_CLI_FLAGS


def test_llama_cpp_exports_load_and_run_as_samplerlab_does():
    """Flash attention, repacking, GPU offload, cache types and batch sizes change the numbers, so the text;
    llama-server also needs a KV stream per column and no reused prompt cache (engine.py does the same)."""
    text = export_preset(DEFAULTS, "llama-cli")
    assert (
        "keep --batch-size, --ubatch-size, --gpu-layers,\n# --flash-attn, --cache-type-k, --cache-type-v and --no-repack"
        in text
    )
    assert "plus --parallel 1 --no-kv-unified --no-cache-prompt" in text
    for fmt in ("llama-server", "openai"):
        body = json_export(DEFAULTS, fmt)
        assert body["cache_prompt"] is False
        command = body[LAUNCH_KEY][0].split()
        assert command == [
            "llama-server",
            "-m",
            "model.gguf",
            *LOAD_ARGS,
            "--parallel",
            "1",
            "--no-kv-unified",
            "--no-cache-prompt",
        ]


def test_load_flags_are_derived_from_the_load_knobs():
    flags = load_flags(LoadSettings({"repack": True, "n_gpu_layers": -1, "flash_attn": "on", "type_v": "q8_0"}))
    assert {flag: flags[flag] for flag in ("--repack", "--gpu-layers", "--flash-attn", "--cache-type-v")} == {
        "--repack": None,
        "--gpu-layers": "all",
        "--flash-attn": "on",
        "--cache-type-v": "q8_0",
    }  # llama.cpp's -1 is auto
    assert "--no-repack" not in flags and set(flags) <= LLAMA_CLI_FLAGS


def test_every_cli_flag_is_a_real_flag():
    arguments = cli_arguments(export_preset(EVERY_KNOB, "llama-cli"))
    assert {a for a in arguments if a.startswith("--")} <= LLAMA_CLI_FLAGS


def test_ollama_parameters_are_ollama_options_quoted_like_ollama():
    text = export_preset(DEFAULTS.replace(stop=["\n", "<|im_end|>", ' say "hi"']), "ollama")
    names = [line.split()[1] for line in text.splitlines() if line.startswith("PARAMETER")]
    assert set(names) <= OLLAMA_OPTIONS and "num_predict" in names
    assert 'PARAMETER stop "\n"\nPARAMETER stop <|im_end|>\nPARAMETER stop """ say "hi""""\n' in text


def test_open_webui_params_are_its_params():
    params = json_export(DEFAULTS.replace(logit_bias={5432: 100.0, 413: False}, mirostat=2), "open-webui")
    assert set(params) <= OPEN_WEBUI_PARAMS
    assert params["logit_bias"] == "5432:100,413:-100" and params["mirostat"] == 2


def test_llama_cpp_python_call_uses_create_completion_arguments():
    source = export_preset(DEFAULTS.replace(logit_bias={15043: False, 7: 2.0}, stop=["\n"]), "llama-cpp-python")
    calls = {
        node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id: node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
    }
    completion = {
        kw.arg: eval(compile(ast.Expression(kw.value), "<export>", "eval"))
        for kw in calls["create_completion"].keywords
    }
    assert set(completion) <= set(inspect.signature(llama_cpp.Llama.create_completion).parameters)
    assert {kw.arg for kw in calls["Llama"].keywords} <= set(inspect.signature(llama_cpp.Llama.__init__).parameters)
    assert completion["logit_bias"] == {15043: float("-inf"), 7: 2.0} and completion["stop"] == ["\n"]
    assert completion["mirostat_mode"] == 0 and completion["max_tokens"] == 256


def test_tgw_preset_is_sparse_against_tgw_defaults():
    text = export_preset(
        Settings(
            {
                "temperature": 0.7,
                "top_p": 0.9,
                "repeat_penalty": 1.15,
                "top_k": 20,
                "min_p": 0.0,
                "repeat_last_n": 1024,
                "dry_penalty_last_n": 1024,
                "samplers": TGW_ORDER,
            }
        ),
        "tgw",
    )
    assert yaml.safe_load(text) == {"temperature": 0.7, "top_k": 20, "top_p": 0.9, "repetition_penalty": 1.15}
    document = yaml.safe_load(export_preset(EVERY_KNOB, "tgw"))
    assert set(document) <= TGW_PRESET_KEYS


def test_sillytavern_preset_is_a_complete_st_document():
    document = json_export(EVERY_KNOB, "sillytavern")
    assert set(ST_NEUTRAL) == set(json.loads(ST_NEUTRAL_JSON))
    # current SillyTavern also saves adaptive-p's settings; the export switches it off explicitly
    assert set(document) - {UNSUPPORTED_KEY} == set(ST_NEUTRAL) | {"adaptive_target", "adaptive_decay"}
    assert document["adaptive_target"] == -0.01 and document["json_schema_allow_empty"] is False
    assert json.loads(document["dry_sequence_breakers"]) == ["."]
    assert document["samplers"][0] == "temperature" and document["temperature_last"] is False


def test_sillytavern_carries_the_order_to_every_backend():
    """llama.cpp reads `samplers`, TGW `sampler_priority`, KoboldCpp `sampler_order`: all three follow the preset."""
    settings = Settings({"samplers": "tedskfypmx"})
    document = json_export(settings, "sillytavern")
    assert document["samplers"] == [
        "temperature",
        "penalties",
        "dry",
        "top_n_sigma",
        "top_k",
        "tfs_z",
        "typ_p",
        "top_p",
        "min_p",
        "xtc",
    ]
    assert document["sampler_priority"] == [
        "temperature",
        "dynamic_temperature",
        "quadratic_sampling",
        "repetition_penalty",
        "presence_penalty",
        "frequency_penalty",
        "dry",
        "top_n_sigma",
        "top_k",
        "tfs",
        "typical_p",
        "epsilon_cutoff",
        "eta_cutoff",
        "top_p",
        "top_a",
        "min_p",
        "adaptive_p",
        "mirostat",
        "xtc",
        "encoder_repetition_penalty",
        "no_repeat_ngram",
    ]
    assert document["sampler_priority"] == yaml.safe_load(export_preset(settings, "tgw"))["sampler_priority"].split(
        "\n"
    )
    assert document["sampler_order"] == [5, 6, 0, 1, 3, 4, 2]  # temperature, rep_pen, top_k, top_a, tfs, typical, top_p
    assert document["temperature_last"] is False


def test_sillytavern_default_order_keeps_the_neutral_orders():
    document = json_export(DEFAULTS, "sillytavern")
    assert document["sampler_order"] == ST_NEUTRAL["sampler_order"] and document["temperature_last"] is True


def test_open_webui_stop_strings_survive_its_unicode_escape_decoding():
    """Open WebUI runs bytes(stop, "utf-8").decode("unicode_escape") on each stop string."""
    stops = json_export(DEFAULTS.replace(stop=["ユーザー:", "\n", "a\\b"]), "open-webui")["stop"]
    assert stops == ["\\u30e6\\u30fc\\u30b6\\u30fc:", "\\n", "a\\\\b"]
    assert [bytes(stop, "utf-8").decode("unicode_escape") for stop in stops] == ["ユーザー:", "\n", "a\\b"]


def test_llama_cpp_python_export_says_mirostat_skips_temperature():
    text = export_preset(load_preset("mirostat 2"), "llama-cpp-python")
    assert "#   temperature = 0.8: llama-cpp-python applies no temperature before Mirostat\n" in text
    assert "applies no temperature" not in export_preset(
        Settings({"mirostat": 2, "temperature": 1.0}), "llama-cpp-python"
    )


ADAPTIVE_ON = {"adaptive_target": 0.4, "adaptive_decay": 0.8, "samplers": "edskfypmxta"}


def test_llama_cpp_exports_carry_adaptive_p_in_the_order():
    body = json_export(Settings(ADAPTIVE_ON), "llama-server")
    assert body["samplers"][-1] == "adaptive_p" and (body["adaptive_target"], body["adaptive_decay"]) == (0.4, 0.8)
    arguments = cli_arguments(export_preset(Settings(ADAPTIVE_ON), "llama-cli"))
    assert arguments[arguments.index("--sampling-seq") + 1] == "edskypmxta"
    assert arguments[arguments.index("--adaptive-target") + 1] == "0.4"


@pytest.mark.parametrize(
    "values, tgw, st",
    [
        (ADAPTIVE_ON, 0.4, 0.4),
        # without `a` samplerlab (like llama.cpp) does not run it; TGW and KoboldCpp would, so they get "off"
        ({"adaptive_target": 0.4}, None, -0.01),
        ({**ADAPTIVE_ON, "adaptive_target": -1.0}, None, -0.01),
    ],
)
def test_text_uis_get_a_target_only_where_samplerlab_runs_adaptive_p(values, tgw, st):
    assert yaml.safe_load(export_preset(Settings(values), "tgw")).get("adaptive_target") == tgw
    document = json_export(Settings(values), "sillytavern")
    assert document["adaptive_target"] == st
    assert ("adaptive_p" in document["samplers"]) == ("a" in Settings(values).samplers)
    assert document["temperature_last"] is True  # the token picker aside, temperature is still last


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "adaptive_target: 0.5\nadaptive_decay: 0.7\n",
            {"adaptive_target": 0.5, "adaptive_decay": 0.7, "samplers": TGW_ORDER + "a"},
        ),
        ("adaptive_target: 0\nadaptive_decay: 0.7\n", {"adaptive_decay": 0.7}),  # TGW's 0 is off
    ],
)
def test_tgw_switches_adaptive_p_by_its_target(text, expected):
    assert import_preset(text, "tgw", "x")[0].settings == Settings({**TGW_BASE, **expected})


# -- nothing is dropped silently -------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt, values, note",
    [
        ("ollama", {"xtc_probability": 0.5}, "#   xtc_probability = 0.5: Ollama has no equivalent"),
        ("ollama", {"dry_multiplier": 0.8}, "#   dry_multiplier = 0.8: Ollama has no equivalent"),
        ("ollama", {"top_n_sigma": 1.0}, "#   top_n_sigma = 1.0: Ollama has no equivalent"),
        ("ollama", {"mirostat": 2}, "#   mirostat = 2: Ollama removed mirostat (a Modelfile PARAMETER is skipped"),
        (
            "ollama",
            {"samplers": "tkp"},
            "#   samplers = temperature,top_k,top_p: Ollama has no setting for the sampler order",
        ),
        ("llama-cpp-python", {"tfs_z": 0.5}, "#   tfs_z = 0.5: llama-cpp-python accepts tfs_z but ignores it"),
        ("llama-cpp-python", {"dynatemp_range": 0.5}, "#   dynatemp_range = 0.5: llama-cpp-python has no equivalent"),
        ("llama-cpp-python", {"dry_multiplier": 1.0}, "#   dry_multiplier = 1.0: llama-cpp-python has no equivalent"),
        ("llama-cpp-python", {"xtc_probability": 1.0}, "#   xtc_probability = 1.0: llama-cpp-python has no equivalent"),
        (
            "llama-cpp-python",
            {"repeat_penalty": 1.1},
            "#   penalize_prompt = true: llama-cpp-python counts only generated tokens in repetition penalties",
        ),
        (
            "llama-cpp-python",
            {"temperature": 0.5, "samplers": "tkypme"},
            "#   samplers = temperature,top_k,typ_p,top_p,min_p,penalties: llama-cpp-python's order is fixed",
        ),
        (
            "llama-cpp-python",
            {"logit_bias": {"Hello": 1.0}},
            '#   logit_bias for ["Hello"]: llama-cpp-python takes token ids only',
        ),
        ("llama-cli", {"tfs_z": 0.5}, "#   tfs_z = 0.5: llama.cpp removed tail-free sampling; only samplerlab runs it"),
        (
            "llama-cli",
            {"repeat_penalty": 1.2, "penalize_prompt": False},
            "#   penalize_prompt = false: llama.cpp always counts the prompt in repetition penalties and DRY",
        ),
        ("tgw", {"stop": ["\n"]}, '#   stop = ["\\n"]: not part of a text-generation-webui preset; set it in the UI'),
        (
            "tgw",
            {**ADAPTIVE_ON, "adaptive_target": 0.0},
            "#   adaptive_target = 0.0: text-generation-webui takes 0 as off",
        ),
        ("ollama", ADAPTIVE_ON, "#   adaptive_target = 0.4: Ollama has no equivalent"),
        ("llama-cpp-python", ADAPTIVE_ON, "#   adaptive_target = 0.4: llama-cpp-python has no equivalent"),
        (
            "tgw",
            {"dry_multiplier": 0.8, "dry_penalty_last_n": 128},
            "#   dry_penalty_last_n = 128: text-generation-webui uses repetition_penalty_range (64) for DRY too",
        ),
    ],
)
def test_text_formats_comment_on_what_they_cannot_express(fmt, values, note):
    assert note in export_preset(Settings(values), fmt)


@pytest.mark.parametrize(
    "fmt, values, note",
    [
        ("llama-server", {"tfs_z": 0.5}, "tfs_z = 0.5: llama.cpp removed tail-free sampling; only samplerlab runs it"),
        ("openai", {"tfs_z": 0.9}, "tfs_z = 0.9: llama.cpp removed tail-free sampling; only samplerlab runs it"),
        ("open-webui", {"xtc_probability": 0.5}, "xtc_probability = 0.5: Open WebUI has no equivalent"),
        ("open-webui", {"logit_bias": {5: 1.5}}, "logit_bias: Open WebUI takes whole numbers; biases were rounded"),
        ("sillytavern", {"max_tokens": 512}, "max_tokens = 512: not part of a SillyTavern preset; set it in the UI"),
    ],
)
def test_json_formats_list_what_they_cannot_express(fmt, values, note):
    assert note in json_export(Settings(values), fmt)[UNSUPPORTED_KEY]


@pytest.mark.parametrize("fmt", ["ollama", "open-webui", "llama-cpp-python"])
def test_no_note_for_adaptive_p_where_the_order_does_not_run_it(fmt):
    assert "adaptive" not in export_preset(Settings({"adaptive_target": 0.4}), fmt)


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_no_note_when_everything_fits(fmt):
    text = export_preset(
        Settings(
            {"temperature": 0.7, "top_k": 20, "penalize_prompt": False, "dry_base": 3.0, "samplers": "edskfypmtx"}
        ),
        fmt,
    )  # xtc is off: its place changes nothing
    assert "cannot express" not in text and UNSUPPORTED_KEY not in text


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_every_builtin_exports_to_every_format(fmt):
    for path in sorted(Path(formats.__file__).resolve().parent.parent.parent.joinpath("presets").glob("*.yaml")):
        preset = load_preset(path.stem)
        text = export_preset(preset, fmt)
        assert repr(preset.name) in text.splitlines()[0] or fmt in (
            "llama-server",
            "openai",
            "open-webui",
            "sillytavern",
        )
        if fmt in ("llama-server", "openai", "open-webui", "sillytavern"):
            json.loads(text)
        elif fmt == "tgw":
            yaml.safe_load(text)
        elif fmt == "llama-cpp-python":
            ast.parse(text)


# -- imports ----------------------------------------------------------------------------------

TGW_BASE = {
    "top_k": 0,
    "top_p": 1.0,
    "min_p": 0.0,
    "temperature": 1.0,
    "repeat_last_n": 1024,
    "dry_penalty_last_n": 1024,
    "samplers": TGW_ORDER,
}
ST_BASE = {
    "top_k": 0,
    "top_p": 1.0,
    "min_p": 0.0,
    "temperature": 1.0,
    "repeat_last_n": 0,
    "dry_penalty_last_n": 0,
    "samplers": "edskyfxpmt",
}


@pytest.mark.parametrize(
    "file_name, text, expected, unmapped",
    [
        (
            "simple-1.yaml",
            "temperature: 0.7\ntop_p: 0.9\nrepetition_penalty: 1.15\ntop_k: 20\n",
            {"temperature": 0.7, "top_p": 0.9, "repeat_penalty": 1.15, "top_k": 20},
            [],
        ),
        (
            "Big O.yaml",
            "temperature: 0.87\ntop_p: 0.99\ntypical_p: 0.68\ntfs: 0.68\nrepetition_penalty: 1.01\ntop_k: 85\n",
            {"temperature": 0.87, "top_p": 0.99, "typical_p": 0.68, "tfs_z": 0.68, "repeat_penalty": 1.01, "top_k": 85},
            [],
        ),
        ("Top-P.yaml", "top_p: 0.95\n", {"top_p": 0.95}, []),
        ("Creative.yaml", "min_p: 0.02\nxtc_probability: 0.5\n", {"min_p": 0.02, "xtc_probability": 0.5}, []),
        ("Deterministic.yaml", "do_sample: false\ntop_k: 1\n", {"temperature": 0.0, "top_k": 1}, []),
        ("Mirostat.yaml", "mirostat_mode: 2\nmirostat_tau: 8\n", {"mirostat": 2, "mirostat_tau": 8.0}, []),
        (
            "dynatemp.yaml",
            "dynamic_temperature: true\ndynatemp_low: 0.5\ndynatemp_high: 0.9\ntemperature_last: true\n",
            {"temperature": 0.7, "dynatemp_range": 0.2, "samplers": "edskpyfmxt"},
            [],
        ),
        (
            "unmapped.yaml",
            "top_a: 0.2\nsmoothing_factor: 0\nguidance_scale: 1.5\nbanana: 1\n"
            'sampler_priority: "top_k\\nmirostat\\nbanana\\ntemperature"\n',
            {"samplers": "kt"},
            ["top_a", "guidance_scale", "banana", "sampler_priority: banana"],
        ),
        # TGW's one range serves penalties and DRY; at 0 llama.cpp runs neither, and the import says so
        (
            "range0.yaml",
            "dry_multiplier: 0.8\nrepetition_penalty: 1.1\nrepetition_penalty_range: 0\n",
            {"dry_multiplier": 0.8, "repeat_penalty": 1.1, "repeat_last_n": 0, "dry_penalty_last_n": 0},
            [
                "repeat_last_n: 0 switches repetition penalties off in llama.cpp (repeat_penalty 1.1 has no effect)",
                "dry_penalty_last_n: 0 switches DRY off in llama.cpp (dry_multiplier 0.8 has no effect)",
            ],
        ),
        (
            "breakers.yaml",
            'dry_multiplier: 0.8\ndry_sequence_breakers: \'"\\n", ":", "<|im_end|>"\'\n'
            "repetition_penalty_range: 256\ntop_n_sigma: 1.5\n",
            {
                "dry_multiplier": 0.8,
                "dry_sequence_breakers": ("\n", ":", "<|im_end|>"),
                "repeat_last_n": 256,
                "dry_penalty_last_n": 256,
                "top_n_sigma": 1.5,
            },
            [],
        ),
    ],
)
def test_tgw_imports_carry_tgw_defaults(file_name, text, expected, unmapped):
    preset, missing = import_preset(text, "tgw", Path(file_name).stem)
    assert preset.settings == Settings({**TGW_BASE, **expected})
    assert missing == unmapped
    assert preset.name == Path(file_name).stem


@pytest.mark.parametrize(
    "changes, expected, unmapped",
    [
        ({}, {}, []),
        (
            {"temp": 1.25, "min_p": 0.1, "top_a": 0.2, "rep_pen": 1.1, "rep_pen_range": 512, "freq_pen": 0.1},
            {"temperature": 1.25, "min_p": 0.1, "repeat_penalty": 1.1, "repeat_last_n": 512, "frequency_penalty": 0.1},
            ["top_a"],
        ),
        (
            {
                "dry_multiplier": 0.8,
                "dry_penalty_last_n": 1024,
                "dry_sequence_breakers": '["\\n", ":", "\\"", "*", "<|im_end|>"]',
            },
            {
                "dry_multiplier": 0.8,
                "dry_penalty_last_n": 1024,
                "dry_sequence_breakers": ("\n", ":", '"', "*", "<|im_end|>"),
            },
            [],
        ),
        # SillyTavern's neutral DRY range is 0, which switches DRY off in llama.cpp: imported as it is, with a note
        (
            {"dry_multiplier": 0.8},
            {"dry_multiplier": 0.8},
            ["dry_penalty_last_n: 0 switches DRY off in llama.cpp (dry_multiplier 0.8 has no effect)"],
        ),
        (
            {"dynatemp": True, "min_temp": 0.5, "max_temp": 1.5, "dynatemp_exponent": 2, "nsigma": 1.0},
            {"temperature": 1.0, "dynatemp_range": 0.5, "dynatemp_exponent": 2.0, "top_n_sigma": 1.0},
            [],
        ),
        # temperature_last is for other back ends: llama.cpp gets `samplers` as it is
        ({"samplers": ["temperature", "top_k", "top_p"], "temperature_last": True}, {"samplers": "tkp"}, []),
        # ST sends llama.cpp its list as it is: with adaptive_p in it, llama.cpp picks with adaptive-p (last)
        (
            {
                "samplers": ["top_k", "min_p", "adaptive_p", "temperature"],
                "temperature_last": False,
                "ban_eos_token": True,
            },
            {"samplers": "kmta"},
            ["ban_eos_token"],
        ),
        # what current SillyTavern saves: adaptive_p listed, a negative target (off: llama.cpp's adaptive-p only draws)
        (
            {
                "adaptive_target": -0.01,
                "adaptive_decay": 0.5,
                "json_schema_allow_empty": True,
                "samplers": [
                    "penalties",
                    "dry",
                    "top_n_sigma",
                    "top_k",
                    "typ_p",
                    "top_p",
                    "min_p",
                    "xtc",
                    "temperature",
                    "adaptive_p",
                ],
            },
            {"samplers": "edskypmxta", "adaptive_decay": 0.5},
            [],
        ),
        (
            {"adaptive_target": 0.6, "adaptive_decay": 0.5, "samplers": ["top_k", "adaptive_p"]},
            {"samplers": "ka", "adaptive_target": 0.6, "adaptive_decay": 0.5},
            [],
        ),
        # a target without adaptive_p in the list does nothing in llama.cpp; samplerlab keeps it, greyed
        ({"adaptive_target": 0.6, "samplers": ["top_k"]}, {"samplers": "k", "adaptive_target": 0.6}, []),
        ({"json_schema": {}, "json_schema_allow_empty": True}, {}, ["json_schema_allow_empty"]),
        (
            {
                "logit_bias": [
                    {"id": "a", "text": "hello", "value": -5},
                    {"id": "b", "text": "[1, 2]", "value": 3},
                    {"id": "c", "text": "{verbatim}", "value": 1},
                ],
                "banned_tokens": '[42]\n"bad words"\nfoo',
            },
            {"logit_bias": {" hello": -5.0, 1: 3.0, 2: 3.0, "verbatim": 1.0, 42: False, "foo": False}},
            ['banned_tokens: "bad words"'],
        ),
    ],
)
def test_sillytavern_imports_start_from_neutral(changes, expected, unmapped):
    document = {**json.loads(ST_NEUTRAL_JSON), **changes}
    preset, missing = import_preset(json.dumps(document), "sillytavern", "st")
    assert preset.settings == Settings({**ST_BASE, **expected})
    assert missing == unmapped


def test_a_sillytavern_subset_fills_the_rest_from_neutral():
    preset, missing = import_preset('{"temp": 0.7, "top_p": 0.9}', "sillytavern", "subset")
    assert preset.settings == Settings({**ST_BASE, "temperature": 0.7, "top_p": 0.9}) and missing == []


@pytest.mark.parametrize("fmt", ["tgw", "sillytavern"])
@pytest.mark.parametrize(
    "values",
    [
        {},
        {"adaptive_target": 0.4, "adaptive_decay": 0.8, "min_p": 0.05, "samplers": "edskfypmxta"},
        {
            "temperature": 0.7,
            "dynatemp_range": 0.3,
            "dynatemp_exponent": 2.0,
            "top_n_sigma": 1.5,
            "tfs_z": 0.9,
            "dry_multiplier": 0.8,
            "dry_sequence_breakers": ["\n", "「"],
            "mirostat": 1,
            "samplers": "tkpedsfymx",
        },
        {
            "xtc_probability": 0.5,
            "xtc_threshold": 0.2,
            "typical_p": 0.5,
            "presence_penalty": 0.3,
            "repeat_last_n": 128,
            "dry_penalty_last_n": 128,
        },
    ],
)
def test_export_then_import_gives_the_same_settings(fmt, values):
    settings = Settings(values)
    preset, missing = import_preset(export_preset(settings, fmt), fmt, "again")
    assert preset.settings == settings and missing == []


def test_sillytavern_bias_round_trips():
    settings = Settings(
        {
            "logit_bias": {
                15043: 2.0,
                " hi": -1.0,
                "exact": 3.0,
                " [1]": 4.0,
                " ": 5.0,
                " x ": 6.0,
                7: False,
                "nope": False,
            }
        }
    )
    assert import_preset(export_preset(settings, "sillytavern"), "sillytavern", "x")[0].settings == settings


@pytest.mark.parametrize(
    "text, fmt, message",
    [
        (
            "{not json",
            "sillytavern",
            "SillyTavern preset: not valid JSON (Expecting property name enclosed in double quotes at line 1)",
        ),
        ("[1, 2]", "sillytavern", "SillyTavern preset: expected a mapping of keys to values, got list"),
        (
            "top_k: [\n",
            "tgw",
            "text-generation-webui preset: line 2: YAML syntax error: expected the node content, "
            "but found '<stream end>'",
        ),
        (
            "!!python/object:os.system {}\n",
            "tgw",
            "text-generation-webui preset: line 1: could not determine a "
            "constructor for the tag 'tag:yaml.org,2002:python/object:os.system'; "
            "presets hold plain values only",
        ),
        (
            "top_p: &p 0.9\nmin_p: *p\n",
            "tgw",
            "text-generation-webui preset: line 1: anchors and aliases (&name, *name) are not allowed here",
        ),
        ("top_p: 7\n", "tgw", "text-generation-webui preset: top_p: 7.0 is out of range; expected 0 to 1"),
        ('{"temp": "hot"}', "sillytavern", "SillyTavern preset: temperature: expected a number, got 'hot'"),
        ("top_k: 1\n" + "#" * 70_000, "tgw", "text-generation-webui preset: larger than 64 KiB"),
    ],
)
def test_bad_imports_fail_in_one_line(text, fmt, message):
    with pytest.raises(FormatError) as error:
        import_preset(text, fmt, "x")
    assert str(error.value) == message


def test_import_names_are_checked():
    with pytest.raises(PresetError, match="looks like a path"):
        import_preset("top_k: 1\n", "tgw", "../evil")


@pytest.mark.parametrize(
    "text, fmt",
    [
        (ST_NEUTRAL_JSON, "sillytavern"),
        ("temperature: 0.7\ntop_p: 0.9\n", "tgw"),
        (preset_yaml(Preset("mine")), "samplerlab"),
    ],
)
def test_detect_format(text, fmt, tmp_path):
    assert detect_format(text) == fmt
    path = tmp_path / "preset.txt"
    path.write_text(text, encoding="utf-8")
    assert detect_format(path) == fmt


def test_detect_format_refuses_non_presets():
    with pytest.raises(FormatError, match="^not a preset: expected a mapping of keys to values$"):
        detect_format("- a list\n")
