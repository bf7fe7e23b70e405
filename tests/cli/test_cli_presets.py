"""`samplerlab presets ...` prints exactly what the library produces; every mistake is one `Error:` line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from samplerlab.cli.main import main
from samplerlab.cli.presets import first_sentence
from samplerlab.presets.formats import EXPORT_FORMATS, export_preset
from samplerlab.presets.formats_import import import_preset
from samplerlab.presets.store import (
    BUILTIN_DIR,
    HEADER,
    PRESETS_DIR_ENV,
    Preset,
    PresetError,
    load_preset,
    preset_yaml,
    save_preset,
)
from samplerlab.schema.params import Settings

# The name and kind columns of `presets list` for the built-ins; names are padded to the longest one.
BUILTIN_COLUMNS = [
    (
        "character dialogue (Japanese fine-tune write-up)",
        "character dialogue (Japanese fine-tune write-up)  built-in  ",
    ),
    ("factual low temperature", "factual low temperature                           built-in  "),
    ("greedy", "greedy                                            built-in  "),
    ("llama-cpp-python GUI guide", "llama-cpp-python GUI guide                        built-in  "),
    ("llama.cpp defaults", "llama.cpp defaults                                built-in  "),
    ("min-p creative", "min-p creative                                    built-in  "),
    ("mirostat 2", "mirostat 2                                        built-in  "),
    ("xtc + dry creative writing", "xtc + dry creative writing                        built-in  "),
]
KNOWN = ", ".join(name for name, _ in BUILTIN_COLUMNS)
TGW_FILE = "temperature: 0.87\ntop_p: 0.99\ntop_a: 0.2\nrepetition_penalty: 1.01\nguidance_scale: 1.5\n"
ST_FILE = json.dumps(
    {
        "temp": 1.25,
        "min_p": 0.1,
        "top_a": 0.2,
        "ban_eos_token": True,
        "adaptive_target": 0.6,
        "samplers": ["top_k", "min_p", "adaptive_p", "temperature"],
    }
)


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user preset directory, with the environment variable cleared so tests don't leak."""
    monkeypatch.delenv(PRESETS_DIR_ENV, raising=False)
    return tmp_path / "mine"


def presets(user_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["presets", *args, "--presets-dir", str(user_dir)])


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def builtin_lines() -> list[str]:
    return [columns + first_sentence(load_preset(name).description) for name, columns in BUILTIN_COLUMNS]


@pytest.mark.parametrize(
    "description, shown",
    [
        ("One. Two.", "One."),
        ("No full stop", "No full stop"),
        ("Version 1.5 is fine. Then more.", "Version 1.5 is fine."),
        ("First line\nsecond line. More.", "First line"),
        ("", ""),
        ("最初の文。次の文。", "最初の文。"),
        ("温度 0.7。Then more. x", "温度 0.7。"),
        ("First. 二つ目。", "First."),
    ],
)
def test_the_listing_shows_the_first_sentence(description, shown):
    assert first_sentence(description) == shown


# -- list ---------------------------------------------------------------------------------------


def test_list_puts_builtins_first_then_user_presets_by_name(user_dir):
    save_preset(Preset("創作向け", "物語を書くとき\nfor stories", Settings({"temperature": 1.1})), user_dir)
    save_preset(Preset("bare"), user_dir)
    result = presets(user_dir, "list")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines() == builtin_lines() + [
        "bare                                              user",
        "創作向け                                          user      物語を書くとき",
    ]


def test_list_reports_each_bad_file_on_stderr_and_still_lists_the_rest(user_dir):
    bad = write(user_dir / "hot.yaml", "name: hot\ntop_p: 7\n")
    clash = write(user_dir / "greedy-copy.yaml", "name: Greedy\n")
    result = presets(user_dir, "list")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == builtin_lines()
    assert result.stderr == (
        f"{bad}: top_p: 7.0 is out of range; expected 0 to 1\n"
        f"{clash}: the name 'Greedy' is already used by a built-in preset; rename this one\n"
    )


