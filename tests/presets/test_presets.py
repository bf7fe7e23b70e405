"""Preset files: readable, validated, safely named and atomically written; hostile input fails in one line."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from samplerlab import __version__
from samplerlab.presets.store import (
    BUILTIN_DIR,
    MAX_NAME_LENGTH,
    PRESETS_DIR_ENV,
    Preset,
    PresetError,
    check_name,
    delete_preset,
    file_stem,
    list_presets,
    load_preset,
    parse_preset_text,
    preset_yaml,
    read_preset_file,
    rename_preset,
    save_preset,
)
from samplerlab.schema.params import KNOBS, Settings

BUILTIN_FILES = sorted(BUILTIN_DIR.glob("*.yaml"))
EXPECTED_BUILTINS = {
    "llama.cpp defaults": {},
    "greedy": {"temperature": 0.0},
    "llama-cpp-python GUI guide": {
        "max_tokens": 512,
        "temperature": 0.8,
        "top_p": 0.95,
        "min_p": 0.05,
        "typical_p": 1.0,
        "repeat_penalty": 1.1,
        "top_k": 40,
        "samplers": "llama-cpp-python",
        "penalize_prompt": False,
    },
    "min-p creative": {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.1},
    "mirostat 2": {"mirostat": 2, "mirostat_tau": 5.0, "mirostat_eta": 0.1},
    "xtc + dry creative writing": {
        "temperature": 1.0,
        "min_p": 0.02,
        "xtc_probability": 0.5,
        "xtc_threshold": 0.1,
        "dry_multiplier": 0.8,
        "dry_base": 1.75,
        "dry_allowed_length": 2,
    },
    "factual low temperature": {"temperature": 0.2, "top_p": 0.9},
    "character dialogue (Japanese fine-tune write-up)": {
        "temperature": 0.1,
        "top_p": 0.9,
        "top_k": 20,
        "repeat_penalty": 1.05,
        "stop": ("\n",),
    },
}


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user preset directory, with the environment variable cleared so tests don't leak."""
    monkeypatch.delenv(PRESETS_DIR_ENV, raising=False)
    return tmp_path / "my presets"


def write(directory: Path, file_name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name
    path.write_text(text, encoding="utf-8")
    return path


# -- built-in presets -----------------------------------------------------------------------


def test_the_expected_builtins_ship(user_dir):
    presets, problems = list_presets(user_dir)
    assert problems == []
    assert {preset.name: Settings(EXPECTED_BUILTINS[preset.name]) for preset in presets} == {
        name: Settings(values) for name, values in EXPECTED_BUILTINS.items()
    }
    assert all(preset.builtin and preset.description for preset in presets)


def test_every_builtin_describes_itself_in_japanese_too(user_dir):
    """description_ja: shown in Japanese mode; an English description stays the English one, and a preset
    without a Japanese one falls back to its description."""
    for preset in list_presets(user_dir)[0]:
        assert re.search("[\u3040-\u30ff]", preset.description_ja) and preset.describe("ja") == preset.description_ja
        assert preset.describe("en") == preset.description and not re.search("[\u3040-\u30ff]", preset.description)
    saved = save_preset(Preset("only english", "Just English."), user_dir)
    assert load_preset(saved.name, user_dir).describe("ja") == "Just English."
    both = save_preset(Preset("both", "In English.", description_ja="日本語で。"), user_dir)
    assert read_preset_file(both.path).describe("ja") == "日本語で。"
    assert "description: In English.\ndescription_ja: 日本語で。\nschema_version: 1\n" in preset_yaml(both)


def without_version(text: str) -> str:
    """The file with the header's samplerlab version blanked, so a version bump doesn't fail the comparison."""
    header, _, rest = text.partition("\n")
    prefix = "# samplerlab preset (schema 1), written by samplerlab "
    assert header.startswith(prefix) and " " not in header[len(prefix) :], header
    return f"{prefix}<version>\n{rest}"


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=lambda path: path.name)
def test_builtin_files_are_canonical_and_round_trip(path, user_dir, tmp_path):
    preset = read_preset_file(path, builtin=True)
    assert path.name == f"{file_stem(preset.name)}.yaml"
    # as samplerlab would write it, except perhaps the version that wrote it
    assert without_version(path.read_text(encoding="utf-8")) == without_version(preset_yaml(preset))
    copy = write(tmp_path / "copies", path.name, preset_yaml(preset))
    assert read_preset_file(copy).settings == preset.settings
    saved = save_preset(
        Preset(f"copy of {preset.name}"[:MAX_NAME_LENGTH], preset.description, preset.settings), user_dir
    )
    assert load_preset(saved.name, user_dir).settings == preset.settings


