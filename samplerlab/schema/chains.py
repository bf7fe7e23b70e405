"""Which stages a column's chain runs, in which order: rules, apart from the llama.cpp binding.

The order (``Settings.samplers``), the stages that are switched on, the chains Mirostat copies
from llama.cpp or llama-cpp-python, and the knobs that cannot matter in a configuration are
decided here, in pure Python, so the exporters, the app's hints and a llama-server column use
the same rules as the local engine (``sampling.build_chain``) without importing llama.cpp.
"""

from __future__ import annotations

from .params import KNOB_BY_NAME, KNOBS, NAMED_ORDERS, Settings, order_names, stage_enabled, stage_stopper


def mirostat_stages(settings: Settings) -> frozenset[str]:
    """The stages that still run before Mirostat, copied from the tool whose order the column uses.

    llama.cpp (common/sampling.cpp) runs a plain temperature and nothing else; llama-cpp-python's
    create_completion runs the repetition penalties and no temperature, except that temperature 0
    still means greedy there (a temperature of 0 keeps only the top token, so Mirostat takes it).
    """
    if settings.samplers == NAMED_ORDERS["llama-cpp-python"]:
        return frozenset({"penalties", *(["temperature"] if settings.temperature == 0 else [])})
    return frozenset({"temperature"})


def chain_settings(settings: Settings) -> Settings:
    """Settings as the chain uses them: under Mirostat, llama.cpp's temperature is a plain one."""
    return settings.replace(dynatemp_range=0.0) if settings.mirostat else settings


def active_stage_names(settings: Settings) -> tuple[str, ...]:
    """The order's stages that are switched on; Mirostat keeps only its tool's few (mirostat_stages)."""
    settings = chain_settings(settings)
    names = tuple(name for name in order_names(settings.samplers) if stage_enabled(name, settings))
    if settings.mirostat:
        names = tuple(name for name in names if name in mirostat_stages(settings))
    return names


# Stages that only remove candidates and always keep the most likely one they are given.
KEEPS_TOP_TOKEN = frozenset({"top_n_sigma", "top_k", "tail_free", "top_p", "min_p"})


def greedy_inert_stages(settings: Settings) -> frozenset[str]:
    """The stages that run, and may cut candidates, but cannot change which token a greedy column draws.

    llama.cpp builds the whole chain at temperature 0 (common/sampling.cpp) and every stage runs;
    its temperature stage then keeps only the most likely candidate left (llama_sampler_temp_impl:
    the others go to -inf), which dist draws. A stage of KEEPS_TOP_TOKEN keeps the most likely
    candidate it is given, so the token drawn is the same with or without it, as long as only such
    stages stand between it and the temperature: typical-p, XTC, penalties or DRY there may drop or
    demote the top token depending on what the stage left them. A dynamic temperature range or a
    temperature absent from the order is no greedy decoding at all; Mirostat runs its own chain.
    """
    active = set(active_stage_names(settings))
    if settings.mirostat or settings.temperature > 0 or settings.dynatemp_range > 0 or "temperature" not in active:
        return frozenset()
    names = order_names(settings.samplers)  # a stage switched off counts too: on, it would be as inert
    at = names.index("temperature")
    return frozenset(
        name
        for index, name in enumerate(names)
        if name in KEEPS_TOP_TOKEN
        and (index > at or all(n in KEEPS_TOP_TOKEN for n in names[index + 1 : at] if n in active))
    )


def inactive_knobs(settings: Settings) -> dict[str, tuple[str, str]]:
    """Knobs that cannot change this column's output: name -> (reason kind, detail), for the UI's hints.

    Kinds: 'order' (its stage is not in the order), 'mirostat' (the Mirostat chain skips the stage,
    or dynamic temperature),
    'greedy' (the stage still cuts, but temperature 0 draws the top token, which it keeps: greedy_inert_stages),
    'requires' (the knobs that switch it on are all off; detail names them), 'stopped' (another knob of its stage
    holds the stage off, as a penalty range of 0 does in llama.cpp; detail names it and its value).
    """
    order = order_names(settings.samplers)
    kept = mirostat_stages(settings) if settings.mirostat else frozenset()
    inert = greedy_inert_stages(settings)
    notes: dict[str, tuple[str, str]] = {}
    for knob in KNOBS:
        switched_off = [name for name in knob.requires if settings[name] == KNOB_BY_NAME[name].neutral]
        if knob.stage and knob.stage not in order:
            notes[knob.name] = ("order", knob.stage)
        elif (
            settings.mirostat
            and knob.stage
            and (knob.stage not in kept or (knob.stage == "temperature" and knob.name != knob.stage))
        ):
            notes[knob.name] = ("mirostat", knob.name if knob.stage == "temperature" else knob.stage)
        elif knob.stage in inert:
            notes[knob.name] = ("greedy", knob.stage)
        elif knob.requires and len(switched_off) == len(knob.requires):
            notes[knob.name] = ("requires", ", ".join(switched_off))
        elif knob.stage and (stopper := stage_stopper(knob.stage, settings)) and stopper is not knob:
            notes[knob.name] = ("stopped", f"{stopper.name} {settings[stopper.name]}")
    return notes


def selector_name(settings: Settings) -> str:
    """The stage that picks the token, chosen as common/sampling.cpp chooses it: Mirostat wins; else
    adaptive-p when the order names it; else dist."""
    if settings.mirostat:
        return {1: "mirostat", 2: "mirostat_v2"}[settings.mirostat]
    return "adaptive_p" if "adaptive_p" in order_names(settings.samplers) else "dist"


def server_refusal(settings: Settings) -> str | None:
    """Why llama-server cannot run these settings as samplerlab would (one line), or None.

    Refused rather than dropped: a column that silently ran other settings would be a lie.
    """
    stages = active_stage_names(settings)
    if "tail_free" in stages:
        return "tfs_z: tail-free sampling is samplerlab's own stage; llama-server no longer has it (set tfs_z 1)"
    if not settings.penalize_prompt and ({"penalties", "dry"} & set(stages)):
        return (
            "penalize_prompt false: llama-server always counts the prompt in the repetition penalties "
            "and DRY (set penalize_prompt true)"
        )
    if settings.mirostat and settings.samplers == NAMED_ORDERS["llama-cpp-python"]:
        return (
            "mirostat with llama-cpp-python's order copies create_completion's chain, which llama-server "
            "does not run (use llama.cpp's order)"
        )
    return None