@pytest.mark.parametrize("where", ["before", "env"])
def test_the_user_dir_may_come_before_the_command_or_from_the_environment(where, user_dir, monkeypatch):
    save_preset(Preset("mine"), user_dir)
    if where == "env":
        monkeypatch.setenv(PRESETS_DIR_ENV, str(user_dir))
    args = ["presets", "list"] if where == "env" else ["--presets-dir", str(user_dir), "presets", "list"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and result.stdout.splitlines()[-1].rstrip() == f"{'mine':<48}  user"


# -- show and export ------------------------------------------------------------------------


def test_show_prints_the_builtin_file_as_it_is(user_dir):
    """All but the header's version: the file says which samplerlab wrote it, `show` which one runs."""
    result = presets(user_dir, "show", "LLAMA-CPP-PYTHON gui guide")
    assert result.exit_code == 0
    header, _, body = result.stdout.partition("\n")
    assert header + "\n" == HEADER
    assert body == (BUILTIN_DIR / "llama-cpp-python-gui-guide.yaml").read_text(encoding="utf-8").partition("\n")[2]


def test_show_prints_a_user_preset_as_samplerlab_writes_it(user_dir):
    saved = save_preset(Preset("創作向け", "物語を書くとき", Settings({"stop": ["\n"]})), user_dir)
    result = presets(user_dir, "show", "創作向け")
    assert result.exit_code == 0 and result.stdout == preset_yaml(saved)


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_export_prints_the_library_export(fmt, user_dir):
    result = presets(user_dir, "export", "min-p creative", "--to", fmt)
    assert result.exit_code == 0 and result.stdout == export_preset(load_preset("min-p creative"), fmt)


def test_the_gui_guide_exports_to_llama_cpp_python_without_notes(user_dir):
    result = presets(user_dir, "export", "llama-cpp-python GUI guide", "--to", "llama-cpp-python")
    assert result.exit_code == 0 and "cannot express" not in result.stdout


# -- import -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file_name, text, fmt, unmapped",
    [
        ("Big O.yaml", TGW_FILE, "tgw", ["top_a", "guidance_scale"]),
        ("Big O.json", ST_FILE, "sillytavern", ["top_a", "ban_eos_token"]),
    ],
)
@pytest.mark.parametrize("given", [False, True])
def test_import_saves_the_preset_and_lists_unmapped_keys(file_name, text, fmt, unmapped, given, user_dir, tmp_path):
    source = write(tmp_path / "downloads" / file_name, text)
    result = presets(user_dir, "import", str(source), *(["--from", fmt] if given else []))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"saved 'Big O' to {user_dir / 'big-o.yaml'}\n" + "".join(
        f"unmapped: {key}\n" for key in unmapped
    )
    assert load_preset("Big O", user_dir).settings == import_preset(text, fmt, "Big O")[0].settings


def test_import_says_when_llama_cpp_would_run_a_switched_on_stage_as_off(user_dir, tmp_path):
    source = write(tmp_path / "dry.json", json.dumps({"dry_multiplier": 0.8, "dry_penalty_last_n": 0}))
    result = presets(user_dir, "import", str(source))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "unmapped: dry_penalty_last_n: 0 switches DRY off in llama.cpp (dry_multiplier 0.8 has no effect)"
    ]


def test_import_needs_overwrite_to_replace_and_takes_a_name(user_dir, tmp_path):
    source = write(tmp_path / "Top-P.yaml", "top_p: 0.95\n")
    assert presets(user_dir, "import", str(source), "--name", "トップP").exit_code == 0
    again = presets(user_dir, "import", str(source), "--name", "トップp")
    assert again.exit_code == 1
    assert (
        again.output
        == f"Error: a preset named 'トップP' already exists in {user_dir}; choose overwrite to replace it\n"
    )
    replaced = presets(user_dir, "import", str(source), "--name", "トップp", "--overwrite")
    assert replaced.exit_code == 0 and replaced.stdout == f"saved 'トップp' to {user_dir / 'トップp.yaml'}\n"


def test_a_samplerlab_preset_is_imported_as_it_is(user_dir, tmp_path):
    source = write(tmp_path / "x.yaml", preset_yaml(Preset("shared", "from a friend", Settings({"top_k": 5}))))
    result = presets(user_dir, "import", str(source))
    assert result.exit_code == 0 and result.stdout == f"saved 'shared' to {user_dir / 'shared.yaml'}\n"
    assert load_preset("shared", user_dir).settings == Settings({"top_k": 5})


# -- rename and delete ---------------------------------------------------------------------------


def test_rename_moves_the_preset_to_its_new_file(user_dir):
    save_preset(Preset("draft", "kept", Settings({"top_k": 7})), user_dir)
    result = presets(user_dir, "rename", "DRAFT", "創作向け")
    assert result.exit_code == 0
    assert result.output == f"renamed 'DRAFT' to '創作向け' ({user_dir / '創作向け.yaml'})\n"
    assert sorted(p.name for p in user_dir.iterdir()) == ["創作向け.yaml"]
    assert load_preset("創作向け", user_dir) == Preset(
        "創作向け", "kept", Settings({"top_k": 7}), False, user_dir / "創作向け.yaml"
    )


def test_rename_needs_overwrite_to_replace(user_dir):
    save_preset(Preset("a", "", Settings({"top_k": 1})), user_dir)
    save_preset(Preset("b"), user_dir)
    refused = presets(user_dir, "rename", "a", "b")
    assert refused.exit_code == 1
    assert refused.output == f"Error: a preset named 'b' already exists in {user_dir}; choose overwrite to replace it\n"
    replaced = presets(user_dir, "rename", "a", "b", "--overwrite")
    assert replaced.exit_code == 0 and replaced.output == f"renamed 'a' to 'b' ({user_dir / 'b.yaml'})\n"
    assert [p.name for p in user_dir.iterdir()] == ["b.yaml"] and load_preset("b", user_dir).settings.top_k == 1


