"""Reading a result file: a compact table for terminals and a self-contained HTML report.

The HTML has no network dependencies at all (inline CSS and SVG, system fonts), so it
can be mailed or archived with the result. Everything from the file is escaped: model
output, labels and prompts are untrusted.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..events import is_known
from ..runs.experiments import format_value
from ..runs.metrics import STAT_BY_NAME, STATS, shown
from ..schema.chains import greedy_inert_stages, inactive_knobs
from ..schema.params import DEFAULTS, KNOBS, Settings, SettingsError
from ..words.i18n import finish_reason, inactive_reason, t
from ..words.report_words import stat_help, stat_label
from .buckets import ALL_BUCKETS, bucket_index
from .explain_html import CSS as EXPLAIN_CSS
from .parting import CSS as PARTING_CSS
from .parting import parting_html, token_charts
from .parting import where as _where
from .render import display_width, pad, visible
from .stats_html import CSS as STATS_CSS
from .stats_html import stats_section
from .svg_chart import legend, line_chart

TABLE_STATS = ("tokens", "tokens_per_second", "mean_prob", "distinct_2")
CHART_STATS = ("mean_prob", "distinct_2", "repeated_3grams", "tokens")
SPREAD_STATS = tuple(s for s in STATS if s.name != "tokens_per_second")  # speed says nothing about seeds
Record = Mapping[str, Any]


def _stat(record: Record, name: str) -> str:
    return shown(record["stats"].get(name), STAT_BY_NAME[name].fmt)  # "?": no token's figure was known


def text_table(document: Mapping[str, Any], lang: str = "en") -> str:
    """One row per generated column: label, how it ended, tokens, speed, mean p, distinct-2; in ``lang``
    (English keeps each finish reason's own name, as result files write it)."""
    header = [t("report_column", lang), t("report_finish", lang), *(_heading(name, lang) for name in TABLE_STATS)]
    rows = [
        [
            visible(" ".join(filter(None, [_where(r, document), r["label"]]))),
            visible(str(r["finish_reason"]) if lang == "en" else finish_reason(r["finish_reason"], lang)),
            *(_stat(r, name) for name in TABLE_STATS),
        ]
        for r in document["columns"]
    ]
    widths = [max(display_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            pad(cell, width) if i < 2 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths))
        ).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def _heading(stat: str, lang: str) -> str:
    """A table heading: the stat's short label in ``lang`` (tok/s, distinct-2 are names in both)."""
    return stat_label(stat, STAT_BY_NAME[stat].label, lang)


# -- HTML ----------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _token_title(token: Record, lang: str = "en", inert: frozenset[str] = frozenset()) -> str:
    """A token's hover: its probability, the chain's survivors and the raw candidates with what cut them
    (marked * where the cut could not change a greedy column's draw, said once at the end)."""
    lines = [f"p {shown(token['p'])} ({t('title_raw', lang)} {shown(token['raw_p'])})", f"{t('title_after', lang)}:"]
    lines += [f"  {c['text']!r} {c['p']:.3f}" for c in token.get("after", ())]
    lines += [f"{t('title_before', lang)}:"] + [
        f"  {c['text']!r} {c['p']:.3f}"
        + (
            f" ({t('cut_by', lang).format(stage=c['cut_by'])}{' *' if c['cut_by'] in inert else ''})"
            if "cut_by" in c
            else ""
        )
        for c in token.get("before", ())
    ]
    marked = sorted({c["cut_by"] for c in token.get("before", ()) if c.get("cut_by") in inert})
    lines += [f"* {stage}: {inactive_reason('greedy', stage, lang)}" for stage in marked]
    return "\n".join(lines)


def _tokens_html(record: Record, lang: str = "en") -> str:
    inert = _inert(record)
    spans = [
        f'<span class="t b{bucket_index(t["p"])}" title="{_e(_token_title(t, lang, inert))}">{_e(t["text"])}</span>'
        for t in record["tokens"]
    ]
    shown = "".join(t["text"] for t in record["tokens"])
    if record["text"].startswith(shown) and len(record["text"]) > len(shown):
        spans.append(_e(record["text"][len(shown) :]))  # released when the column ended (held back for a stop)
    return "".join(spans) or f'<span class="none">{_e(t("report_no_text", lang))}</span>'


def _inert(record: Record) -> frozenset[str]:
    try:
        return greedy_inert_stages(Settings(record["settings"]))
    except (SettingsError, KeyError, TypeError):  # an older or hand-edited file: no marks rather than no report
        return frozenset()


