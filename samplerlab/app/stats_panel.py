"""The Compare tab's "seeds per column": the page's columns run on S seeds in one batched job, each column's
S texts (one open, the rest a click away) and every figure as a distribution with its 95% interval, the
paired tests' verdicts and the quality-diversity chart. The callback translates widgets; runs.seeded runs,
runs.stats computes and report.stats_html draws."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from ..chats.chat_files import parse_policy
from ..chats.conversation import parse_history
from ..events import Column, Request
from ..report.stats_html import CSS, report_html, seed_texts_html
from ..runs.experiments import SEED
from ..runs.seeded import run_on_seeds, seed_list
from ..runs.stats import StatsError, across_seeds
from ..words.errors_ja import localize
from ..words.i18n import t
from ..words.stats_words import w
from .widgets import RUN_KNOBS, column_settings, run_level_values, split_columns
from .workbench import USER_ERRORS, Workbench

MAX_SEEDS_PER_COLUMN = 16


class SeedStats:
    def __init__(self, bench: Workbench) -> None:
        self.bench = bench

    def run(
        self, request: gr.Request, seeds: float, lang: str, mode, system, prompt, chat, policy, prefix, count, *flat
    ):
        """The visible columns on ``seeds`` seeds from the page's seed, as one batched job; the stats as HTML."""
        if int(seeds) < 2:
            return f'<p class="note">{html.escape(w("one_seed_page", lang))}</p>'
        try:
            with self.bench.session_run(request.session_hash) as cancel, self.bench.turns.take(cancel) as ours:
                if not ours:
                    return ""
                asked = Request(
                    prompt, mode, system or None, parse_history(chat), str(parse_policy(policy)), prefix or ""
                )
                run_level = run_level_values(*flat[: len(RUN_KNOBS)])
                raw_columns = split_columns(list(flat[len(RUN_KNOBS) :]))[: int(count)]
                columns = [
                    Column(f"{t('column', lang)} {i + 1}", column_settings(raw, run_level, i))
                    for i, raw in enumerate(raw_columns)
                ]
                notes: list[str] = []
                columns = self.bench.bounded(columns, notes)
                with self.bench.deadline(cancel, notes):
                    _, records = run_on_seeds(
                        self.bench.backend, asked, columns, seed_list(run_level[SEED], int(seeds)), cancel
                    )
            return _page(records, notes, lang)
        except (*USER_ERRORS, StatsError) as error:
            raise gr.Error(self.bench.message(error, lang), print_exception=False) from None


def _page(records: list[dict[str, Any]], notes: list[str], lang: str) -> str:
    noted = "".join(f'<p class="note">{html.escape(localize(note, lang))}</p>' for note in notes)
    return f"<style>{CSS}</style>{noted}{seed_texts_html(records, lang)}{report_html(across_seeds(records), lang)}"


def stats_panel(bench: Workbench, labels: Any, lang: str, run_inputs: list[Any]) -> None:
    """An accordion under the columns: seeds per column (1 keeps the page as it is), a button, the stats."""
    calls = SeedStats(bench)
    with labels.add(gr.Accordion(w("stats_title", lang), open=False), lambda lang_: w("stats_title", lang_)):
        seeds = labels.add(
            gr.Slider(
                1,
                MAX_SEEDS_PER_COLUMN,
                value=1,
                step=1,
                label=w("seeds_per_column", lang),
                info=w("seeds_per_column_info", lang),
                elem_id="seeds-per-column",
            ),
            lambda lang_: w("seeds_per_column", lang_),
            lambda lang_: w("seeds_per_column_info", lang_),
        )
        button = labels.add(gr.Button(w("run_seeds", lang), elem_id="run-seeds"), lambda lang_: w("run_seeds", lang_))
        shown = gr.HTML(elem_id="seed-stats")
    button.click(calls.run, [seeds, *run_inputs], shown, concurrency_limit=None, api_visibility="private")
