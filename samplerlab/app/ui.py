"""The Gradio Blocks app: its tabs put together (build_app) and launched (serve).

The tabs' layouts and callbacks live in their own modules (compare_tab and callbacks, presets_tab and
preset_calls, model_panel, experiments_tab, history_tab, blind_tab); this one wires what crosses them:
the language switch, what a model load retires, and what a page (re)load refreshes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no request leaves the machine uninvited

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from ..report.explain_html import CSS as WHY_CSS
from ..words import i18n
from ..words.blind import w as blind_word
from ..words.i18n import t
from .blind_tab import blind_panel, host_key
from .callbacks import MAX_COLUMNS, Callbacks
from .compare_tab import compare_panel
from .experiments_tab import experiments_panel
from .guard import LoginThrottle, RequestGuard
from .history_tab import history_panel
from .labels import Labels
from .model_panel import model_panel
from .presets_tab import presets_panel
from .run_views import QUIET, reword_on_switch
from .share import DELETE_CACHE, UPLOAD_BUDGET, UPLOAD_FILE_BYTES
from .stats_panel import stats_panel
from .views import CSS as VIEW_CSS
from .widgets import describe_columns
from .workbench import Workbench

CSS = VIEW_CSS + WHY_CSS
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "SFMono-Regular", "monospace"]
)  # no web fonts


def build_app(bench: Workbench, lang: str = "en", shared: bool = False) -> gr.Blocks:
    calls, labels, shared = Callbacks(bench), Labels(), shared or bench.shared
    with gr.Blocks(title="samplerlab", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        lang_state = gr.State(lang)
        with gr.Row():
            labels.add(gr.Markdown(_title(lang)), _title)
            language = gr.Radio(list(i18n.LANGUAGES), value=lang, label=t("language", lang), scale=0, min_width=160)
        model_info, model_loads = model_panel(calls, labels, lang, shared, lang_state)
        with gr.Tab("Compare") as compare_tab:
            run_inputs, run_outputs, columns, count, why = compare_panel(calls, labels, lang, lang_state)
            stats_panel(bench, labels, lang, run_inputs)  # seeds per column (issue 18)
        labels.add(compare_tab, lambda lang_: "Compare" if lang_ == "en" else "比較")
        with gr.Tab(t("presets", lang)) as presets_tab:
            writable = not shared or bench.writes == "presets"
            shown, source, about = presets_panel(calls, labels, lang, columns, lang_state, writable)
        labels.add(presets_tab, "presets")
        with gr.Tab(t("experiments", lang)) as experiments_tab:
            experiments_panel(bench, lang, shared, labels, lang_state)
        labels.add(experiments_tab, "experiments")
        with gr.Tab(t("history", lang)) as history_tab:
            history, table, picked = history_panel(
                calls,
                labels,
                lang,
                lang_state,
                run_inputs[1:],
                run_outputs,
                [chart for c in columns for chart in (c["chart"], c["entropy_chart"])],
                MAX_COLUMNS,
                shared,
            )
        labels.add(history_tab, "history")
        history_tab.select(history.listing, lang_state, [table, picked], queue=False, api_visibility="private")
        language.change(history.table, language, table, queue=False, api_visibility="private")  # keeps the pick
        with gr.Tab(blind_word("tab", lang)) as blind_tab:  # mode, system prompt, conversation, policy
            blind = blind_panel(bench, lang, labels, lang_state, [run_inputs[i] for i in (1, 2, 4, 5)])
        labels.add(blind_tab, lambda lang_: blind_word("tab", lang_))
        demo.load(blind.on_load, None, blind.host_state, queue=False, api_visibility="private")
        language.change(
            lambda lang_: [lang_, *labels.updates(lang_)],
            language,
            [lang_state, *(w for w, _, _ in labels.widgets)],
            queue=False,
            api_visibility="private",
        )
        # What is already on screen follows the language too: notes, marks and the last run's stats.
        marked = [w for c in columns for w in c["knobs"]]  # describe_columns: notes and marks per column
        marks_in, marks_out = [count, *marked], [*(c["note"] for c in columns), *marked]
        language.change(
            describe_columns,
            [language, *marks_in],
            marks_out,
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
        language.change(
            calls.restats,
            language,
            run_outputs[-MAX_COLUMNS:],
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
        language.change(calls.describe_preset, [language, shown], about, **QUIET)
        language.change(lambda: [""] * len(labels.notes), None, labels.notes, **QUIET)  # Labels.note
        (host, header, revealed), reworded = blind.reworded
        language.change(blind.reword, [host, language, header, revealed], reworded, **QUIET)
        reword_on_switch(language, calls, columns, why)  # the last run's panels, charts and token views
        retire, retire_in, retire_out = columns[0]["retire"]
        for loaded in model_loads:  # another model: the last run's explanations are of the one before
            loaded.success(retire, retire_in, retire_out, queue=False, show_progress="hidden", api_visibility="private")
        # Only visible columns can be saved as presets.
        count.change(
            lambda n: gr.update(choices=[str(i + 1) for i in range(int(n))], value="1"),
            count,
            source,
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
        demo.load(
            describe_columns,
            [lang_state, *marks_in],
            marks_out,
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )  # marks from the start
        # Another session may have loaded a model or saved a preset since the page was built.
        demo.load(
            calls.refresh,
            lang_state,
            [model_info, shown, *(c["preset"] for c in columns)],
            queue=False,
            api_visibility="private",
        )
        # Started at once (the model's lock orders the runs), so a client's second call while its first
        # waits or runs is refused at once instead of queueing ahead of other visitors.
        gr.api(calls.compare_api, api_name="compare", concurrency_limit=None)
        gr.api(calls.preset_api, api_name="preset")
        gr.api(calls.save_preset_api, api_name="save_preset")
    return demo


def _title(lang: str) -> str:
    return f"## {t('title', lang)}\n{t('subtitle', lang)}"


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """'user:password', or a file with one 'user:password' per line."""
    if not value:
        return None
    lines = Path(value).read_text(encoding="utf-8").splitlines() if Path(value).is_file() else [value]
    pairs = [tuple(line.strip().split(":", 1)) for line in lines if line.strip() and not line.startswith("#")]
    if not pairs or any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
        raise ValueError("--auth: expected user:password, or a file with one user:password per line")
    return pairs  # type: ignore[return-value]


def serve(
    bench: Workbench,
    lang: str = "en",
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    auth: list[tuple[str, str]] | None = None,
    block: bool = True,
    say=print,
    upload_budget: int = UPLOAD_BUDGET,
) -> tuple[gr.Blocks, str, str | None]:
    """Launch the app; a share link that cannot be made is reported and the app keeps serving locally."""
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: any local client, the tunnel included,
    # could then pose as any address to the login backoff; trust a proxy only where the host says so
    os.environ.setdefault("FORWARDED_ALLOW_IPS", "")
    demo = build_app(bench, lang, shared=share)
    demo.queue(default_concurrency_limit=1, max_size=64)
    throttle = LoginThrottle()  # one for both launches below: failures before a retry still count

    def launch(with_share: bool) -> tuple[Any, str, str | None]:
        uploads = lambda: demo.upload_file_set  # noqa: E731
        guard = Middleware(RequestGuard, throttle=throttle, uploads=uploads, budget=upload_budget)
        return demo.launch(
            server_name=host,
            server_port=port,
            share=with_share,
            auth=auth,
            theme=THEME,
            css=CSS,
            quiet=True,
            max_file_size=UPLOAD_FILE_BYTES,
            prevent_thread_lock=True,
            show_error=False,
            app_kwargs={"middleware": [guard]},  # a new dict per launch: Gradio adds its own keys to it
            footer_links=["api"],
        )

    if share and not auth:
        say("!" * 72 + f"\n!! {t('share_warning', 'en')}\n!! Add --auth user:password to restrict it.\n" + "!" * 72)
    try:
        _, local_url, share_url = launch(share)
    except Exception as error:  # gradio raises various errors when the tunnel is unreachable
        if not share:
            raise
        say(f"Could not create a share link ({str(error).splitlines()[0]}); serving locally only.")
        _, local_url, share_url = launch(False)
    if share and not share_url:
        say("Could not create a share link (no internet connection?); serving locally only.")
    say(f"samplerlab is running at {local_url}" + (f" and {share_url}" if share_url else ""))
    if bench.shared:  # the one page that may start, reveal and download the group's blind test
        say(f"blind test host page (keep it to yourself): {local_url}?blind_host={host_key(bench)}")
    if block:
        demo.block_thread()
    return demo, local_url, share_url