def _shown_settings(record: Record, group: Sequence[Record], lang: str = "en") -> str:
    """Knobs off llama.cpp's defaults or set differently somewhere in the group; the latter highlighted
    on every card, so each column shows its own value of what the comparison varies. A shown knob that
    cannot change this column's text is greyed, with the app's words for why (chains.inactive_knobs)."""
    items, notes = [], []
    inactive = _inactive(record)
    for knob in KNOBS:
        value = record["settings"].get(knob.name)
        differs = any(other["settings"].get(knob.name) != value for other in group)
        if differs or value != _plain_default(DEFAULTS[knob.name]):
            classes = " ".join(
                filter(None, ["differs" if differs else "", "inactive" if knob.name in inactive else ""])
            )
            cls = f' class="{classes}"' if classes else ""
            items.append(f"<li{cls}>{_e(knob.name)}={_e(format_value(value))}</li>")
            if knob.name in inactive:
                notes.append(f"{knob.name}: {inactive_reason(*inactive[knob.name], lang)}")
    note = "".join(f'<p class="inactive-note">{_e(line)}</p>' for line in notes)
    return f'<ul class="settings">{"".join(items)}</ul>{note}'


def _inactive(record: Record) -> dict[str, tuple[str, str]]:
    try:
        return inactive_knobs(Settings(record["settings"]))
    except (SettingsError, KeyError, TypeError):
        return {}


def _plain_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    return list(value) if isinstance(value, tuple) else value


def _ending(reason: Any, stopped_by: str | None, lang: str = "en") -> str:
    """How a column ended: its reason's own name in English (as result files write it), words in Japanese."""
    shown = str(reason) if lang == "en" else finish_reason(str(reason), lang)
    return shown + (f" {stopped_by!r}" if stopped_by else "")


def _card(record: Record, group: Sequence[Record], lang: str) -> str:
    foot = (
        f"{_ending(record['finish_reason'], record.get('stopped_by'), lang)} · {record['token_count']} "
        f"{t('report_tokens', lang)} · {t('report_mean_p', lang)} {_stat(record, 'mean_prob')}"
    )
    return (
        f'<article class="col"><h3>{_e(record["label"])}</h3>{_shown_settings(record, group, lang)}'
        f'<div class="text">{_tokens_html(record, lang)}</div><p class="foot">{_e(foot)}</p>'
        f"{token_charts(record, group, lang)}</article>"
    )


def _groups(records: Sequence[Record]) -> list[list[Record]]:
    """Records generated on the same prompt and seed, in run order."""
    groups: dict[tuple[Any, Any], list[Record]] = {}
    for record in records:
        groups.setdefault((record.get("prompt_index", 0), record["seed"]), []).append(record)
    return list(groups.values())


def _runs_html(document: Mapping[str, Any], lang: str) -> str:
    sections = []
    for group in _groups(document["columns"]):
        head = group[0]
        title = t("report_prompt", lang).format(n=head.get("prompt_index", 0) + 1, seed=head["seed"])
        sections.append(
            f"<section><h2>{_e(title)}</h2>"
            f'<p class="prompt">{_e(head.get("prompt", ""))}</p>'
            f'<div class="cols">{"".join(_card(r, group, lang) for r in group)}</div></section>'
        )
    return "".join(sections)