def test_written_yaml_is_readable_with_a_japanese_name():
    settings = Settings(
        {
            "temperature": 0.7,
            "top_p": 0.9,
            "stop": ["\n", "ユーザー:"],
            "logit_bias": {15043: False, "Hello": 2.5},
            "samplers": "kt",
        }
    )
    text = preset_yaml(Preset("創作向け", "物語を書くとき\nfor stories", settings))
    assert text == (
        f"# samplerlab preset (schema 1), written by samplerlab {__version__}\n"
        "name: 創作向け\n"
        "description: |-\n"
        "  物語を書くとき\n"
        "  for stories\n"
        "schema_version: 1\n"
        "temperature: 0.7\n"
        "top_p: 0.9\n"
        "logit_bias: {15043: false, Hello: 2.5}\n"
        "samplers: [top_k, temperature]\n"
        "stop: [\"\\n\", 'ユーザー:']\n"
    )
    assert parse_preset_text(text).settings == settings


def test_floats_are_written_as_typed():
    settings = Settings({"top_p": 0.95 - 0.05 + 0.05, "min_p": 1e-05, "temperature": 0.1 + 0.2})
    text = preset_yaml(Preset("floats", "", settings))
    assert "min_p: 1.0e-05\n" in text
    assert parse_preset_text(text).settings == settings


def test_samplers_accepted_as_letters_or_names():
    letters = parse_preset_text("name: a\nschema_version: 1\nsamplers: ekt\n").settings
    names = parse_preset_text("name: a\nschema_version: 1\nsamplers: [penalties, top-k, temp]\n").settings
    assert letters == names and letters.samplers == "ekt"


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, stem",
    [
        ("創作向け", "創作向け"),
        ("Größe 2", "größe-2"),
        ("xtc + dry creative writing", "xtc-dry-creative-writing"),
        ("llama.cpp defaults", "llama-cpp-defaults"),
        ("  trimmed  ", "trimmed"),
        ("नमस्ते", "नमस्ते"),
        ("CON-test", "con-test"),
        ("..a", "a"),
    ],
)
def test_names_in_any_language_get_safe_file_names(name, stem):
    assert file_stem(check_name(name)) == stem


