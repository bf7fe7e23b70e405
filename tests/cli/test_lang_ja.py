"""`samplerlab --lang ja ...` leaves no English prose: every command, its notes and its errors, on real runs.

The check (``english_words``) strips what is not prose: quoted values, names the test passed in (labels,
paths, prompts, preset descriptions, which are their authors' text), option names, identifiers (n_ctx,
tok/s, llama.cpp, r.yaml), numbers and a short list of names (samplerlab, llama-server, MiB ...), and
returns every English word left. Each command also runs in English, where the same check must find
words: so the check is shown to fail on this very output, not only to pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from samplerlab.cli.main import main
from samplerlab.cli.presets import first_sentence
from samplerlab.presets.formats import EXPORT_FORMATS
from samplerlab.presets.store import list_presets
from samplerlab.schema.params import KNOBS, NAMED_ORDERS, STAGES

# names, not prose: a tool, a unit, a format, a statistic's name, a mode
NAMES = {
    "samplerlab", "llama", "cpp", "server", "python", "tok", "mib", "gib", "kv", "rss", "utc", "id", "gguf",
    "distinct", "rep", "chat", "raw", "bradley", "terry", "holm", "llm", "smollm", "self", "bleu", "jaccard",
    "nat", "alpha",
}  # fmt: skip
NAMES |= {knob.name.lower() for knob in KNOBS} | {stage.name.lower() for stage in STAGES}
NAMES |= {name for command in main.commands.values() for name in [command.name, *getattr(command, "commands", ())]}
METAVARS = {
    "OPTIONS",
    "COMMAND",
    "ARGS",
    "PROMPT",
    "RESULT",
    "EXPERIMENT",
    "NAME",
    "FILE",
    "OLD",
    "NEW",
    "PATHS",
    "A",
    "B",
    "RUN",
}
QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
PROMPT = "LED を褒める短い詩を書いて。"


def english_words(text: str, names: Iterable[str] = ()) -> list[str]:
    """The English words of ``text`` outside quotes, ``names``, options, identifiers, numbers and NAMES."""
    for name in sorted(names, key=len, reverse=True):  # whole names only: 'x' is not the x of 'export'
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", " ", text)
    text = QUOTED.sub(" ", text)
    found = []
    for token in re.split(r"[\s,;:()\[\]{}（）「」、。・·|→←*…?!]+", text):
        if not re.search(r"[A-Za-z]", token) or token.startswith("-"):
            continue
        if re.search(r"[_=/.\\<>@%+\d]", token):  # n_ctx, tok/s, llama.cpp, r.yaml, Q4_1, 1<=x<=10000
            continue
        found += [
            part for part in token.split("-") if len(part) > 1 and part.lower() not in NAMES and part not in METAVARS
        ]
    return found


def _text_outside_columns(output: str) -> str:
    """A side-by-side table without its texts (the model's own words, between the two rule lines)."""
    lines, kept, rules = output.splitlines(), [], 0
    for line in lines:
        rules += line.lstrip().startswith("─")
        if rules != 1 or line.lstrip().startswith("─"):
            kept.append(line)
        rules = 0 if rules >= 2 and not line.lstrip().startswith("─") else rules
    return "\n".join(kept)


def _without_replies(output: str) -> str:
    """The blind test without the two replies (from '--- A' up to the closing rule of dashes)."""
    return re.sub(r"--- A -+\n.*?\n-{46}\n", "\n", output, flags=re.S)


def invoke(args: Sequence[str], input: str | None = None) -> str:
    answer = CliRunner().invoke(main, list(args), input=input, prog_name="samplerlab")
    assert answer.exception is None or isinstance(answer.exception, SystemExit), answer.output
    assert "Traceback" not in answer.output
    return answer.output


def both(
    args: Sequence[str], names: Iterable[str] = (), shown=lambda text: text, input: str | None = None, ja_args=()
) -> str:
    """Run ``args`` in Japanese and in English: none of the first's words is English, some of the second's."""
    names = list(names)
    japanese = invoke(["--lang", "ja", *args, *ja_args], input)
    english = invoke([*args, *ja_args], input)
    assert english_words(shown(japanese), names) == [], japanese
    assert english_words(shown(english), names), english  # the check finds English where there is some
    return japanese


def test_the_check_finds_english_and_ignores_names() -> None:
    assert english_words("wrote r.yaml") == ["wrote"]
    assert english_words("エラー: n_ctx 2048, tok/s 12.5, 'quoted text', --max-tokens, llama-server") == []
    assert english_words("組み込み  built-in") == ["built", "in"]
    assert english_words("greedy のシード 3", names=["greedy"]) == []


def test_knobs_and_orders() -> None:
    """`samplerlab --lang ja knobs --orders` (and `knobs --orders --lang ja`): the stage table in Japanese. Kept
    as names: Markdown code (letters, orders), the stages' labels that are names in both languages (DRY, top-k),
    the orders' names and Mirostat's."""
    names = [s.label for s in STAGES if s.label == s.label_ja] + [*NAMED_ORDERS, "Mirostat"]
    without_code = lambda text: re.sub(r"`[^`]*`", " ", text)  # noqa: E731
    japanese = both(["knobs", "--orders"], names, shown=without_code)
    assert invoke(["knobs", "--orders", "--lang", "ja"]) == japanese and "温度" in japanese


@pytest.fixture(scope="module")
def run_files(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> dict[str, Path]:
    """An experiment of two columns on two seeds, run once in Japanese (the runs' own test is below)."""
    folder = tmp_path_factory.mktemp("ja")
    experiment = folder / "e.yaml"
    experiment.write_text(
        f"prompt: {PROMPT!r}\nseeds: [0, 1]\nmax_tokens: 4\ncolumns:\n"
        "  - {label: default}\n  - {label: greedy, settings: {temperature: 0}}\n",
        encoding="utf-8",
    )
    store = folder / "runs.sqlite"
    shown = invoke(["--lang", "ja", "run", str(experiment), "--out", str(folder / "r.yaml"), "--store", str(store)])
    assert english_words(shown, ["default", "greedy", str(folder)]) == [], shown
    return {"experiment": experiment, "result": folder / "r.yaml", "store": store, "folder": folder}


def test_run_run_check_report_stats_explain(run_files: dict[str, Path]) -> None:
    folder, result = run_files["folder"], run_files["result"]
    names = ["default", "greedy", str(folder)]
    english = invoke(["run", str(run_files["experiment"]), "--out", str(folder / "en.yaml")])
    assert english_words(english, names)
    assert "列を再現しました" in both(["run", "--check", str(result)], names)
    both(["report", str(result), "--out", str(folder / "r.html")], names)
    both(["stats", str(result)], names)
    both(["explain", str(result), "default", "greedy"], names, shown=lambda text: QUOTED.sub("", text))


def test_history_and_its_export(run_files: dict[str, Path]) -> None:
    store, folder = run_files["store"], run_files["folder"]
    listing = both(["history", "--store", str(store)], ["default", "greedy", PROMPT[:30], "SmolLM2-135M-Instruct"])
    assert "完了" in listing
    run_id = listing.splitlines()[1].split()[0]
    for lang, out in (("ja", "h-ja.yaml"), ("en", "h-en.yaml")):
        shown = invoke([*(["--lang", "ja"] if lang == "ja" else []), "history", "export", run_id, "--out",
                        str(folder / out), "--store", str(store)])  # fmt: skip
        assert bool(english_words(shown, [str(folder)])) == (lang == "en"), shown


def test_compare_and_compare_across_seeds(model_path: Path) -> None:
    names = ["temperature=0", "temperature=1"]
    args = ["compare", PROMPT, "--column", "temperature=0", "--column", "temperature=1", "--max-tokens", "4"]
    both([*args, "--width", "80", "--prefix", "LED"], names, shown=_text_outside_columns)
    shown = both([*args, "--seeds", "2", "--width", "80"], names, shown=_text_outside_columns)
    assert "シード 0（2 シード中: 0, 1）" in shown


def test_presets_import_list_validate_rename_delete(tmp_path: Path) -> None:
    source = tmp_path / "tgw.yaml"
    source.write_text("temperature: 0.87\ntop_p: 0.99\nguidance_scale: 1.5\n", encoding="utf-8")
    folder = ["--presets-dir", str(tmp_path / "p")]
    names = [str(tmp_path), "tgw", "guidance_scale", "renamed"]
    japanese = invoke(["--lang", "ja", "presets", "import", str(source), *folder])
    assert english_words(japanese, names) == [] and "対応なし: guidance_scale" in japanese
    found = list_presets(tmp_path / "p")[0]
    descriptions = [first_sentence(p.describe(lang)) for p in found for lang in ("en", "ja")]
    listing = both(["presets", "list", *folder], names + descriptions + [p.name for p in found])  # their authors' words
    for preset in found:  # each in Japanese where its author wrote Japanese (description_ja)
        line = next(line for line in listing.splitlines() if line.startswith(preset.name + " "))
        assert line.endswith(first_sentence(preset.describe("ja"))), line
    assert any(p.description_ja and first_sentence(p.description) not in listing for p in found)
    both(["presets", "validate", *folder], names)
    assert english_words(invoke(["--lang", "ja", "presets", "rename", "tgw", "renamed", *folder]), names) == []
    assert english_words(invoke(["--lang", "ja", "presets", "delete", "renamed", *folder]), names) == []


def test_blind_and_votes(tmp_path: Path, model_path: Path) -> None:
    votes = tmp_path / "v.jsonl"
    args = ["blind", "--preset", "greedy", "--preset", "min-p creative", "--prompt", PROMPT, "--seeds", "1",
            "--max-tokens", "4", "--voter", "tester"]  # fmt: skip
    names = ["tester", str(tmp_path), PROMPT, "greedy", "min-p creative", "min", "creative"]
    japanese = invoke(["--lang", "ja", *args, "--out", str(votes)], input="1q")
    english = invoke([*args, "--out", str(tmp_path / "en.jsonl")], input="1q")
    assert english_words(_without_replies(japanese), names) == [], japanese
    assert english_words(_without_replies(english), names), english
    both(["votes", str(votes)], names)
    assert "件の文章を再現しました" in both(["votes", str(votes), "--check"], names)


def test_bench(model_path: Path) -> None:
    shown = both(
        ["bench", "--columns", "2", "--tokens", "4", "--repeat", "1"], ["SmolLM2-135M-Instruct", "create_completion"]
    )
    assert "ratio=" in shown


@pytest.mark.parametrize(
    "args",
    [
        ["compare"],  # a usage error of samplerlab's
        ["compare", "x", "--width", "0"],  # click's own parameter error
        ["compare", "x", "--no-such-option"],
        ["presets", "export", "greedy"],  # a missing option, with click's list of choices
        ["presets", "show", "no such preset"],  # the library's one line
        ["stats", "/no/such/result.yaml"],
        ["run"],
        ["compare", "x", "--seeds", "many"],
        # the root group's own options, refused while parsing, before any context holds the language
        ["--port", "abc"],
        ["--lang", "fr"],  # a bad --lang after `--lang ja`
        ["--nope"],  # with click's "Did you mean one of"
        ["--share-writes", "everything"],
        ["--experiments-dir", "/no/such/dir"],
        ["--experiments-dir", __file__],  # a file where a directory was expected
        ["--share-limits", "foo=1"],  # the group's own check, before a model loads
        ["--share-limits", "tokens=x"],
        ["--auth"],
        ["stats", "x", "--lang", "fr"],
    ],
)
def test_errors(args: list[str]) -> None:
    presets = [p.name for p in list_presets(None)[0]]
    names = ["/no/such/result.yaml", "no such preset", "x", "many", "/no/such/dir", __file__, "tokens", "columns",
             "seconds", *EXPORT_FORMATS, *presets]  # fmt: skip
    shown = both(args, names)
    assert shown.startswith(("エラー: ", "使い方: ")), shown
    assert len([line for line in shown.splitlines() if line.startswith("エラー: ")]) == 1, shown


@pytest.mark.parametrize("args", [["stats", "x", "--lang", "ja", "--nope"], ["--port", "abc", "--lang=ja"]])
def test_errors_in_the_language_given_after(args: list[str]) -> None:
    """A --lang the parser had not reached when it refused (after the option, or the command's own)."""
    shown = invoke(args)
    assert shown.splitlines()[-1].startswith("エラー: ") and english_words(shown, ["x", "abc"]) == [], shown