def _stats_html(document: Mapping[str, Any], lang: str) -> str:
    head = "".join(
        f'<th title="{_e(stat_help(s.name, s.help, lang))}">{_e(stat_label(s.name, s.label, lang))}</th>' for s in STATS
    )
    rows = "".join(
        f"<tr><th>{_e(' '.join(filter(None, [_where(r, document), r['label']])))}</th>"
        f"<td>{_e(_ending(r['finish_reason'], None, lang))}</td>{''.join(f'<td>{_stat(r, s.name)}</td>' for s in STATS)}</tr>"
        for r in document["columns"]
    )
    return (
        f'<section><h2>{_e(t("report_statistics", lang))}</h2><div class="scroll"><table><thead><tr>'
        f"<th>{_e(t('report_column', lang))}</th><th>{_e(t('report_finish', lang))}</th>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _spread_html(document: Mapping[str, Any], lang: str) -> str:
    summaries = document.get("seed_summary")
    if not summaries:
        return ""
    head = "".join(
        f'<th title="{_e(stat_help(s.name, s.help, lang))}">{_e(stat_label(s.name, s.label, lang))}</th>'
        for s in SPREAD_STATS
    )
    rows = []
    prompts = len(document.get("prompts", ())) > 1
    for summary in summaries:
        cells = "".join(f"<td>{_mean_std(summary[s.name], s.fmt)}</td>" for s in SPREAD_STATS)
        divergence = summary.get("seed_divergence")
        where = f"p{summary.get('prompt_index', 0) + 1} " if prompts else ""
        rows.append(
            f"<tr><th>{_e(where + summary['label'])}</th><td>{len(summary['seeds'])}</td>"
            f"<td>{'-' if divergence is None else f'{divergence:.3f}'}</td>{cells}</tr>"
        )
    columns = "".join(f"<th>{_e(t(key, lang))}</th>" for key in ("report_column", "report_seeds", "report_divergence"))
    return (
        f'<section><h2>{_e(t("report_across_seeds", lang))}</h2><p class="note">{_e(t("report_spread_note", lang))}'
        f'</p><div class="scroll"><table><thead><tr>{columns}{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _mean_std(spread: Mapping[str, Any], fmt: str) -> str:
    if spread.get("mean") is None:
        return "-"
    text = fmt.format(spread["mean"])
    return text if spread.get("std") is None else f"{text} ± {fmt.format(spread['std'])}"


# -- a run in progress (the app) ------------------------------------------------------------
def progress_html(columns: Sequence[Any], total: int, lang: str = "en") -> str:
    """The columns of a running experiment as they finish (engine ColumnResults): label, how each
    ended, its token count and its text, worded in ``lang``; inline styles, since it sits in the app's page."""
    box = "border:1px solid #e5e7eb;border-radius:8px;padding:.5em .7em;display:flex;flex-direction:column"
    cards = "".join(
        f'<article class="sl-progress-col" style="{box}"><strong>{_e(c.label)}</strong>'
        f'<div style="white-space:pre-wrap;flex:1;font-size:.92em">{_e(c.text)}</div>'
        f'<small style="color:#6b7280">{_e(_ending(c.finish_reason, c.stopped_by, lang))} · '
        f"{_e(t('progress_card', lang).format(tokens=len(c.tokens), seed=c.seed))}</small></article>"
        for c in columns
    )
    done = t("progress_done", lang).format(done=len(columns), total=total)
    return (
        f'<p>{_e(done)}</p><div class="sl-progress" style="display:grid;'
        f'grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:.6em">{cards}</div>'
    )


# -- sweep charts --------------------------------------------------------------------------
def sweep_series(records: Sequence[Record], knobs: Sequence[str], stat: str) -> dict[str, list[tuple[Any, float]]]:
    """Per value of the second swept knob (or one series), the stat's mean over prompts and seeds at each x."""
    points: dict[str, dict[Any, list[float]]] = {}
    for record in records:
        sweep = record.get("sweep")
        if not sweep:
            continue
        x = _hashable(sweep[knobs[0]])
        name = f"{knobs[1]}={format_value(sweep[knobs[1]])}" if len(knobs) > 1 else stat
        value = record["stats"][stat]
        if is_known(value):  # a column none of whose probabilities is known adds no point
            points.setdefault(name, {}).setdefault(x, []).append(float(value))
    return {name: [(x, math.fsum(v) / len(v)) for x, v in xs.items()] for name, xs in points.items()}


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _sweep_html(document: Mapping[str, Any], lang: str) -> str:
    knobs = document.get("sweep") or []
    if not knobs or not any(r.get("sweep") for r in document["columns"]):
        return ""
    charts = [
        line_chart(
            stat_label(stat, STAT_BY_NAME[stat].label, lang),
            sweep_series(document["columns"], knobs, stat),
            knobs[0],
            format_value,
        )
        for stat in CHART_STATS
    ]
    names = legend(list(sweep_series(document["columns"], knobs, CHART_STATS[0]))) if len(knobs) > 1 else ""
    title = t("report_sweep", lang).format(knobs=" × ".join(knobs))
    return f'<section><h2>{_e(title)}</h2>{names}<div class="charts">{"".join(charts)}</div></section>'


# -- the page --------------------------------------------------------------------------------
CSS = """
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK JP",sans-serif;color:#1f2937}
body{margin:0 auto;max-width:1400px;padding:1.2em 1.6em;background:#f8fafc}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .5em;border-bottom:1px solid #e5e7eb}
h3{font-size:1em;margin:0 0 .4em}.desc{max-width:70em;color:#374151}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;font-size:.85em;color:#4b5563}
dl.meta dt{font-weight:600}dl.meta dd{margin:0;overflow-wrap:anywhere}
.prompt{white-space:pre-wrap;background:#eef2ff;padding:.5em .8em;border-radius:6px}
.cols{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:.8em}
.col{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:.7em .8em;display:flex;flex-direction:column}
.settings{list-style:none;padding:0;margin:0 0 .5em;display:flex;flex-wrap:wrap;gap:.25em;font-size:.75em}
.settings li{background:#f1f5f9;border-radius:4px;padding:.05em .4em;font-family:ui-monospace,monospace}
.settings li.differs{background:#fde68a;color:#92400e;font-weight:600}
.settings li.inactive{opacity:.55}.inactive-note{font-size:.75em;color:#6b7280;margin:0 0 .4em}
.text{white-space:pre-wrap;line-height:1.55;flex:1;font-size:.92em}
.t{border-radius:2px;cursor:help}.t:hover{outline:1px solid #111}
.foot{font-size:.78em;color:#6b7280;margin:.5em 0 0}.none{color:#9ca3af}
table{border-collapse:collapse;font-size:.85em;background:#fff}
th,td{border:1px solid #e5e7eb;padding:.25em .55em;text-align:right;white-space:nowrap}th{background:#f1f5f9}
thead th{text-align:center}.scroll{overflow-x:auto}
tbody th{text-align:left;font-weight:500}
.charts{display:flex;flex-wrap:wrap;gap:.8em}.charts svg{background:#fff;border:1px solid #e5e7eb;border-radius:8px}
.ct{font-size:13px;font-weight:600;text-anchor:middle}.cl{font-size:11px;text-anchor:middle;fill:#4b5563}
.xt{font-size:10px;text-anchor:middle;fill:#4b5563}.yt{font-size:10px;text-anchor:end;fill:#4b5563}
.ax{stroke:#6b7280}.grid{stroke:#e5e7eb;stroke-dasharray:2 3}
.legend span{margin-right:1em;font-size:.85em}.legend i{display:inline-block;width:.9em;height:.9em;
border-radius:2px;margin-right:.3em;vertical-align:-.1em}.note{font-size:.85em;color:#4b5563;max-width:70em}
"""


def _bucket_css() -> str:
    return "".join(f".b{i}{{background:{colour}}}" for i, (_, _, colour) in enumerate(ALL_BUCKETS))


def _meta_html(document: Mapping[str, Any], lang: str) -> str:
    model, versions = document.get("model", {}), document.get("versions", {})
    rows = {
        "model": f"{model.get('name')} · {model.get('file_name')} · {model.get('file_size', 0) / 2**20:.1f} MiB",
        "sha256": model.get("sha256"),
        "date": document.get("date"),
        "mode": document["mode"]
        + (f" · {t('meta_system', lang)}: {document['system']}" if document.get("system") else ""),
        "seeds": ", ".join(map(str, document.get("seeds", []))),
        "versions": " · ".join(f"{k} {v}" for k, v in versions.items()),
        "overrides": ", ".join(f"{k}={format_value(v)}" for k, v in document.get("overrides", {}).items()) or None,
    }
    items = "".join(f"<dt>{_e(t('meta_' + k, lang))}</dt><dd>{_e(v)}</dd>" for k, v in rows.items() if v)
    words = {"p unknown": t("cat_unknown", lang)}  # the buckets are formulas; this one is a word
    swatches = " ".join(
        f'<span class="t b{i}">{_e(words.get(label, label))}</span>' for i, (_, label, _) in enumerate(ALL_BUCKETS)
    )
    return (
        f'<dl class="meta">{items}<dt>{_e(t("report_colour", lang))}</dt><dd>{swatches} '
        f"{_e(t('report_hover', lang))}</dd></dl>"
    )


def render_report(document: Mapping[str, Any], lang: str = "en") -> str:
    """The whole report as one HTML page with nothing to fetch; ``lang`` ("en" or "ja") words its headings,
    labels and explanations."""
    experiment = document.get("experiment", {})
    title = Path(str(experiment.get("file") or t("report_untitled", lang))).stem
    description = experiment.get("description") or ""
    return (
        f'<!doctype html><html lang="{"ja" if lang == "ja" else "en"}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)} · samplerlab</title><style>{CSS}{EXPLAIN_CSS}{PARTING_CSS}{STATS_CSS}{_bucket_css()}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><p class="desc">{_e(description)}</p>{_meta_html(document, lang)}</header>'
        f"{_sweep_html(document, lang)}{_runs_html(document, lang)}{parting_html(document, lang)}"
        f"{_stats_html(document, lang)}{_spread_html(document, lang)}{stats_section(document, lang)}"
        "</body></html>"
    )