@pytest.mark.parametrize(
    "name, message",
    [
        ("../x", "the preset name '../x' looks like a path; use a plain name without / or \\"),
        ("a/b", "the preset name 'a/b' looks like a path; use a plain name without / or \\"),
        ("a\\b", "the preset name 'a\\\\b' looks like a path; use a plain name without / or \\"),
        ("/etc/passwd", "the preset name '/etc/passwd' looks like a path; use a plain name without / or \\"),
        ("C:\\presets\\x", "the preset name 'C:\\\\presets\\\\x' looks like a path; use a plain name without / or \\"),
        ("..", "the preset name '..' looks like a path; use a plain name without / or \\"),
        ("", "the preset name is empty"),
        ("   \t ", "the preset name is empty"),
        ("a\nb", "the preset name 'a\\nb' contains a control character (U+000A)"),
        ("a\x00b", "the preset name 'a\\x00b' contains a control character (U+0000)"),
        ("CON", "the preset name 'CON' is reserved by Windows; choose another name"),
        ("nul", "the preset name 'nul' is reserved by Windows; choose another name"),
        ("Com1", "the preset name 'Com1' is reserved by Windows; choose another name"),
        ("lpt9", "the preset name 'lpt9' is reserved by Windows; choose another name"),
        ("COM¹", "the preset name 'COM¹' is reserved by Windows; choose another name"),
        ("com²", "the preset name 'com²' is reserved by Windows; choose another name"),
        ("Com³", "the preset name 'Com³' is reserved by Windows; choose another name"),
        ("LPT¹", "the preset name 'LPT¹' is reserved by Windows; choose another name"),
        ("lpt²", "the preset name 'lpt²' is reserved by Windows; choose another name"),
        ("LPT³", "the preset name 'LPT³' is reserved by Windows; choose another name"),
        ("𝐀" * 64, "the preset name is 256 bytes long as a file name (UTF-8); the limit is 200: use fewer characters"),
        ("𝐀" * 51, "the preset name is 204 bytes long as a file name (UTF-8); the limit is 200: use fewer characters"),
        ("x" * 65, "the preset name is 65 characters long; the limit is 64"),
        ("!!!", "the preset name '!!!' needs at least one letter or digit"),
        (None, "a preset name must be text, got None"),
    ],
)
def test_bad_names_are_refused_in_one_line(name, message):
    with pytest.raises(PresetError) as error:
        check_name(name)
    assert str(error.value) == message


def test_a_name_of_exactly_64_characters_is_fine():
    assert check_name("x" * 64) == "x" * 64


@pytest.mark.parametrize("name", ["創" * 64, "𝐀" * 50, "com⁴", "COM0"])
def test_long_non_latin_names_fit_in_a_file_name(name, user_dir):
    """64 CJK characters are 192 bytes, 50 four-byte letters 200: both save (file names allow 255 bytes)."""
    saved = save_preset(Preset(name), user_dir)
    assert load_preset(name, user_dir).path == saved.path == user_dir / f"{name.lower()}.yaml"


# -- bad input ------------------------------------------------------------------------------

