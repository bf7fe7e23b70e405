"""Where and why two columns part: the first token at which their texts differ, and what each chain did there.

Up to that token both columns fed the model the same text, so the model's raw distribution at
that step is the same for both; what differs is what each chain kept of it and which token its
dice drew. This module reads column records (the shape of result files and of the app's API),
so it works the same on a local run, a llama-server run and a result file from last year.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..events import is_known
from ..schema.chains import greedy_inert_stages
from ..schema.params import KNOB_BY_NAME, Settings

Record = Mapping[str, Any]
# Stages that reshape the probabilities of every token they see, not only cut some.
RESHAPING = frozenset({"temperature", "penalties", "dry"})


@dataclass(frozen=True)
class Fate:
    """What one column's chain did to one raw candidate at the parting step."""

    prob: float | None  # after the chain; None: not known (not among the recorded alternatives)
    cut_by: str | None = None
    # cut by a stage that cannot change what this column draws: it is greedy, and the stage keeps the top
    # token (schema.chains.greedy_inert_stages); temperature 0 would have left the candidate out all the same
    inert: bool = False

    def describe(self) -> str:
        if self.cut_by:
            return f"cut by {self.cut_by}" + (" (no effect on the draw at temperature 0)" if self.inert else "")
        return "?" if self.prob is None else f"{self.prob:.3f}"


@dataclass(frozen=True)
class Row:
    token_id: int
    text: str
    raw_prob: float | None  # None: the server did not report it
    fates: tuple[Fate, Fate]


@dataclass(frozen=True)
class KnobAction:
    """A knob the two columns set differently; ``reason`` (a key explain_text words in each language) says why it
    did or did not act: seed, cut (its stage cut candidates here), reshape, greedy (its stage cut, but only in a
    greedy column, where it cannot change the draw), idle_stage (its stage cut nothing), none."""

    name: str
    values: tuple[Any, Any]
    acted: bool
    reason: str  # a key of HOW
    stage: str | None = None

    @property
    def how(self) -> str:
        """In English; ``explain_text.how`` words it in the reader's language."""
        from ..words.explain import how

        return how(self, "en")


@dataclass(frozen=True)
class Divergence:
    """Two columns' parting: ``index`` is None when they never part."""

    labels: tuple[str, str]
    index: int | None
    shared_text: str
    drawn: tuple[Record | None, Record | None] = (None, None)
    rows: tuple[Row, ...] = ()
    verdict: str = ""
    knobs: tuple[KnobAction, ...] = field(default_factory=tuple)
    length: int = 0  # tokens both wrote alike: all of them when they never part
    seeds_differ: bool = False  # then different dice, not different probabilities, may have parted them


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
        return Divergence(
            labels,
            None,
            "".join(t["text"] for t in a["tokens"]),
            length=len(a["tokens"]),
            verdict=f"{labels[0]!r} and {labels[1]!r} never part: they wrote the same {len(a['tokens'])} tokens",
        )
    shared = "".join(t["text"] for t in a["tokens"][:index])
    steps: tuple[Record | None, Record | None] = (
        a["tokens"][index] if index < len(a["tokens"]) else None,
        b["tokens"][index] if index < len(b["tokens"]) else None,
    )
    inert = tuple(greedy_inert_stages(Settings(record["settings"])) for record in (a, b))
    rows = _rows(steps, inert)
    return Divergence(
        labels,
        index,
        shared,
        steps,
        rows,
        _verdict(labels, steps, (a, b), inert),
        _knobs(a, b, steps, inert),
        index,
        a.get("seed") != b.get("seed"),
    )


def _fate(step: Record | None, token: int, inert: frozenset[str] = frozenset()) -> Fate:
    if step is None:
        return Fate(None)
    for candidate in step.get("before", ()):
        if candidate.get("id") == token and candidate.get("cut_by"):  # a result file may omit candidate ids
            return Fate(0.0, candidate["cut_by"], candidate["cut_by"] in inert)
    for candidate in step.get("after", ()):
        if candidate.get("id") == token:
            return Fate(candidate["p"])
    if token == step["id"]:
        return Fate(step["p"] if step["p"] == step["p"] else None)  # NaN (older files): unknown, as null
    return Fate(None)


def _rows(steps: Sequence[Record | None], inert: Sequence[frozenset[str]]) -> tuple[Row, ...]:
    """The raw candidates either column recorded at the step, most likely first, with each chain's fate."""
    raw: dict[int, tuple[str, float | None]] = {}
    for step in steps:
        if step is None:
            continue
        for candidate in step.get("before", ()):
            if candidate.get("id") is not None:
                raw.setdefault(candidate["id"], (candidate["text"], candidate["p"]))
        raw.setdefault(step["id"], (step["text"], step.get("raw_p", 0.0)))
    ordered = sorted(raw.items(), key=lambda item: _known_first(item[1][1]))
    return tuple(
        Row(token, text, prob, (_fate(steps[0], token, inert[0]), _fate(steps[1], token, inert[1])))
        for token, (text, prob) in ordered
    )


def _p(prob: float | None) -> str:
    return f"{prob:.3f}" if is_known(prob) else "?"  # a server reports no probability for some tokens


def _known_first(prob: float | None) -> tuple[bool, float]:
    """Sort key: the most likely first, and probabilities a server did not report (null, NaN) last."""
    return (False, -prob) if is_known(prob) else (True, 0.0)  # type: ignore[operator]  # known: a float


