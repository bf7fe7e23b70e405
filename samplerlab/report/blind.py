"""A blind test's reveal as text and HTML: ranking with intervals, win matrix, votes per pair, verdicts,
left-side share, per-voter rankings and the judge's agreement with the person.

The CLI prints ``reveal_text``, the app shows ``reveal_html`` and ``votes_report`` writes it as a
self-contained page. Names, prompts and voter ids come from a file anyone may have written: escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from ..runs.votes import VoteRecord, VotesFile, judge_pairs
from ..understand.ranking import Ranking, cohen_kappa, rank
from ..words.blind import w

CSS = """
.blind table{border-collapse:collapse;margin:.4em 0}.blind td,.blind th{border:1px solid #ccc;padding:.2em .6em;text-align:right}
.blind th:first-child,.blind td:first-child{text-align:left}.blind .bar{display:inline-block;height:.7em;background:#4a7bd0}
.blind .verdict{font-weight:600}
"""


def ranking_of(votes: VotesFile, person: Sequence[VoteRecord] | None = None) -> Ranking:
    return rank(votes.names, [v for v in votes.votes if v.judge is None] if person is None else list(person))


def kappa_line(votes: VotesFile, lang: str = "en") -> str | None:
    """Cohen's kappa between the judge and the person, or None when no judge voted."""
    if not any(v.judge for v in votes.votes):
        return None
    person, judge = judge_pairs(votes.votes)
    if not person:
        return w("judge_none", lang)
    kappa = cohen_kappa(person, judge)
    return w("judge_kappa", lang).format(k="?" if math.isnan(kappa) else f"{kappa:.2f}", n=len(person))


def voters_of(votes: VotesFile) -> list[str]:
    return list(dict.fromkeys(v.voter for v in votes.votes if v.judge is None))


def reveal_text(votes: VotesFile, lang: str = "en", per_voter: bool = True) -> str:
    ranking = ranking_of(votes)
    lines = [ranking.text(lang), w("how_n", lang), w("ties_rule", lang).format(n=ranking.bad)]
    kappa = kappa_line(votes, lang)
    if kappa:
        lines.append(kappa)
    voters = voters_of(votes)
    if per_voter and len(voters) > 1:
        for voter in voters:
            mine = [v for v in votes.votes if v.judge is None and v.voter == voter]
            lines += ["", f"{w('voters', lang)}: {voter} ({len(mine)})", rank(votes.names, mine).text(lang)]
    return "\n".join(lines)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def ranking_html(ranking: Ranking, lang: str = "en") -> str:
    rows = "".join(
        f"<tr><td>{place}. {_e(ranking.names[i])}</td><td>{ranking.strengths[i]:+.2f}</td>"
        f"<td>[{ranking.low[i]:+.2f}, {ranking.high[i]:+.2f}]</td></tr>"
        for place, i in enumerate(ranking.order, 1)
    )
    names = ranking.names
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    matrix = "".join(
        f"<tr><td>{_e(a)}</td>"
        + "".join("<td>-</td>" if i == j else f"<td>{ranking.wins[i][j]:g}</td>" for j in range(len(names)))
        + "</tr>"
        for i, a in enumerate(names)
    )
    pairs = "".join(
        f"<tr><td>{_e(names[i])} / {_e(names[j])}</td><td>{ranking.pair_votes[i][j]}</td></tr>"
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if ranking.pair_votes[i][j]
    )
    verdicts = "".join(f'<p class="verdict">{_e(v.line(lang))}</p>' for v in ranking.verdicts)
    return (
        f"{verdicts}<p>{_e(w('ranking_head', lang))}</p><table>{rows}</table>"
        f"<p>{_e(w('matrix_head', lang))}</p><table><tr><th></th>{head}</tr>{matrix}</table>"
        f"<p>{_e(w('pairs_head', lang))}</p><table>{pairs}</table>"
        f"<p>{_e(ranking.left_line(lang))}</p><p><small>{_e(w('how_n', lang))} "
        f"{_e(w('ties_rule', lang).format(n=ranking.bad))}</small></p>"
    )


def reveal_html(votes: VotesFile, lang: str = "en", per_voter: bool = True) -> str:
    parts = [f'<div class="blind"><style>{CSS}</style>', ranking_html(ranking_of(votes), lang)]
    kappa = kappa_line(votes, lang)
    if kappa:
        parts.append(f"<p>{_e(kappa)}</p>")
    voters = voters_of(votes)
    if per_voter and len(voters) > 1:
        parts.append(f"<h3>{_e(w('pooled', lang))}: {len(voters)}</h3><h3>{_e(w('voters', lang))}</h3>")
        for voter in voters:
            mine = [v for v in votes.votes if v.judge is None and v.voter == voter]
            parts.append(f"<h4>{_e(voter)} ({len(mine)})</h4>{ranking_html(rank(votes.names, mine), lang)}")
    return "".join(parts) + "</div>"


def votes_report(votes: VotesFile, lang: str = "en") -> str:
    """A self-contained HTML page: the test's prompts and contenders, then the reveal."""
    header = votes.header
    prompts = "".join(f"<li><pre>{_e(p)}</pre></li>" for p in header["prompts"])
    contenders = "".join(f"<li>{_e(c.name)}: <code>{_e(c.settings.changed())}</code></li>" for c in votes.contenders)
    model = header["model"]
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{_e(w("report_head", lang))}</title>'
        f"</head><body><h1>{_e(w('report_head', lang))}</h1><p>{_e(model.get('name') or model.get('file_name'))} "
        f"({_e(model.get('file_name'))}, sha256 {_e((model.get('sha256') or '?')[:12])})</p>"
        f"<ol>{prompts}</ol><ul>{contenders}</ul>{reveal_html(votes, lang)}</body></html>"
    )