HEAD = "name: x\nschema_version: 1\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            HEAD + "temperature: [1, 2\n",
            "x.yaml: line 4: YAML syntax error: expected ',' or ']', but got '<stream end>'",
        ),
        ("name: x\n  bad: indent\n", "x.yaml: line 2: YAML syntax error: mapping values are not allowed here"),
        (
            HEAD + "\ttemperature: 1\n",
            "x.yaml: line 3: YAML syntax error: found character '\\t' that cannot start any token",
        ),
        ("- a\n- b\n", "x.yaml: expected a mapping of keys to values, got list"),
        ("just text\n", "x.yaml: expected a mapping of keys to values, got str"),
        ("", "x.yaml: the file is empty; expected name, schema_version and settings"),
        ("# only a comment\n", "x.yaml: the file is empty; expected name, schema_version and settings"),
        (HEAD + "temprature: 0.5\n", "x.yaml: unknown key 'temprature' (did you mean 'temperature'?)"),
        (HEAD + "descripton: hi\n", "x.yaml: unknown key 'descripton' (did you mean 'description'?)"),
        (HEAD + "3: 0.5\n", "x.yaml: unknown key 3"),
        (HEAD + "top_k: many\n", "x.yaml: top_k: expected a number, got 'many'"),
        (HEAD + "top_k: 2.5\n", "x.yaml: top_k: expected a whole number, got 2.5"),
        (HEAD + "stop: 3\n", "x.yaml: stop: expected a list of strings, got 3"),
        (HEAD + "temperature: 2024-01-01\n", "x.yaml: temperature: expected a number, got datetime.date(2024, 1, 1)"),
        (HEAD + "top_p: 1.5\n", "x.yaml: top_p: 1.5 is out of range; expected 0 to 1"),
        (HEAD + "top_k: -1\n", "x.yaml: top_k: -1 is out of range; expected 0 to 1000000"),
        (
            HEAD + "logit_bias: {5: 200}\n",
            "x.yaml: logit_bias: bias for 5 must be a number from -100 to 100 or false (ban), got 200",
        ),
        (
            HEAD + "samplers: kz\n",
            "x.yaml: samplers: unknown sampler letter 'z'; known: e=penalties d=dry "
            "s=top_n_sigma k=top_k f=tail_free y=typ_p p=top_p m=min_p x=xtc t=temperature a=adaptive_p",
        ),
        (HEAD + "temperature: .nan\n", "x.yaml: temperature: expected a finite number, got nan"),
        (HEAD + "temperature: .inf\n", "x.yaml: temperature: expected a finite number, got inf"),
        (HEAD + "top_p: -.inf\n", "x.yaml: top_p: expected a finite number, got -inf"),
        (
            HEAD + "logit_bias: {5: .nan}\n",
            "x.yaml: logit_bias: bias for 5 must be a number from -100 to 100 or false (ban), got nan",
        ),
        (
            HEAD + "temperature: !!python/object/apply:os.system ['echo hi']\n",
            "x.yaml: line 3: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'; presets hold plain values only",
        ),
        (
            "!!python/name:os.system\n",
            "x.yaml: line 1: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/name:os.system'; presets hold plain values only",
        ),
        (HEAD + "stop: [[a]]\n", "x.yaml: stop: expected a plain value, a list or a mapping, got nested data"),
        (HEAD + "name: y\n", "x.yaml: line 3: duplicate key 'name'"),
        ("schema_version: 1\n", "x.yaml: missing name; add 'name: my preset'"),
        ("name: ''\nschema_version: 1\n", "x.yaml: missing name; add 'name: my preset'"),
        ("name: 42\nschema_version: 1\n", "x.yaml: name: a preset name must be text, got 42"),
        (
            "name: ../x\nschema_version: 1\n",
            "x.yaml: name: the preset name '../x' looks like a path; use a plain name without / or \\",
        ),
        ("name: x\ndescription: [1]\nschema_version: 1\n", "x.yaml: description: expected text, got [1]"),
        ("name: x\ndescription_ja: 5\nschema_version: 1\n", "x.yaml: description_ja: expected text, got 5"),
        (
            "name: x\nschema_version: 2\n",
            "x.yaml: schema_version 2: written by a newer samplerlab; this one reads version 1",
        ),
        ("name: x\nschema_version: '1'\n", "x.yaml: schema_version: expected 1, got '1'"),
        ("name: x\nschema_version: 1.0\n", "x.yaml: schema_version: expected 1, got 1.0"),
        ("name: x\nschema_version: true\n", "x.yaml: schema_version: expected 1, got True"),
        ("name: x\nschema_version: 0\n", "x.yaml: schema_version: expected 1, got 0"),
    ],
)
def test_bad_input_gets_one_line_naming_file_and_key(text, message):
    with pytest.raises(PresetError) as error:
        parse_preset_text(text, "x.yaml")
    assert str(error.value) == message


def test_enormous_files_are_refused_before_parsing(tmp_path):
    text = HEAD + "description: " + "a" * 70_000 + "\n"
    message = "the file is larger than 64 KiB; a preset is a few lines"
    with pytest.raises(PresetError, match=f"^x.yaml: {message}$"):
        parse_preset_text(text, "x.yaml")
    path = write(tmp_path, "big.yaml", text)
    with pytest.raises(PresetError, match=f"big.yaml: {message}$"):
        read_preset_file(path)


def test_non_utf8_files_are_refused(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(HEAD.encode() + "description: café\n".encode("latin-1"))
    with pytest.raises(PresetError, match=r"latin1.yaml: not UTF-8 text \(byte 42\)$"):
        read_preset_file(path)


def test_huge_values_give_short_messages():
    with pytest.raises(PresetError) as error:
        parse_preset_text(HEAD + "temperature: " + "x" * 50_000 + "\n", "x.yaml")
    assert len(str(error.value)) <= 300 and str(error.value).startswith("x.yaml: temperature: expected a number")


BOMB = "a: &a [x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    "text",
    [
        HEAD + BOMB,
        "name: &n x\nschema_version: 1\ndescription: *n\n",
        "x: &a [1]\nname: *a\nschema_version: 1\n",
        HEAD + "stop: &a [x]\ndry_sequence_breakers: *a\n",
    ],
)
def test_aliases_are_refused_before_they_expand(text):
    """Nested aliases turn a few hundred bytes into gigabytes; a preset never needs one."""
    with pytest.raises(
        PresetError, match=r"^x.yaml: line \d+: anchors and aliases \(&name, \*name\) are not allowed here$"
    ):
        parse_preset_text(text, "x.yaml")