def _verdict(
    labels: tuple[str, str],
    steps: Sequence[Record | None],
    records: Sequence[Record],
    inert: Sequence[frozenset[str]] = (frozenset(), frozenset()),
) -> str:
    """Which chain cut the other's token, or that both kept both and the dice decided; a greedy column
    whose cut could not have changed its draw (Fate.inert) drew its top token, which the other's was not."""
    for me, other in ((0, 1), (1, 0)):
        if steps[me] is None:
            reason = records[me].get("finish_reason")
            return f"{labels[me]!r} had already ended ({reason}) where {labels[other]!r} went on"
    drawn = [step for step in steps if step is not None]
    drew = [f"{labels[i]!r} drew {drawn[i]['text']!r} (p {_p(drawn[i]['p'])} after its chain)" for i in (0, 1)]
    cuts = []
    for me, other in ((0, 1), (1, 0)):
        fate = _fate(drawn[me], drawn[other]["id"], inert[me])
        if fate.inert:
            cuts.append(f"{labels[me]!r} draws its top token at temperature 0, and {drawn[other]['text']!r} is not it")
        elif fate.cut_by:
            cuts.append(f"{fate.cut_by} in {labels[me]!r} cut {drawn[other]['text']!r}")
        elif fate.prob is None:
            cuts.append(f"{drawn[other]['text']!r} is not among the recorded candidates of {labels[me]!r}")
    ending = "; ".join(cuts) if cuts else _dice(records)
    return f"{drew[0]}; {drew[1]}; {ending}"


def _dice(records: Sequence[Record]) -> str:
    if records[0].get("seed") != records[1].get("seed"):
        return "both chains kept both tokens: different seeds rolled different dice"
    return (
        "both chains kept both tokens: the same dice fell on different tokens because the chains gave "
        "them different probabilities"
    )


def _knobs(
    a: Record, b: Record, steps: Sequence[Record | None], inert: Sequence[frozenset[str]]
) -> tuple[KnobAction, ...]:
    """The knobs the two columns set differently, and whether each could have acted at this step.

    A truncation knob acted if its stage cut one of the recorded candidates in a column where the cut
    can change the draw, or if the two chains kept different sets of candidates (the same raw candidate
    has different probabilities after the chains) while no knob that reshapes probabilities differs:
    then only the cut can explain it. A stage that cut only in a greedy column, where it keeps the top
    token temperature 0 draws anyway (Fate.inert), did not act: 'greedy'."""
    settings = [Settings(r["settings"]) for r in (a, b)]
    changed = settings[0].changed(settings[1])
    cuts = [{c["cut_by"] for c in step.get("before", ()) if c.get("cut_by")} if step else set() for step in steps]
    cut_stages = set().union(*(found - inert[i] for i, found in enumerate(cuts)))
    inert_cuts = set().union(*(found & inert[i] for i, found in enumerate(cuts)))
    reshaped = any(KNOB_BY_NAME[name].stage in RESHAPING for name in changed)
    kept_differently = _kept_differently(steps)
    actions = []
    for name in changed:
        knob = KNOB_BY_NAME[name]
        values = (settings[0][name], settings[1][name])
        if knob.kind == "seed":
            actions.append(KnobAction(name, values, True, "seed"))
        elif knob.stage in cut_stages:
            actions.append(KnobAction(name, values, True, "cut", knob.stage))
        elif knob.stage in RESHAPING:
            actions.append(KnobAction(name, values, True, "reshape", knob.stage))
        elif knob.stage in inert_cuts:
            actions.append(KnobAction(name, values, False, "greedy", knob.stage))
        elif knob.stage and kept_differently and not reshaped:
            actions.append(KnobAction(name, values, True, "kept", knob.stage))
        elif knob.stage:
            actions.append(KnobAction(name, values, False, "idle_stage", knob.stage))
        else:
            actions.append(KnobAction(name, values, False, "none"))
    return tuple(actions)


def _kept_differently(steps: Sequence[Record | None]) -> bool:
    present = [step for step in steps if step is not None]
    if len(present) < len(steps):
        return False
    after = [{c["id"]: c["p"] for c in step.get("after", ()) if "id" in c} for step in present]
    shared = set(after[0]) & set(after[1])
    return any(abs(after[0][t] - after[1][t]) > 1e-4 * max(after[0][t], after[1][t]) for t in shared)


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


def pick_pair(
    records: Sequence[Record], a: str, b: str, seed: int | None = None, prompt_index: int | None = None
) -> tuple[Record, Record]:
    """The records labelled ``a`` and ``b`` from one prompt and seed (the first such, unless given)."""

    def wanted(record: Record) -> bool:
        return (seed is None or record.get("seed") == seed) and (
            prompt_index is None or record.get("prompt_index", 0) == prompt_index
        )

    labels = sorted({str(r["label"]) for r in records})
    for label in (a, b):
        if label not in labels:
            raise ValueError(f"no column labelled {label!r}; the columns are: {', '.join(labels)}")
    for first in (r for r in records if str(r["label"]) == a and wanted(r)):
        key = (first.get("prompt_index", 0), first.get("seed"))
        for second in records:
            if str(second["label"]) == b and (second.get("prompt_index", 0), second.get("seed")) == key:
                return first, second
    raise ValueError(f"no prompt and seed has both {a!r} and {b!r}" + (f" (seed {seed})" if seed is not None else ""))


def pick_record(
    records: Sequence[Record], label: str, seed: int | None = None, prompt_index: int | None = None
) -> Record:
    """The (first) record labelled ``label``, of the given seed and prompt if given."""
    for record in records:
        if (
            str(record["label"]) == label
            and (seed is None or record.get("seed") == seed)
            and (prompt_index is None or record.get("prompt_index", 0) == prompt_index)
        ):
            return record
    labels = ", ".join(sorted({str(r["label"]) for r in records}))
    raise ValueError(
        f"no column labelled {label!r}"
        + (f" with seed {seed}" if seed is not None else "")
        + f"; the columns are: {labels}"
    )