def test_delete_removes_the_file(user_dir):
    save_preset(Preset("old one"), user_dir)
    result = presets(user_dir, "delete", "Old One")
    assert result.exit_code == 0 and result.output == f"deleted 'Old One' ({user_dir / 'old-one.yaml'})\n"
    assert list(user_dir.iterdir()) == []
    with pytest.raises(PresetError, match="^unknown preset 'old one'"):
        load_preset("old one", user_dir)


@pytest.mark.parametrize(
    "args, message",
    [
        (["rename", "greedy", "mine"], "'greedy' is a built-in preset and read-only; save a copy under another name"),
        (["delete", "Mirostat 2"], "'mirostat 2' is a built-in preset and read-only; save a copy under another name"),
        (["rename", "mine", "Greedy"], "'Greedy' is the name of a built-in preset; save yours under another name"),
        (["rename", "mine", "../x"], "the preset name '../x' looks like a path; use a plain name without / or \\"),
        (["rename", "gone", "x"], f"unknown preset 'gone'; known: {KNOWN}, mine"),
        (["delete", "mne"], f"unknown preset 'mne' (did you mean 'mine'?); known: {KNOWN}, mine"),
    ],
)
def test_rename_and_delete_mistakes_are_one_error_line(args, message, user_dir):
    save_preset(Preset("mine"), user_dir)
    result = presets(user_dir, *args)
    assert result.exit_code == 1 and result.output == f"Error: {message}\n"
    assert [p.name for p in user_dir.iterdir()] == ["mine.yaml"]


# -- validate ---------------------------------------------------------------------------------


def test_validate_counts_builtin_and_user_presets(user_dir):
    save_preset(Preset("mine"), user_dir)
    result = presets(user_dir, "validate")
    assert result.exit_code == 0 and result.output == f"{len(BUILTIN_COLUMNS) + 1} presets OK\n"


def test_validate_prints_one_line_per_problem_and_exits_1(user_dir):
    bad = write(user_dir / "bad.yaml", "name: bad\ntemprature: 1\n")
    empty = write(user_dir / "empty.yml", "")
    result = presets(user_dir, "validate")
    assert result.exit_code == 1
    assert result.output == (
        f"{bad}: unknown key 'temprature' (did you mean 'temperature'?)\n"
        f"{empty}: the file is empty; expected name, schema_version and settings\n"
    )


def test_validate_given_files_and_directories(user_dir, tmp_path):
    good = write(tmp_path / "a" / "good.yaml", "name: good\ntop_k: 3\n")
    write(tmp_path / "a" / "notes.txt", "not a preset")
    assert presets(user_dir, "validate", str(good.parent)).output == "1 preset OK\n"
    bad = write(tmp_path / "b.yaml", "name: b\nschema_version: 9\n")
    result = presets(user_dir, "validate", str(good), str(bad))
    assert result.exit_code == 1
    assert result.output == f"{bad}: schema_version 9: written by a newer samplerlab; this one reads version 1\n"


# -- mistakes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["show", "min-p creativ"], f"unknown preset 'min-p creativ' (did you mean 'min-p creative'?); known: {KNOWN}"),
        (["export", "gredy", "--to", "ollama"], f"unknown preset 'gredy' (did you mean 'greedy'?); known: {KNOWN}"),
        (["show", "../../etc/passwd"], f"unknown preset '../../etc/passwd'; known: {KNOWN}"),
        (["import", "{tmp}/missing.yaml"], "{tmp}/missing.yaml: cannot read it (No such file or directory)"),
        (
            ["import", "{tmp}/hot.yaml"],
            "{tmp}/hot.yaml: text-generation-webui preset: top_p: 7.0 is out of range; expected 0 to 1",
        ),
        (["import", "{tmp}/list.yaml"], "{tmp}/list.yaml: not a preset: expected a mapping of keys to values"),
        (
            ["import", "{tmp}/hot.yaml", "--name", "../x"],
            "the preset name '../x' looks like a path; use a plain name without / or \\",
        ),
        (
            ["import", "{tmp}/list.yaml", "--from", "sillytavern"],
            "{tmp}/list.yaml: SillyTavern preset: not valid JSON (Expecting value at line 1)",
        ),
        (
            ["import", "{tmp}/good.yaml", "--name", "Greedy"],
            "'Greedy' is the name of a built-in preset; save yours under another name",
        ),
    ],
)
def test_mistakes_are_one_error_line(args, message, user_dir, tmp_path):
    write(tmp_path / "hot.yaml", "top_p: 7\n")
    write(tmp_path / "list.yaml", "- a list\n")
    write(tmp_path / "good.yaml", "top_p: 0.9\n")
    result = presets(user_dir, *(arg.format(tmp=tmp_path) for arg in args))
    assert result.exit_code == 1
    assert result.output == f"Error: {message.format(tmp=tmp_path)}\n"


def test_an_unknown_export_format_is_a_usage_error_naming_the_choices(user_dir):
    result = presets(user_dir, "export", "greedy", "--to", "olama")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--to': 'olama' is not one of "
        + ", ".join(f"'{fmt}'" for fmt in EXPORT_FORMATS)
        + "."
    )