@given(st.text(max_size=300))
@hypothesis_settings(max_examples=300, deadline=None)
def test_random_text_gives_a_preset_or_a_preset_error(text):
    try:
        assert isinstance(parse_preset_text(text), Preset)
    except PresetError as error:
        assert "\n" not in str(error)


YAML_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(), st.text(max_size=20))
YAML_VALUES = st.recursive(
    YAML_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), children, max_size=4),
    ),
    max_leaves=12,
)
KNOB_NAMES = [knob.name for knob in KNOBS]
DOCUMENTS = st.dictionaries(
    st.one_of(
        st.sampled_from(KNOB_NAMES + ["name", "schema_version", "description", "description_ja"]), st.text(max_size=10)
    ),
    YAML_VALUES,
    max_size=8,
)


@given(DOCUMENTS, st.booleans())
@hypothesis_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_documents_give_a_preset_or_a_preset_error(document, with_header):
    if with_header:
        document = {"name": "random", "schema_version": 1, **document}
    try:
        preset = parse_preset_text(yaml.safe_dump(document, allow_unicode=True))
    except PresetError as error:
        assert "\n" not in str(error)
    else:
        assert parse_preset_text(preset_yaml(preset)).settings == preset.settings


# -- the store ------------------------------------------------------------------------------


def test_one_bad_file_does_not_hide_the_good_ones(user_dir):
    write(user_dir, "good.yaml", "name: good one\nschema_version: 1\ntop_k: 5\n")
    write(user_dir, "bad.yaml", "name: bad\nschema_version: 1\ntop_k: lots\n")
    write(user_dir, "notes.txt", "not a preset")
    presets, problems = list_presets(user_dir)
    assert [p.name for p in presets if not p.builtin] == ["good one"]
    assert [p.builtin for p in presets] == [True] * len(EXPECTED_BUILTINS) + [False]
    assert problems == [f"{user_dir / 'bad.yaml'}: top_k: expected a number, got 'lots'"]


def test_an_unreadable_user_directory_is_one_problem_and_hides_no_builtin(user_dir, monkeypatch):
    save_preset(Preset("mine"), user_dir)
    real_iterdir = Path.iterdir

    def iterdir(self):
        if self == user_dir:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)  # tests run as root here, so chmod would not do
    presets, problems = list_presets(user_dir)
    assert [p.name for p in presets] == [p.name for p in list_presets(user_dir / "none")[0]]
    assert len(presets) == len(EXPECTED_BUILTINS)
    assert problems == [f"{user_dir}: cannot read the directory (Permission denied)"]


def test_hand_placed_presets_cannot_shadow_builtins_or_each_other(user_dir):
    write(user_dir, "mine.yaml", "name: Greedy\nschema_version: 1\n")
    write(user_dir, "a.yaml", "name: twin\nschema_version: 1\n")
    write(user_dir, "b.yaml", "name: TWIN\nschema_version: 1\n")
    presets, problems = list_presets(user_dir)
    assert [p.name for p in presets if not p.builtin] == ["twin"]
    assert problems == [
        f"{user_dir / 'b.yaml'}: the name 'TWIN' is already used by {user_dir / 'a.yaml'}; rename this one",
        f"{user_dir / 'mine.yaml'}: the name 'Greedy' is already used by a built-in preset; rename this one",
    ]


