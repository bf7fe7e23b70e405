"""Where and why two columns part: the first token at which their texts differ, and what each chain did there.

Up to that token both columns fed the model the same text, so the model's raw distribution at
that step is the same for both; what differs is what each chain kept of it and which token its
dice drew. This module reads column records (the shape of result files and of the app's API),
so it works the same on a local run, a llama-server run and a result file from last year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .params import KNOB_BY_NAME, Settings

Record = Mapping[str, Any]
# Stages that reshape the probabilities of every token they see, not only cut some.
RESHAPING = frozenset({"temperature", "penalties", "dry"})


@dataclass(frozen=True)
class Fate:
    """What one column's chain did to one raw candidate at the parting step."""

    prob: float | None  # after the chain; None: not known (not among the recorded alternatives)
    cut_by: str | None = None

    def describe(self) -> str:
        if self.cut_by:
            return f"cut by {self.cut_by}"
        return "?" if self.prob is None else f"{self.prob:.3f}"


@dataclass(frozen=True)
class Row:
    token_id: int
    text: str
    raw_prob: float
    fates: tuple[Fate, Fate]


@dataclass(frozen=True)
class KnobAction:
    """A knob the two columns set differently; ``reason`` (a key explain_text words in each language) says why it
    did or did not act: seed, cut (its stage cut candidates here), reshape, idle_stage (its stage cut nothing), none."""

    name: str
    values: tuple[Any, Any]
    acted: bool
    reason: str
    stage: str | None = None


@dataclass(frozen=True)
class Divergence:
    """Two columns' parting: ``index`` is None when they never part."""

    labels: tuple[str, str]
    index: int | None
    shared_text: str
    drawn: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None)
    rows: tuple[Row, ...] = ()
    verdict: str = ""
    knobs: tuple[KnobAction, ...] = field(default_factory=tuple)
    length: int = 0  # tokens both wrote alike: all of them when they never part


def first_parting(a: Record, b: Record) -> int | None:
    """The index of the first token whose id differs (one column ending counts), or None."""
    tokens_a, tokens_b = a["tokens"], b["tokens"]
    for index in range(max(len(tokens_a), len(tokens_b))):
        if index >= len(tokens_a) or index >= len(tokens_b) or tokens_a[index]["id"] != tokens_b[index]["id"]:
            return index
    return None


def explain(a: Record, b: Record) -> Divergence:
    """Where ``a`` and ``b`` part and why: both distributions at that step, side by side."""
    labels = (str(a["label"]), str(b["label"]))
    index = first_parting(a, b)
    if index is None:
        return Divergence(labels, None, "".join(t["text"] for t in a["tokens"]), length=len(a["tokens"]),
                          verdict=f"{labels[0]!r} and {labels[1]!r} never part: they wrote the same "
                                  f"{len(a['tokens'])} tokens")
    shared = "".join(t["text"] for t in a["tokens"][:index])
    steps = tuple(r["tokens"][index] if index < len(r["tokens"]) else None for r in (a, b))
    rows = _rows(steps)
    return Divergence(labels, index, shared, steps, rows, _verdict(labels, steps, (a, b)), _knobs(a, b, steps), index)


def _fate(step: Record | None, token: int) -> Fate:
    if step is None:
        return Fate(None)
    for candidate in step.get("before", ()):
        if candidate.get("id") == token and candidate.get("cut_by"):  # a result file may omit candidate ids
            return Fate(0.0, candidate["cut_by"])
    for candidate in step.get("after", ()):
        if candidate.get("id") == token:
            return Fate(candidate["p"])
    if token == step["id"]:
        return Fate(step["p"])
    return Fate(None)


def _rows(steps: Sequence[Record | None]) -> tuple[Row, ...]:
    """The raw candidates either column recorded at the step, most likely first, with each chain's fate."""
    raw: dict[int, tuple[str, float]] = {}
    for step in steps:
        if step is None:
            continue
        for candidate in step.get("before", ()):
            if candidate.get("id") is not None:
                raw.setdefault(candidate["id"], (candidate["text"], candidate["p"]))
        raw.setdefault(step["id"], (step["text"], step.get("raw_p", 0.0)))
    ordered = sorted(raw.items(), key=lambda item: -item[1][1])
    return tuple(Row(token, text, prob, (_fate(steps[0], token), _fate(steps[1], token)))
                 for token, (text, prob) in ordered)


def _verdict(labels: tuple[str, str], steps: Sequence[Record | None], records: Sequence[Record]) -> str:
    """Which chain cut the other's token, or that both kept both and the dice decided."""
    for me, other in ((0, 1), (1, 0)):
        if steps[me] is None:
            reason = records[me].get("finish_reason")
            return f"{labels[me]!r} had already ended ({reason}) where {labels[other]!r} went on"
    drew = [f"{labels[i]!r} drew {steps[i]['text']!r} (p {steps[i]['p']:.3f} after its chain)" for i in (0, 1)]
    cuts = []
    for me, other in ((0, 1), (1, 0)):
        fate = _fate(steps[me], steps[other]["id"])
        if fate.cut_by:
            cuts.append(f"{labels[me]!r}'s {fate.cut_by} cut {steps[other]['text']!r}")
        elif fate.prob is None:
            cuts.append(f"{steps[other]['text']!r} is not among {labels[me]!r}'s recorded candidates")
    ending = "; ".join(cuts) if cuts else "both chains kept both tokens: the dice decided"
    return f"{drew[0]}; {drew[1]}; {ending}"


def _knobs(a: Record, b: Record, steps: Sequence[Record | None]) -> tuple[KnobAction, ...]:
    """The knobs the two columns set differently, and whether each could have acted at this step."""
    settings = [Settings(r["settings"]) for r in (a, b)]
    cut_stages = {c["cut_by"] for step in steps if step for c in step.get("before", ()) if c.get("cut_by")}
    actions = []
    for name in settings[0].changed(settings[1]):
        knob = KNOB_BY_NAME[name]
        values = (settings[0][name], settings[1][name])
        if knob.kind == "seed":
            actions.append(KnobAction(name, values, True, "seed"))
        elif knob.stage in cut_stages:
            actions.append(KnobAction(name, values, True, "cut", knob.stage))
        elif knob.stage in RESHAPING:
            actions.append(KnobAction(name, values, True, "reshape", knob.stage))
        elif knob.stage:
            actions.append(KnobAction(name, values, False, "idle_stage", knob.stage))
        else:
            actions.append(KnobAction(name, values, False, "none"))
    return tuple(actions)


def pairs_differing_in_one_knob(records: Sequence[Record]) -> list[tuple[Record, Record, str]]:
    """Columns of one prompt and seed whose settings differ in exactly one knob: the pairs a report explains."""
    found = []
    settings = [Settings(r["settings"]) for r in records]  # once each: a big sweep has thousands of pairs
    for i, a in enumerate(records):
        for j in range(i + 1, len(records)):
            b = records[j]
            if (a.get("prompt_index"), a.get("seed")) != (b.get("prompt_index"), b.get("seed")):
                continue
            changed = settings[i].changed(settings[j])
            if len(changed) == 1:
                found.append((a, b, next(iter(changed))))
    return found
