"""The parameter schema: every sampling knob, declared once.

Sliders, validation, presets, experiments, exporters and the docs are all
derived from ``KNOBS`` and ``STAGES``; no other module lists parameter names.
Defaults are llama.cpp's (``common/common.h``), not its README's.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

KnobKind = Literal["float", "int", "bool", "choice", "strings", "bias", "order", "seed"]


class SettingsError(ValueError):
    """A setting that cannot be used; the message is one line meant for a person."""


@dataclass(frozen=True)
class Stage:
    """One stage of the sampler chain, named as llama.cpp names it."""

    name: str
    letter: str
    label: str
    label_ja: str  # the label in Japanese (docs.order_table, `samplerlab --lang ja knobs --orders`)

    def label_in(self, lang: str) -> str:
        return self.label_ja if lang == "ja" else self.label


STAGES: tuple[Stage, ...] = (
    Stage("penalties", "e", "repetition penalties", "繰り返しペナルティ"),
    Stage("dry", "d", "DRY", "DRY"),
    Stage("top_n_sigma", "s", "top-nσ", "top-nσ"),
    Stage("top_k", "k", "top-k", "top-k"),
    Stage("tail_free", "f", "tail-free", "テールフリー"),
    Stage("typ_p", "y", "typical-p", "局所典型"),
    Stage("top_p", "p", "top-p", "top-p"),
    Stage("min_p", "m", "min-p", "min-p"),
    Stage("xtc", "x", "XTC", "XTC"),
    Stage("temperature", "t", "temperature", "温度"),
    Stage("adaptive_p", "a", "adaptive-p", "adaptive-p"),
)
STAGE_BY_NAME = {stage.name: stage for stage in STAGES}
STAGE_BY_LETTER = {stage.letter: stage for stage in STAGES}
# Spellings llama.cpp also accepts for stage names (common_sampler_types_from_names).
STAGE_ALIASES = {
    **{s.name.replace("_", "-"): s.name for s in STAGES if "_" in s.name},
    **{s.name.replace("_", ""): s.name for s in STAGES if "_" in s.name},
    "nucleus": "top_p",
    "temp": "temperature",
    "typ": "typ_p",
    "typical_p": "typ_p",
    "typical": "typ_p",
    "tfs": "tail_free",
    "tfs_z": "tail_free",
}

# Stages that pick the token themselves, in place of `dist`: llama.cpp (common/sampling.cpp) runs them
# last wherever the order names them, so parse_order moves them to the end; Mirostat replaces them.
SELECTING_STAGES = frozenset({"adaptive_p"})

# Named sampler orders. "f" (tail-free) sits where llama.cpp had it before
# removing the sampler; with tfs_z at 1.0 it is a no-op in both.
NAMED_ORDERS: Mapping[str, str] = MappingProxyType(
    {
        "llama.cpp": "edskfypmxt",
        "llama-cpp-python": "ekfypmt",
    }
)
DEFAULT_ORDER = "llama.cpp"


@dataclass(frozen=True)
class Knob:
    """One sampling setting and everything the rest of samplerlab derives from it."""

    name: str
    kind: KnobKind
    default: Any
    group: str
    help_en: str
    help_ja: str
    neutral: Any = None  # the value that switches the knob off; None: it only tunes another knob
    minimum: float | None = None
    maximum: float | None = None
    ui_min: float | None = None
    ui_max: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()
    stage: str | None = None  # the sampler stage it belongs to
    # Settings of other knobs under which this one has an effect (used by the
    # "every knob is alive" test and by the UI's "no effect here" hints).
    companions: Mapping[str, Any] = field(default_factory=dict)
    # Knobs of which at least one must be switched on (off its neutral) for this one to matter.
    requires: tuple[str, ...] = ()
    # A value of this knob that holds its whole stage off, whatever the switches say (llama.cpp
    # builds an empty sampler when a penalty range is 0).
    stops_stage_at: Any = None
    # A value whose effect is plain to see: shown in docs and used by the test that every knob is alive.
    example: Any = None
    # llama-cli / llama-server flag; a load knob may set several flags to its value, and a bool knob's flag
    # is the "on" one (llama.cpp pairs --x with --no-x)
    llama_cli: str | tuple[str, ...] | None = None
    llama_server: str | None = None  # key of llama-server's /completion body
    # The key each other tool (SPELLING_TOOLS) uses for it; a tool missing here cannot express it.
    spellings: Mapping[str, str] = field(default_factory=dict)
    # Load knobs: changes the numbers llama.cpp computes, so another llama.cpp needs the same value to
    # write the same text (exports say so).
    decides_text: bool = False
    # Lists and mappings ("strings", "bias"): the most entries, and the most UTF-8 bytes in one string or
    # text key. Every entry is per-column setup work done under the model's lock (DRY scans the whole
    # vocabulary once per breaker), so the schema bounds them where every caller reads them.
    max_items: int | None = None
    max_bytes: int | None = None

    def slider_range(self) -> tuple[float, float]:
        low = self.ui_min if self.ui_min is not None else self.minimum
        high = self.ui_max if self.ui_max is not None else self.maximum
        assert low is not None and high is not None, f"{self.name}: a slider needs bounds"
        return float(low), float(high)


# Tools whose key names the exporters and importers use (formats.py), besides llama.cpp's own.
SPELLING_TOOLS = ("openai", "ollama", "open_webui", "llama_cpp_python", "tgw", "sillytavern")
_OPENAI_COMPATIBLE = ("ollama", "open_webui", "llama_cpp_python")  # share the OpenAI / llama.cpp names
_TEXT_UIS = ("tgw", "sillytavern")


def _spell(key: str, *tools: str, **others: str) -> Mapping[str, str]:
    """``key`` in each of ``tools``, plus the tools that spell the knob otherwise (``tool=key``)."""
    return MappingProxyType({**dict.fromkeys(tools, key), **others})


GROUPS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "truncation": ("Truncation", "候補の絞り込み"),
        "temperature": ("Temperature", "温度"),
        "penalties": ("Repetition penalties", "繰り返しペナルティ"),
        "dry": ("DRY", "DRY"),
        "xtc": ("XTC", "XTC"),
        "mirostat": ("Mirostat", "Mirostat"),
        "adaptive_p": ("Adaptive-p", "Adaptive-p"),
        "generation": ("Generation", "生成"),
        "load": ("Model loading", "モデルの読み込み"),
        "advanced": ("Advanced", "詳細"),
    }
)

_WITH_ADAPTIVE_P = NAMED_ORDERS[DEFAULT_ORDER] + STAGE_BY_NAME["adaptive_p"].letter

KNOBS: tuple[Knob, ...] = (
    Knob(
        "temperature",
        "float",
        0.8,
        "temperature",
        neutral=1.0,
        minimum=0.0,
        maximum=100.0,
        ui_max=5.0,
        step=0.05,
        stage="temperature",
        llama_cli="--temp",
        llama_server="temperature",
        example=0.5,
        spellings=_spell("temperature", *_OPENAI_COMPATIBLE, "tgw", sillytavern="temp"),
        help_en="Divides the logits: below 1 sharpens the distribution, above 1 flattens it; 0 always takes the most likely token.",
        help_ja="ロジットを割る値。1未満で分布が尖り、1超で平らになる。0は常に最も確率の高いトークンを選ぶ（貪欲法）。",
    ),
    Knob(
        "dynatemp_range",
        "float",
        0.0,
        "temperature",
        neutral=0.0,
        minimum=0.0,
        maximum=100.0,
        ui_max=2.0,
        step=0.05,
        stage="temperature",
        llama_cli="--dynatemp-range",
        llama_server="dynatemp_range",
        example=0.5,
        help_en="Dynamic temperature: the temperature moves within temperature ± range, higher when the model is unsure.",
        help_ja="動的温度。温度を「温度±この幅」の中で動かし、モデルが迷っている（エントロピーが高い）ほど高くする。",
    ),
    Knob(
        "dynatemp_exponent",
        "float",
        1.0,
        "temperature",
        minimum=0.0,
        maximum=100.0,
        ui_max=5.0,
        step=0.05,
        stage="temperature",
        companions={"dynatemp_range": 0.7},
        llama_cli="--dynatemp-exp",
        llama_server="dynatemp_exponent",
        example=3.0,
        requires=("dynatemp_range",),
        spellings=_spell("dynatemp_exponent", *_TEXT_UIS),
        help_en="How uncertainty maps to dynamic temperature: above 1 keeps it low until the model is very unsure.",
        help_ja="不確かさを動的温度に対応させる曲線の指数。1超ではかなり迷うまで温度を低く保つ。",
    ),
    Knob(
        "top_k",
        "int",
        40,
        "truncation",
        neutral=0,
        minimum=0,
        maximum=1_000_000,
        ui_max=200,
        step=1,
        stage="top_k",
        llama_cli="--top-k",
        llama_server="top_k",
        example=5,
        spellings=_spell("top_k", *_OPENAI_COMPATIBLE, *_TEXT_UIS),
        help_en="Keeps only the k most likely tokens; 0 keeps them all.",
        help_ja="確率の高い上位k個のトークンだけを残す。0で無効（全候補を残す）。",
    ),
    Knob(
        "top_p",
        "float",
        0.95,
        "truncation",
        neutral=1.0,
        minimum=0.0,
        maximum=1.0,
        step=0.01,
        stage="top_p",
        llama_cli="--top-p",
        llama_server="top_p",
        example=0.5,
        spellings=_spell("top_p", *_OPENAI_COMPATIBLE, *_TEXT_UIS),
        help_en="Keeps the smallest set of most likely tokens whose probabilities add up to p; 1 keeps all.",
        help_ja="確率の高い順に足して合計がpに達するまでの最小の候補集合だけを残す（nucleus sampling）。1で無効。",
    ),
    Knob(
        "min_p",
        "float",
        0.05,
        "truncation",
        neutral=0.0,
        minimum=0.0,
        maximum=1.0,
        step=0.01,
        stage="min_p",
        llama_cli="--min-p",
        llama_server="min_p",
        example=0.2,
        spellings=_spell("min_p", *_OPENAI_COMPATIBLE, *_TEXT_UIS),
        help_en="Drops tokens less likely than min_p times the most likely token's probability; 0 keeps all.",
        help_ja="最も確率の高いトークンの確率×min_p より低いトークンを捨てる。0で無効。",
    ),
    Knob(
        "typical_p",
        "float",
        1.0,
        "truncation",
        neutral=1.0,
        minimum=0.0,
        maximum=1.0,
        step=0.01,
        stage="typ_p",
        llama_cli="--typical",
        llama_server="typical_p",
        example=0.5,
        spellings=_spell("typical_p", "ollama", "llama_cpp_python", *_TEXT_UIS),
        help_en="Locally typical sampling: keeps tokens whose surprise is close to the average; 1 keeps all.",
        help_ja="局所典型サンプリング。「驚き」の大きさが平均に近いトークンを残す。1で無効。",
    ),
    Knob(
        "tfs_z",
        "float",
        1.0,
        "truncation",
        neutral=1.0,
        minimum=0.0,
        maximum=1.0,
        step=0.01,
        stage="tail_free",
        example=0.5,
        spellings=_spell("tfs", *_TEXT_UIS),
        help_en="Tail-free sampling: cuts the flat tail of the sorted distribution; 1 keeps all. llama.cpp removed it; "
        "samplerlab runs a port of its last code.",
        help_ja="テールフリーサンプリング。並べた確率分布の平らな裾を切る。1で無効。llama.cppからは削除済みのため、"
        "samplerlab がその最後のコードを移植して動かす。",
    ),
    Knob(
        "top_n_sigma",
        "float",
        -1.0,
        "truncation",
        neutral=-1.0,
        minimum=-1.0,
        maximum=100.0,
        ui_max=5.0,
        step=0.1,
        stage="top_n_sigma",
        llama_cli="--top-nsigma",
        llama_server="top_n_sigma",
        example=1.0,
        spellings=_spell("top_n_sigma", "tgw", sillytavern="nsigma"),
        help_en="Keeps tokens whose logit is within n standard deviations of the best one; -1 switches it off.",
        help_ja="最大ロジットから標準偏差のn倍以内にあるトークンだけを残す。-1で無効。",
    ),
    Knob(
        "xtc_probability",
        "float",
        0.0,
        "xtc",
        neutral=0.0,
        minimum=0.0,
        maximum=1.0,
        step=0.01,
        stage="xtc",
        llama_cli="--xtc-probability",
        llama_server="xtc_probability",
        example=1.0,
        spellings=_spell("xtc_probability", *_TEXT_UIS),
        help_en="XTC: with this chance per token, removes the most likely tokens above the threshold except the least likely of them.",
        help_ja="XTC。この確率で、しきい値を超える上位トークンのうち最も確率の低いもの以外を取り除き、ありきたりな選択を避ける。",
    ),
    Knob(
        "xtc_threshold",
        "float",
        0.1,
        "xtc",
        minimum=0.0,
        maximum=1.0,
        step=0.01,
        stage="xtc",
        companions={"xtc_probability": 1.0},
        llama_cli="--xtc-threshold",
        llama_server="xtc_threshold",
        example=0.05,
        requires=("xtc_probability",),
        spellings=_spell("xtc_threshold", *_TEXT_UIS),
        help_en="XTC: tokens at least this likely count as 'top choices'; above 0.5 XTC does nothing.",
        help_ja="XTC。この確率以上のトークンを「上位の選択肢」とみなす。0.5を超えるとXTCは何もしない。",
    ),
    Knob(
        "mirostat",
        "choice",
        0,
        "mirostat",
        neutral=0,
        choices=(0, 1, 2),
        llama_cli="--mirostat",
        llama_server="mirostat",
        example=2,
        spellings=_spell("mirostat_mode", "llama_cpp_python", *_TEXT_UIS, open_webui="mirostat"),
        help_en="Mirostat 1 or 2 steers the surprise of each token towards tau and replaces the truncation stages "
        "(top-k, top-p, min-p ...); 0 is off. llama.cpp keeps only temperature before it, llama-cpp-python "
        "only the repetition penalties.",
        help_ja="Mirostat（1または2）は各トークンの「驚き」をtauに近づけるよう制御し、top-k・top-p・min-pなどの絞り込みを"
        "置き換える。0で無効。llama.cppでは前に温度だけ、llama-cpp-pythonでは繰り返しペナルティだけが残る。",
    ),
    Knob(
        "mirostat_tau",
        "float",
        5.0,
        "mirostat",
        minimum=0.0,
        maximum=100.0,
        ui_max=10.0,
        step=0.1,
        companions={"mirostat": 2},
        llama_cli="--mirostat-ent",
        llama_server="mirostat_tau",
        example=2.0,
        requires=("mirostat",),
        spellings=_spell("mirostat_tau", "open_webui", "llama_cpp_python", *_TEXT_UIS),
        help_en="Mirostat's target surprise (entropy): higher gives more varied, less predictable text.",
        help_ja="Mirostatの目標とする驚き（エントロピー）。高いほど多様で予測しにくい文章になる。",
    ),
    Knob(
        "mirostat_eta",
        "float",
        0.1,
        "mirostat",
        minimum=0.0,
        maximum=1.0,
        step=0.01,
        companions={"mirostat": 2},
        llama_cli="--mirostat-lr",
        llama_server="mirostat_eta",
        example=0.5,
        requires=("mirostat",),
        spellings=_spell("mirostat_eta", "open_webui", "llama_cpp_python", *_TEXT_UIS),
        help_en="Mirostat's learning rate: how fast it corrects towards tau.",
        help_ja="Mirostatの学習率。目標tauへどれだけ速く補正するか。",
    ),
    Knob(
        "adaptive_target",
        "float",
        -1.0,
        "adaptive_p",
        neutral=-1.0,
        minimum=-1.0,
        maximum=1.0,
        step=0.01,
        stage="adaptive_p",
        companions={"samplers": _WITH_ADAPTIVE_P},
        llama_cli="--adaptive-target",
        llama_server="adaptive_target",
        example=0.3,
        spellings=_spell("adaptive_target", *_TEXT_UIS),
        help_en="Adaptive-p: prefers tokens near this probability and steers the average probability of the "
        "chosen tokens towards it (lower is more surprising); runs only with a in the order, "
        "picking the token last; negative is off.",
        help_ja="Adaptive-p。確率がこの値に近いトークンを選びやすくし、選ばれたトークンの確率の平均をこの値へ"
        "近づける（低いほど意外な語が出る）。順序に a があるときだけ、最後にトークンを選ぶ。負の値で無効。",
    ),
    Knob(
        "adaptive_decay",
        "float",
        0.9,
        "adaptive_p",
        minimum=0.0,
        maximum=0.99,
        step=0.01,
        stage="adaptive_p",
        companions={"samplers": _WITH_ADAPTIVE_P, "adaptive_target": 0.3},
        llama_cli="--adaptive-decay",
        llama_server="adaptive_decay",
        example=0.5,
        requires=("adaptive_target",),
        spellings=_spell("adaptive_decay", *_TEXT_UIS),
        help_en="Adaptive-p: how long it remembers the chosen tokens' probabilities (about 1/(1 - decay) tokens); "
        "lower reacts faster, higher is steadier.",
        help_ja="Adaptive-p。選ばれたトークンの確率をどれだけ長く覚えておくか（およそ 1/(1 - decay) トークン分）。"
        "低いほど素早く反応し、高いほど安定する。",
    ),
    Knob(
        "repeat_penalty",
        "float",
        1.0,
        "penalties",
        neutral=1.0,
        minimum=0.0,
        maximum=10.0,
        ui_max=2.0,
        step=0.01,
        stage="penalties",
        llama_cli="--repeat-penalty",
        llama_server="repeat_penalty",
        example=1.5,
        spellings=_spell("repeat_penalty", *_OPENAI_COMPATIBLE, tgw="repetition_penalty", sillytavern="rep_pen"),
        help_en="Divides the logits of tokens seen in the last n tokens (multiplies negative ones); 1 is off.",
        help_ja="直近n個に出たトークンのロジットを割る（負なら掛ける）乗算型のペナルティ。1で無効。",
    ),
    Knob(
        "repeat_last_n",
        "int",
        64,
        "penalties",
        minimum=-1,
        maximum=1_000_000,
        ui_max=1024,
        step=1,
        stage="penalties",
        companions={"repeat_penalty": 1.5},
        llama_cli="--repeat-last-n",
        llama_server="repeat_last_n",
        example=4,
        requires=("repeat_penalty", "frequency_penalty", "presence_penalty"),
        stops_stage_at=0,
        spellings=_spell(
            "repeat_last_n",
            "ollama",
            "open_webui",
            llama_cpp_python="last_n_tokens_size",
            tgw="repetition_penalty_range",
            sillytavern="rep_pen_range",
        ),
        help_en="How many recent tokens the repetition penalties look at; 0 disables them, -1 means the whole context.",
        help_ja="繰り返しペナルティが見る直近のトークン数。0で無効、-1で文脈全体。",
    ),
    Knob(
        "frequency_penalty",
        "float",
        0.0,
        "penalties",
        neutral=0.0,
        minimum=-2.0,
        maximum=2.0,
        step=0.05,
        stage="penalties",
        llama_cli="--frequency-penalty",
        llama_server="frequency_penalty",
        example=1.0,
        spellings=_spell("frequency_penalty", *_OPENAI_COMPATIBLE, "tgw", sillytavern="freq_pen"),
        help_en="Subtracts this times the number of times a token already appeared: grows with every repeat.",
        help_ja="トークンが既に出た回数×この値をロジットから引く。繰り返すたびに重くなる。",
    ),
    Knob(
        "presence_penalty",
        "float",
        0.0,
        "penalties",
        neutral=0.0,
        minimum=-2.0,
        maximum=2.0,
        step=0.05,
        stage="penalties",
        llama_cli="--presence-penalty",
        llama_server="presence_penalty",
        example=1.0,
        spellings=_spell("presence_penalty", *_OPENAI_COMPATIBLE, "tgw", sillytavern="presence_pen"),
        help_en="Subtracts this once from every token that already appeared, however often.",
        help_ja="既に出たトークンのロジットから、回数に関係なく一度だけこの値を引く。",
    ),
    Knob(
        "penalize_prompt",
        "bool",
        True,
        "penalties",
        stage="penalties",
        companions={"repeat_penalty": 1.5},
        example=False,
        requires=("repeat_penalty", "frequency_penalty", "presence_penalty", "dry_multiplier"),
        help_en="Repetition penalties and DRY also count the prompt's tokens, as llama-server does; "
        "llama-cpp-python counts only generated tokens.",
        help_ja="繰り返しペナルティとDRYがプロンプトのトークンも数に入れる（llama-serverと同じ）。"
        "llama-cpp-pythonは生成したトークンだけを数える。",
    ),
    Knob(
        "dry_multiplier",
        "float",
        0.0,
        "dry",
        neutral=0.0,
        minimum=0.0,
        maximum=100.0,
        ui_max=5.0,
        step=0.05,
        stage="dry",
        llama_cli="--dry-multiplier",
        llama_server="dry_multiplier",
        example=2.0,
        spellings=_spell("dry_multiplier", *_TEXT_UIS),
        help_en="DRY: penalises tokens that would continue a sequence already in the text; 0 is off.",
        help_ja="DRY。文中に既にある並びをそのまま続けてしまうトークンを罰する。0で無効。",
    ),
    Knob(
        "dry_base",
        "float",
        1.75,
        "dry",
        minimum=1.0,
        maximum=100.0,
        ui_max=4.0,
        step=0.05,
        stage="dry",
        companions={"dry_multiplier": 0.8},
        llama_cli="--dry-base",
        llama_server="dry_base",
        example=3.0,
        requires=("dry_multiplier",),
        spellings=_spell("dry_base", *_TEXT_UIS),
        help_en="DRY: how fast the penalty grows with the length of the repeated sequence.",
        help_ja="DRY。繰り返された並びが長くなるにつれてペナルティが増える速さ（指数の底）。",
    ),
    Knob(
        "dry_allowed_length",
        "int",
        2,
        "dry",
        minimum=0,
        maximum=1000,
        ui_max=20,
        step=1,
        stage="dry",
        companions={"dry_multiplier": 0.8},
        llama_cli="--dry-allowed-length",
        llama_server="dry_allowed_length",
        example=4,
        requires=("dry_multiplier",),
        spellings=_spell("dry_allowed_length", *_TEXT_UIS),
        help_en="DRY: repeated sequences up to this many tokens go unpunished.",
        help_ja="DRY。この長さまでの繰り返しはペナルティなしで許す。",
    ),
    Knob(
        "dry_penalty_last_n",
        "int",
        64,
        "dry",
        minimum=-1,
        maximum=1_000_000,
        ui_max=1024,
        step=1,
        stage="dry",
        companions={"dry_multiplier": 0.8},
        llama_cli="--dry-penalty-last-n",
        llama_server="dry_penalty_last_n",
        example=4,
        requires=("dry_multiplier",),
        stops_stage_at=0,
        spellings=_spell("dry_penalty_last_n", "sillytavern"),
        help_en="DRY: how many recent tokens it searches for repeats; 0 disables it, -1 means the whole context.",
        help_ja="DRY。繰り返しを探す直近のトークン数。0で無効、-1で文脈全体。",
    ),
    Knob(
        "dry_sequence_breakers",
        "strings",
        ("\n", ":", '"', "*"),
        "dry",
        stage="dry",
        companions={"dry_multiplier": 0.8},
        llama_cli="--dry-sequence-breaker",
        llama_server="dry_sequence_breakers",
        example=(".",),
        # llama.cpp's callers pass a handful (its default is 4) and it truncates a breaker to 40 bytes
        # (MAX_CHAR_LEN in llama_sampler_init_dry); each costs a pass over the whole vocabulary.
        max_items=16,
        max_bytes=40,
        requires=("dry_multiplier",),
        spellings=_spell("dry_sequence_breakers", *_TEXT_UIS),
        help_en="DRY: strings that end a repeated sequence, so names and line starts can repeat freely.",
        help_ja="DRY。繰り返しの並びをそこで区切る文字列。改行や「:」の後の名前などは自由に繰り返せる。",
    ),
    Knob(
        "logit_bias",
        "bias",
        MappingProxyType({}),
        "advanced",
        neutral=MappingProxyType({}),
        llama_cli="--logit-bias",
        llama_server="logit_bias",
        example={"!": 5.0},
        max_items=1024,  # a text key biases each token of its tokenization: bounded as well
        max_bytes=64,
        spellings=_spell("logit_bias", "open_webui", "llama_cpp_python"),
        help_en="Adds a bias to chosen tokens' logits (token id or text: -100 to 100); false bans the token.",
        help_ja="指定したトークン（IDまたは文字列）のロジットに値を足す（-100〜100）。false でそのトークンを禁止する。",
    ),
    Knob(
        "samplers",
        "order",
        NAMED_ORDERS[DEFAULT_ORDER],
        "advanced",
        companions={"temperature": 1.5, "top_p": 0.5},
        llama_cli="--sampling-seq",
        llama_server="samplers",
        example="tedskfypmx",
        spellings=_spell("samplers", "sillytavern", tgw="sampler_priority"),
        help_en="The order of the sampler chain, as llama.cpp letters (edskfypmxt) or stage names; "
        "a (adaptive-p) picks the token, so it always runs last.",
        help_ja="サンプラーを適用する順序。llama.cppの文字列（edskfypmxt）またはステージ名のリスト。"
        "a（adaptive-p）はトークンを選ぶので、どこに書いても最後に動く。",
    ),
    Knob(
        "seed",
        "seed",
        0,
        "generation",
        minimum=-1,
        maximum=2**32 - 2,
        step=1,
        llama_cli="--seed",
        llama_server="seed",
        example=1,
        spellings=_spell("seed", *_OPENAI_COMPATIBLE, *_TEXT_UIS),
        help_en="Random seed: the same seed and settings give the same text; -1 draws one and reports it.",
        help_ja="乱数シード。同じシードと設定なら同じ文章になる。-1は毎回ランダムに選び、使った値を表示する。",
    ),
    Knob(
        "max_tokens",
        "int",
        256,
        "generation",
        minimum=0,
        maximum=1_000_000,
        ui_max=2048,
        step=1,
        llama_cli="--n-predict",
        llama_server="n_predict",
        example=4,
        spellings=_spell(
            "max_tokens", "openai", "open_webui", "llama_cpp_python", ollama="num_predict", tgw="max_new_tokens"
        ),
        help_en="The most tokens to generate; 0 means until the context is full.",
        help_ja="生成する最大トークン数。0は文脈（コンテキスト）が埋まるまで。",
    ),
    Knob(
        "stop",
        "strings",
        (),
        "generation",
        neutral=(),
        llama_cli="--reverse-prompt",
        llama_server="stop",
        example=("e",),
        max_items=16,  # every token is checked against every stop string
        max_bytes=256,
        spellings=_spell("stop", *_OPENAI_COMPATIBLE),
        help_en="Generation stops before any of these strings; the string itself is not shown.",
        help_ja="これらの文字列が出たら、その手前で生成を止める（文字列自体は出力しない）。",
    ),
)

KNOB_BY_NAME: Mapping[str, Knob] = MappingProxyType({knob.name: knob for knob in KNOBS})
# Set once for a whole comparison (the app's prompt panel, an experiment's top level), not per column.
RUN_LEVEL_KNOBS: tuple[str, ...] = tuple(knob.name for knob in KNOBS if knob.group == "generation")
KNOB_NAMES: tuple[str, ...] = tuple(KNOB_BY_NAME)


def spelled(tool: str) -> dict[str, str]:
    """Knob name -> the tool's key, for the knobs the tool can express; tables of other tools' names
    are derived from here so that adding a knob never means editing a list elsewhere."""
    if tool not in SPELLING_TOOLS:
        raise ValueError(f"unknown tool {tool!r}; known: {', '.join(SPELLING_TOOLS)}")
    return {knob.name: knob.spellings[tool] for knob in KNOBS if tool in knob.spellings}


def knobs_of_stage(stage: str) -> tuple[Knob, ...]:
    return tuple(knob for knob in KNOBS if knob.stage == stage)


def stage_enabled(stage: str, values: Mapping[str, Any]) -> bool:
    """A stage is on when any of its switch knobs is off its neutral value and nothing stops it."""
    switches = [knob for knob in knobs_of_stage(stage) if knob.neutral is not None]
    return any(values[knob.name] != knob.neutral for knob in switches) and stage_stopper(stage, values) is None


def stage_stopper(stage: str, values: Mapping[str, Any]) -> Knob | None:
    """The knob holding the stage off at its ``stops_stage_at`` value (a penalty range of 0), if any."""
    return next(
        (
            knob
            for knob in knobs_of_stage(stage)
            if knob.stops_stage_at is not None and values[knob.name] == knob.stops_stage_at
        ),
        None,
    )


def suggest(name: str, known: Iterable[str]) -> str:
    """' (did you mean X?)' for the nearest known name, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_order(value: Any, where: str = "samplers") -> str:
    """An order as letters; accepts letters ('edkypmxt'), a name list, ';'-joined names or a named order.

    A stage that picks the token (adaptive-p's ``a``) goes last wherever it is written, as llama.cpp runs it,
    so that one chain has one spelling.
    """
    if isinstance(value, str) and value in NAMED_ORDERS:
        return NAMED_ORDERS[value]
    if (
        isinstance(value, str)
        and ";" not in value
        and "," not in value
        and value not in STAGE_BY_NAME
        and value not in STAGE_ALIASES
    ):
        names = [STAGE_BY_LETTER[c].name if c in STAGE_BY_LETTER else _unknown_letter(c, where) for c in value]
    elif isinstance(value, str):
        names = [part.strip() for part in value.replace(",", ";").split(";") if part.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        names = list(value)
    else:
        raise SettingsError(
            f"{where}: expected llama.cpp letters like 'edskfypmxt' or a list of stage names, got {value!r}"
        )
    letters = []
    for raw in names:
        name = STAGE_ALIASES.get(raw.lower(), raw.lower())
        if name not in STAGE_BY_NAME:
            raise SettingsError(
                f"{where}: unknown sampler stage {raw!r}{suggest(raw, STAGE_BY_NAME)}; "
                f"known: {', '.join(STAGE_BY_NAME)}"
            )
        letter = STAGE_BY_NAME[name].letter
        if letter in letters:
            raise SettingsError(f"{where}: stage {name!r} appears twice")
        letters.append(letter)
    if not letters:
        raise SettingsError(f"{where}: the order is empty; expected at least one stage")
    return "".join(sorted(letters, key=lambda letter: STAGE_BY_LETTER[letter].name in SELECTING_STAGES))


def _unknown_letter(letter: str, where: str) -> str:
    known = " ".join(f"{s.letter}={s.name}" for s in STAGES)
    raise SettingsError(f"{where}: unknown sampler letter {letter!r}; known: {known}")


def order_names(letters: str) -> tuple[str, ...]:
    return tuple(STAGE_BY_LETTER[c].name for c in letters)


def _number(knob: Knob, value: Any, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingsError(f"{where}: expected a finite number, got {value!r}")
    if knob.kind in ("int", "seed"):
        if isinstance(value, float) and not value.is_integer():
            raise SettingsError(f"{where}: expected a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if (knob.minimum is not None and value < knob.minimum) or (knob.maximum is not None and value > knob.maximum):
        raise SettingsError(
            f"{where}: {value!r} is out of range; expected {_bound(knob.minimum)} to {_bound(knob.maximum)}"
        )
    return value


def _bound(limit: float | None) -> str:
    """A range's end as a person types it: a whole number in full (seed's 4294967294, not 4.29497e+09)."""
    if limit is None:
        return "?"
    return str(int(limit)) if float(limit).is_integer() else f"{limit:g}"


def _strings(knob: Knob, value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise SettingsError(f"{where}: expected a list of strings, got {_short(value)}")
    _check_count(knob, value, where, "strings")
    if not all(isinstance(v, str) for v in value):
        raise SettingsError(f"{where}: expected a list of strings, got {_short(value)}")
    if any(v == "" for v in value):
        raise SettingsError(f"{where}: empty strings are not allowed")
    for text in value:
        _check_length(knob, text, where, "a string")
    return tuple(value)


def _check_count(knob: Knob, value: Any, where: str, what: str) -> None:
    """Refuse more entries than the knob allows, before looking at any of them (150,000 bias keys cost
    seconds to read one by one)."""
    if knob.max_items is not None and len(value) > knob.max_items:
        raise SettingsError(f"{where}: at most {knob.max_items} {what}, got {len(value)}")


def _check_length(knob: Knob, text: str, where: str, what: str) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if knob.max_bytes is not None and size > knob.max_bytes:
        raise SettingsError(f"{where}: {what} of at most {knob.max_bytes} bytes, got {size} ({_short(text)})")


def _short(value: Any, limit: int = 40) -> str:
    """repr of a value cut to ``limit`` characters: an error line names what was wrong, not all of it."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bias(knob: Knob, value: Any, where: str) -> Mapping[int | str, float]:
    """Token (id or text) -> bias; False or -inf bans the token, as in llama-server."""
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where}: expected a mapping of token (id or text) to bias, got {_short(value)}")
    _check_count(knob, value, where, "tokens")
    result: dict[int | str, float] = {}
    for token, bias in value.items():
        key = token if isinstance(token, int) and not isinstance(token, bool) else str(token)
        if isinstance(key, str):
            _check_length(knob, key, where, "a token text")
        if isinstance(key, str) and key.strip().lstrip("-").isdigit():
            key = int(key)
        if isinstance(key, int) and key < 0:
            raise SettingsError(f"{where}: token id {key} is negative")
        if bias is False or (isinstance(bias, float) and bias == -math.inf) or bias in ("-inf", "ban"):
            result[key] = -math.inf
        elif (
            isinstance(bias, (int, float))
            and not isinstance(bias, bool)
            and math.isfinite(bias)
            and -100 <= bias <= 100
        ):
            result[key] = float(bias)
        else:
            raise SettingsError(
                f"{where}: bias for {_short(token)} must be a number from -100 to 100 or false (ban), got {_short(bias)}"
            )
    return MappingProxyType(result)


def coerce(knob: Knob, value: Any, where: str | None = None) -> Any:
    """The validated, normalised value of one knob, or a SettingsError naming it."""
    where = where or knob.name
    if knob.kind in ("float", "int", "seed"):
        return _number(knob, value, where)
    if knob.kind == "bool":
        if not isinstance(value, bool):
            raise SettingsError(f"{where}: expected true or false, got {value!r}")
        return value
    if knob.kind == "choice":
        if isinstance(value, bool) or value not in knob.choices:
            raise SettingsError(f"{where}: expected one of {', '.join(map(str, knob.choices))}, got {value!r}")
        return value
    if knob.kind == "strings":
        return _strings(knob, value, where)
    if knob.kind == "bias":
        return _bias(knob, value, where)
    return parse_order(value, where)


class KnobValues(Mapping[str, Any]):
    """A complete, validated set of values for a tuple of knobs; immutable so runs can't drift."""

    __slots__ = ("_values",)
    knobs: tuple[Knob, ...] = ()

    def __init__(self, values: Mapping[str, Any] | None = None, source: str = "settings") -> None:
        values = dict(values or {})
        names = tuple(knob.name for knob in self.knobs)
        for name in values:
            if name not in names:
                raise SettingsError(f"{source}: unknown setting {name!r}{suggest(name, names)}")
        resolved = {}
        for knob in self.knobs:
            value = values.get(knob.name, knob.default)
            resolved[knob.name] = coerce(knob, value, f"{source}: {knob.name}")
        object.__setattr__(self, "_values", MappingProxyType(resolved))

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Settings are immutable; use replace()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.changed()!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and dict(self._values) == dict(other._values)

    def __hash__(self) -> int:
        return hash(repr(self))

    def replace(self, **changes: Any):
        return type(self)({**self._values, **changes})

    def changed(self, base: KnobValues | None = None) -> dict[str, Any]:
        """The knobs that differ from ``base`` (default: the schema's defaults), in schema order."""
        reference = base if base is not None else {knob.name: coerce(knob, knob.default) for knob in self.knobs}
        return {name: value for name, value in self._values.items() if value != reference[name]}


class Settings(KnobValues):
    """The sampling settings of one column."""

    __slots__ = ()
    knobs = KNOBS

    def order_text(self) -> str:
        return " -> ".join(order_names(self.samplers))


DEFAULTS = Settings()


def neutral_values() -> dict[str, Any]:
    """Every knob that can be switched off, switched off: the raw model distribution."""
    return {knob.name: knob.neutral for knob in KNOBS if knob.neutral is not None}