def test_load_by_name_case_or_file_name_and_suggest_on_typos(user_dir):
    assert load_preset("greedy", user_dir).settings.temperature == 0.0
    assert load_preset("MIROSTAT 2", user_dir).name == "mirostat 2"
    assert load_preset("xtc-dry-creative-writing", user_dir).name == "xtc + dry creative writing"
    with pytest.raises(PresetError, match=r"^unknown preset 'gredy' \(did you mean 'greedy'\?\); known: character"):
        load_preset("gredy", user_dir)


def test_loading_a_broken_preset_reports_its_own_problem(user_dir):
    write(user_dir, "broken.yaml", "name: broken\nschema_version: 1\ntop_p: 2\n")
    with pytest.raises(PresetError, match=r"broken.yaml: top_p: 2.0 is out of range; expected 0 to 1$"):
        load_preset("broken", user_dir)


def test_user_directory_from_argument_env_or_cwd(tmp_path, monkeypatch):
    monkeypatch.setenv(PRESETS_DIR_ENV, str(tmp_path / "from env"))
    assert save_preset(Preset("env one"), None).path == tmp_path / "from env" / "env-one.yaml"
    assert save_preset(Preset("arg one"), tmp_path / "arg").path == tmp_path / "arg" / "arg-one.yaml"
    monkeypatch.delenv(PRESETS_DIR_ENV)
    monkeypatch.chdir(tmp_path)
    assert save_preset(Preset("cwd one")).path == tmp_path / "presets" / "cwd-one.yaml"
    assert load_preset("cwd one").settings == Settings()


def test_the_builtin_directory_as_user_directory_is_read_only(monkeypatch):
    monkeypatch.chdir(BUILTIN_DIR.parent)  # ./presets is the built-in directory here
    presets, problems = list_presets()
    assert len(presets) == len(EXPECTED_BUILTINS) and all(p.builtin for p in presets) and problems == []
    with pytest.raises(PresetError, match="holds the built-in presets, which are read-only"):
        save_preset(Preset("new one"))


def test_save_needs_overwrite_to_replace(user_dir):
    save_preset(Preset("mine", "first", Settings({"top_k": 1})), user_dir)
    with pytest.raises(
        PresetError, match="^a preset named 'mine' already exists in .*; choose overwrite to replace it$"
    ):
        save_preset(Preset("Mine", "second"), user_dir)
    saved = save_preset(Preset("Mine", "second", Settings({"top_k": 2})), user_dir, overwrite=True)
    assert saved.path == user_dir / "mine.yaml"
    assert load_preset("mine", user_dir) == Preset("Mine", "second", Settings({"top_k": 2}), False, saved.path)
    assert sorted(p.name for p in user_dir.iterdir()) == ["mine.yaml"]


def test_builtin_names_and_builtins_are_read_only(user_dir):
    with pytest.raises(PresetError, match="^'GREEDY' is the name of a built-in preset; save yours under another name$"):
        save_preset(Preset("GREEDY"), user_dir)
    for action in (lambda: delete_preset("greedy", user_dir), lambda: rename_preset("greedy", "mine", user_dir)):
        with pytest.raises(PresetError, match="^'greedy' is a built-in preset and read-only"):
            action()


def test_names_sharing_a_file_name_are_refused(user_dir):
    save_preset(Preset("a b"), user_dir)
    with pytest.raises(PresetError, match="^the name 'a-b' would use the file a-b.yaml, which holds preset 'a b'"):
        save_preset(Preset("a-b"), user_dir, overwrite=True)


def test_rename_and_delete(user_dir):
    save_preset(Preset("old", "kept", Settings({"top_k": 7})), user_dir)
    save_preset(Preset("other"), user_dir)
    renamed = rename_preset("old", "新しい", user_dir)
    assert renamed.path == user_dir / "新しい.yaml" and not (user_dir / "old.yaml").exists()
    assert load_preset("新しい", user_dir).settings.top_k == 7
    with pytest.raises(PresetError, match="already exists"):
        rename_preset("新しい", "other", user_dir)
    assert rename_preset("新しい", "other", user_dir, overwrite=True).settings.top_k == 7
    assert rename_preset("other", "a other", user_dir).path == user_dir / "a-other.yaml"
    assert rename_preset("a other", "a-other", user_dir).path == user_dir / "a-other.yaml"  # same file
    assert delete_preset("A-OTHER", user_dir) == user_dir / "a-other.yaml"
    assert list(user_dir.iterdir()) == []
    with pytest.raises(PresetError, match="^unknown preset 'gone'"):
        delete_preset("gone", user_dir)


