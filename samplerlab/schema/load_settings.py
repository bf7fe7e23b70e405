"""Load-time settings: how a model file is loaded, fixed for the model's lifetime.

Declared like the sampling knobs (``params.Knob``), so the CLI's ``--load``, the app's load panel,
experiment files, the docs and the llama-cli / llama-server exports (``llama_cli``: llama.cpp's flag for
the same setting, common/arg.cpp) derive from this one list. ``use_mmap`` and ``use_mlock`` have no flag of
their own in llama.cpp (one ``--load-mode`` covers both) and ``batched`` is samplerlab's scheduling; none of
the three changes the text.
"""

from __future__ import annotations

from .params import Knob, KnobValues, SettingsError

FLASH_ATTENTION = {"auto": -1, "off": 0, "on": 1}
KV_CACHE_TYPES = {"f16": 1, "f32": 0, "q8_0": 8, "q5_1": 7, "q5_0": 6, "q4_1": 3, "q4_0": 2}

LOAD_KNOBS: tuple[Knob, ...] = (
    Knob(
        "n_ctx",
        "int",
        2048,
        "load",
        minimum=16,
        maximum=1_048_576,
        ui_min=256,
        ui_max=32768,
        step=256,
        llama_cli="--ctx-size",
        help_en="Context length of each column, prompt plus output; every column gets its own.",
        help_ja="各列のコンテキスト長（プロンプト＋出力）。列ごとに確保される。",
    ),
    Knob(
        "n_threads",
        "int",
        0,
        "load",
        minimum=0,
        maximum=1024,
        ui_max=64,
        step=1,
        llama_cli="--threads",
        help_en="CPU threads; 0 uses every core (llama-cpp-python uses half).",
        help_ja="CPUスレッド数。0で全コアを使う（llama-cpp-pythonの既定は半分）。",
    ),
    Knob(
        "n_batch",
        "int",
        512,
        "load",
        minimum=1,
        maximum=65536,
        ui_max=4096,
        step=1,
        llama_cli=("--batch-size", "--ubatch-size"),
        decides_text=True,  # the engine sets n_ubatch = n_batch
        help_en="How many prompt tokens are evaluated per step.",
        help_ja="プロンプト評価で一度に処理するトークン数。",
    ),
    Knob(
        "n_gpu_layers",
        "int",
        0,
        "load",
        minimum=-1,
        maximum=1000,
        ui_max=200,
        step=1,
        llama_cli="--gpu-layers",
        decides_text=True,
        help_en="Layers to offload to the GPU; -1 offloads all, 0 runs on the CPU.",
        help_ja="GPUに載せる層の数。-1ですべて、0でCPUのみ。",
    ),
    Knob(
        "use_mmap",
        "bool",
        True,
        "load",
        help_en="Map the model file into memory instead of reading it, so it loads fast and shares pages.",
        help_ja="モデルファイルを読み込まずメモリにマップする。読み込みが速く、メモリを共有できる。",
    ),
    Knob(
        "use_mlock",
        "bool",
        False,
        "load",
        help_en="Lock the model in RAM so the OS cannot swap it out.",
        help_ja="モデルをRAMに固定し、OSにスワップアウトさせない。",
    ),
    Knob(
        "flash_attn",
        "choice",
        "off",
        "load",
        choices=tuple(FLASH_ATTENTION),
        llama_cli="--flash-attn",
        decides_text=True,
        help_en="Flash attention: faster and smaller on many backends, needed for a quantized V cache; "
        "off by default, as in llama-cpp-python, so outputs match it exactly.",
        help_ja="Flash Attention。多くの環境で高速・省メモリで、Vキャッシュの量子化に必要。"
        "llama-cpp-pythonと出力を完全に一致させるため既定はオフ。",
    ),
    Knob(
        "type_k",
        "choice",
        "f16",
        "load",
        choices=tuple(KV_CACHE_TYPES),
        llama_cli="--cache-type-k",
        decides_text=True,
        help_en="Number format of the K cache; q8_0 halves its memory for a small loss.",
        help_ja="Kキャッシュの数値形式。q8_0でメモリが半分になり、劣化はわずか。",
    ),
    Knob(
        "type_v",
        "choice",
        "f16",
        "load",
        choices=tuple(KV_CACHE_TYPES),
        llama_cli="--cache-type-v",
        decides_text=True,
        help_en="Number format of the V cache; quantized types need flash attention.",
        help_ja="Vキャッシュの数値形式。量子化形式にはFlash Attentionが必要。",
    ),
    Knob(
        "repack",
        "bool",
        False,
        "load",
        llama_cli="--repack",
        decides_text=True,
        help_en="Let llama.cpp repack weights for speed (--repack); on the CPU it can make a column's text depend on its neighbours.",
        help_ja="高速化のため重みを再配置する（--repack）。CPUでは列の出力が隣の列に左右されることがある。",
    ),
    Knob(
        "batched",
        "bool",
        True,
        "load",
        help_en="Decode all columns in one batch per step; off decodes one column at a time when batches are not independent.",
        help_ja="全列を1ステップ1バッチでまとめて計算する。独立性が保てない環境ではオフにして1列ずつ計算する。",
    ),
)


class LoadSettings(KnobValues):
    """How a model is loaded: fixed for the model's lifetime, unlike Settings."""

    __slots__ = ()
    knobs = LOAD_KNOBS


UNQUANTIZED_CACHE_TYPES = frozenset({"f16", "f32"})


def check_load(settings: LoadSettings) -> None:
    """Refuse load settings llama.cpp would refuse only when creating a context, which then reads as
    'out of memory? lower n_ctx': a quantized V cache with flash attention off (llama_init_from_model
    logs "quantized V cache requires flash_attn to be enabled"; with auto it turns flash attention on)."""
    if settings.type_v not in UNQUANTIZED_CACHE_TYPES and settings.flash_attn == "off":
        raise SettingsError(
            f"type_v {settings.type_v} needs flash_attn on (llama.cpp cannot quantize the V cache "
            "without flash attention)"
        )