def test_a_broken_file_is_replaced_only_with_overwrite(user_dir):
    write(user_dir, "fix-me.yaml", "name: fix me\nschema_version: 1\ntop_k: [\n")
    with pytest.raises(PresetError, match="fix-me.yaml exists but is not a valid preset; choose overwrite"):
        save_preset(Preset("fix me"), user_dir)
    assert save_preset(Preset("fix me"), user_dir, overwrite=True).settings == Settings()


# -- atomic writes --------------------------------------------------------------------------


def fail_half_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """Disk full after a few bytes: the first os.write writes part of its data, the next one fails."""
    real_write = os.write
    calls = []

    def write_then_fail(descriptor: int, data) -> int:
        calls.append(descriptor)
        if len(calls) == 1:
            return real_write(descriptor, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", write_then_fail)


def test_a_failed_write_keeps_the_old_preset_and_leaves_no_temp_files(user_dir, monkeypatch):
    saved = save_preset(Preset("precious", "the original", Settings({"top_k": 3})), user_dir)
    before = saved.path.read_bytes()
    fail_half_way(monkeypatch)
    with pytest.raises(
        PresetError, match=r"^could not save preset 'precious' to .*precious.yaml: No space left on device$"
    ):
        save_preset(Preset("precious", "the replacement", Settings({"top_k": 99})), user_dir, overwrite=True)
    assert saved.path.read_bytes() == before
    assert [p.name for p in user_dir.iterdir()] == ["precious.yaml"]


def test_a_failed_first_save_leaves_nothing(user_dir, monkeypatch):
    user_dir.mkdir()
    fail_half_way(monkeypatch)
    with pytest.raises(PresetError, match="No space left on device"):
        save_preset(Preset("new"), user_dir)
    assert list(user_dir.iterdir()) == []


def test_a_failed_rename_loses_nothing(user_dir, monkeypatch):
    save_preset(Preset("keep me", "", Settings({"top_k": 3})), user_dir)
    fail_half_way(monkeypatch)
    with pytest.raises(PresetError, match="No space left on device"):
        rename_preset("keep me", "new name", user_dir)
    assert [p.name for p in user_dir.iterdir()] == ["keep-me.yaml"]
    assert load_preset("keep me", user_dir).settings.top_k == 3


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_new_preset_gets_the_usual_mode_not_a_temp_files(umask, mode, user_dir):
    previous = os.umask(umask)
    try:
        saved = save_preset(Preset("shared"), user_dir)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(saved.path.stat().st_mode) == mode


def test_replacing_a_preset_keeps_its_mode(user_dir):
    saved = save_preset(Preset("kept", "", Settings({"top_k": 1})), user_dir)
    saved.path.chmod(0o664)
    save_preset(Preset("kept", "", Settings({"top_k": 2})), user_dir, overwrite=True)
    assert stat.S_IMODE(saved.path.stat().st_mode) == 0o664
    assert load_preset("kept", user_dir).settings.top_k == 2


def test_the_directory_is_synced_after_the_rename(user_dir, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append("directory" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    save_preset(Preset("durable"), user_dir)
    assert synced == ["file", "directory"]


def test_a_directory_that_cannot_be_synced_still_saves(user_dir, monkeypatch):
    """Some platforms and file systems refuse to fsync (or open) a directory; the file is safe anyway."""
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    saved = save_preset(Preset("still here", "", Settings({"top_k": 4})), user_dir)
    assert load_preset("still here", user_dir).settings.top_k == 4
    assert [p.name for p in user_dir.iterdir()] == [saved.path.name]
