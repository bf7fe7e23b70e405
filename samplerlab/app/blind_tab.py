"""The Blind test tab: two replies on random sides with the settings hidden, votes by buttons or keys 1-4,
the next pair generated while the person reads, and a reveal with intervals. Callbacks call runs.blind.

One test runs per app (the group test): every browser session votes on its own pairs under its own
anonymous voter id. Served locally, whoever uses the page is the host. Shared (``--share``), the host
is the page opened with the host key the terminal prints (``?blind_host=KEY``): only the host starts,
loads, downloads, reveals and calls a judge; visitors vote, within the share limits, each on their
own pairs once (at most ``MAX_VISITORS`` of them), and see no setting and no ranking until the host
has revealed.

The judge (``runs.judge``) is a llama-server the host names by URL: its model votes on the pairs people
voted on, into the same votes file, and the reveal shows its agreement with them (Cohen's kappa).
Shared, only the host may name one: the URL is a request this machine makes, so a visitor naming one
could make the app reach what only the host's network can (SSRF); a visitor's click opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any

import gradio as gr

from ..backends import open_backend
from ..chats.chat_files import parse_messages, to_plain
from ..events import Column
from ..files.safe_yaml import load_json
from ..presets.store import PresetError, list_presets, load_preset
from ..report.blind import kappa_line, reveal_html
from ..runs.blind import BlindSession, Pair
from ..runs.judge import run_judge
from ..runs.votes import Contender, VotesError, load_votes
from ..words.blind import w
from .workbench import USER_ERRORS, Workbench

HOST_KEYS: dict[int, str] = {}  # one per Workbench (id), made when its page is built
# Shared: the visitors a group test takes. Anyone can pose as a new visitor (a new session), so this
# bounds what one stranger adds to the pooled ranking and to the file (each visitor votes their pairs once).
MAX_VISITORS = 64
ERRORS = (*USER_ERRORS, VotesError, PresetError, OSError)
CHOICE_IDS = {"A": "blind-vote-a", "B": "blind-vote-b", "tie": "blind-vote-tie", "bad": "blind-vote-bad"}
# Keys 1-4 press the vote buttons while the Blind tab is on screen and no text field has the focus.
KEYS_JS = """
document.addEventListener('keydown', (event) => {
  const ids = {'1': 'blind-vote-a', '2': 'blind-vote-b', '3': 'blind-vote-tie', '4': 'blind-vote-bad'};
  const target = event.target;
  if (!ids[event.key] || event.ctrlKey || event.metaKey || event.altKey) return;
  if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
  const button = document.getElementById(ids[event.key]);
  if (button && button.offsetParent !== null && !button.disabled) { event.preventDefault(); button.click(); }
});
"""


def host_key(bench: Workbench) -> str:
    return HOST_KEYS.setdefault(id(bench), secrets.token_urlsafe(18))


class BlindCallbacks:
    def __init__(self, bench: Workbench) -> None:
        self.bench = bench
        self.session: BlindSession | None = None

    # -- who is who ---------------------------------------------------------------------------
    def on_load(self, request: gr.Request) -> bool:
        """Whether this page is the host's: always when not shared; shared, only with the host key."""
        if not self.bench.shared:
            return True
        given = (request.query_params or {}).get("blind_host", "") if request is not None else ""
        return secrets.compare_digest(str(given), host_key(self.bench))

    @staticmethod
    def voter(request: gr.Request) -> str:
        return "voter-" + hashlib.sha256(str(request.session_hash).encode()).hexdigest()[:8]

    # -- starting -----------------------------------------------------------------------------
    def contenders(self, names: list[str], use_columns: bool, tokens: int, request: gr.Request) -> list[Contender]:
        if use_columns:
            columns = list(self.bench.last(request.session_hash).columns)
            chosen = [Contender(f"{i + 1}: {c.label}", c.settings) for i, c in enumerate(columns)]
        else:
            chosen = [Contender(n, load_preset(n, self.bench.presets_dir).settings) for n in names or []]
        chosen = [Contender(c.name, c.settings.replace(max_tokens=int(tokens))) for c in chosen]
        for contender in chosen:  # shared: every column within the share limits
            self.bench.bounded([Column(contender.name, contender.settings)], [])
        return chosen

    def start(
        self, is_host: bool, lang: str, names: list[str], use_columns: bool, prompts: str, use_chat: bool,
        seeds: float, tokens: float, mode: str, system: str, chat: str, policy: str, request: gr.Request,
    ) -> list[Any]:  # fmt: skip
        try:
            if not is_host:  # a visitor joins the host's test, if there is one
                if self.session is None:
                    raise VotesError(w("host_only", lang))
                return ["", *self.next(lang, request, is_host=False)]
            messages = to_plain(parse_messages(load_json(chat or "[]"), "conversation")) if use_chat else []
            listed = [p for p in (prompts or "").splitlines() if p.strip()] or ([""] if messages else [])
            if not listed:
                raise VotesError("give a prompt (one per line) or reply to the loaded conversation")
            path = self.bench.scratch("blind") / f"blind-{secrets.token_hex(4)}.jsonl"
            self.session = BlindSession.start(
                self.bench.backend, self.contenders(names, use_columns, int(tokens), request), listed,
                list(range(max(1, min(int(seeds or 1), 1000)))), path, mode, system or None, messages,
                policy or "error", secrets.randbelow(2**31),
            )  # fmt: skip
            self.session.seconds = self.bench.limits.seconds if self.bench.shared else None
        except ERRORS as error:
            return [self.bench.message(error, lang), *self._empty()]
        return ["", *self.next(lang, request)]

    def load(self, is_host: bool, lang: str, path: str | None, request: gr.Request) -> list[Any]:
        """Continue a votes file on this app's backend (the host's, when shared)."""
        try:
            if not is_host:
                raise VotesError(w("host_only", lang))
            if not path:
                return ["", *self._empty()]
            votes = load_votes(path)
            votes.path = self.bench.scratch("blind") / f"continued-{secrets.token_hex(4)}.jsonl"
            votes.save()
            self.session = BlindSession(self.bench.backend, votes)
            self.session.aliases[self.voter(request)] = next(iter(self.session.voters()), self.voter(request))
        except ERRORS as error:
            return [self.bench.message(error, lang), *self._empty()]
        return ["", *self.next(lang, request)]

    # -- voting -------------------------------------------------------------------------------
    def _empty(self) -> list[Any]:
        return ["", "", ""]

    def next(self, lang: str, request: gr.Request, is_host: bool = True) -> list[Any]:
        if self.session is None:
            return [w("not_started", lang), "", ""]
        voter = self._voter(request)
        refusal = None if is_host else self._visitor_refusal(voter, lang)
        if refusal is not None:
            return [refusal, "", ""]
        try:
            pair = self.session.next_pair(voter)
        except ERRORS as error:
            return [self.bench.message(error, lang), "", ""]
        return [self._header(pair, voter, lang), *pair.texts]

    def reword(self, is_host: bool, lang: str, shown: str, revealed: str, request: gr.Request) -> list[Any]:
        """After a language switch: the pair's header (the pair on screen, or the hint to start first) and a
        shown reveal, in ``lang``; nothing else changes (no pair is drawn, no vote is taken)."""
        header: Any = gr.update()
        if shown and self.session is None:
            header = w("not_started", lang)
        elif shown and self.session is not None:
            voter = self._voter(request)
            pair = self.session.shown.get(voter)
            header = gr.update() if pair is None else self._header(pair, voter, lang)
        view: Any = gr.update()
        if revealed and self.session is not None and (is_host or self.session.revealed):
            view = reveal_html(self.session.file, lang, per_voter=bool(is_host))
        return [header, view]

    def _voter(self, request: gr.Request) -> str:
        assert self.session is not None
        voter = self.voter(request)
        return self.session.aliases.get(voter, voter)

    def _header(self, pair: Pair, voter: str, lang: str) -> str:
        assert self.session is not None
        prompt = self.session.header["prompts"][pair.prompt_index]
        place = w("pair_of", lang).format(n=pair.number, p=pair.prompt_index + 1, s=pair.seed)
        count = w("voted", lang).format(n=len(self.session.person_votes(voter)))
        return f"{place} · {count}" + (f"\n\n> {prompt[:500]}" if prompt else "")

    def _visitor_refusal(self, voter: str, lang: str) -> str | None:
        """Why a visitor of a shared test gets no further pair: every pair of theirs has a vote (the
        schedule starts over only for the host), or the test already has ``MAX_VISITORS`` others."""
        assert self.session is not None
        if not self.bench.shared:
            return None
        pairs = len(self.session.pairs(voter))
        if len(self.session.person_votes(voter)) >= pairs:
            return w("visitor_done", lang).format(n=pairs)
        if voter not in self.session.voters() and len(self.session.voters()) >= MAX_VISITORS + 1:  # + the host
            return w("voters_full", lang).format(n=MAX_VISITORS)
        return None

    def vote(self, choice: str, lang: str, request: gr.Request, is_host: bool = True) -> list[Any]:
        if self.session is None:
            return [w("not_started", lang), "", ""]
        voter = self._voter(request)
        if voter not in self.session.shown:  # nothing shown yet (a visitor joining): show a pair
            return self.next(lang, request, is_host)
        refusal = None if is_host else self._visitor_refusal(voter, lang)
        if refusal is not None:
            return [refusal, "", ""]
        try:
            self.session.vote(voter, choice)
        except ERRORS as error:
            return [self.bench.message(error, lang), "", ""]
        return self.next(lang, request, is_host)

    # -- the reveal ---------------------------------------------------------------------------
    def reveal(self, is_host: bool, lang: str) -> list[Any]:
        if self.session is None:
            return [w("not_started", lang), None]
        if is_host:
            self.session.revealed = True
            download = self.bench.download(self.session.file.path.name, self.session.file.text())
            return [reveal_html(self.session.file, lang, per_voter=True), download]
        if not self.session.revealed:
            return [f"<p>{w('hidden', lang)}</p>", None]
        return [reveal_html(self.session.file, lang, per_voter=False), None]

    # -- the judge ----------------------------------------------------------------------------
    def judge(self, is_host: bool, lang: str, url: str) -> str:
        """The llama-server at ``url`` votes on the pairs people voted on (``run_judge``); the answer is its
        tally and its agreement with the people, which names no setting (the host may still be voting)."""
        if self.session is None:
            return w("not_started", lang)
        if not is_host:  # checked before the URL is even read: a visitor's click makes no request
            return w("judge_host_only", lang)
        if not (url or "").strip():
            return w("judge_no_url", lang)
        try:
            with open_backend(servers=[url.strip()]) as backend:
                name = backend.info.name or "judge"
                summary = run_judge(self.session, backend, name)
        except ERRORS as error:
            return self.bench.message(error)
        done = w("judge_done", lang).format(name=name, n=summary.votes, t=summary.ties, a=summary.abstentions)
        return f"{done}  \n{kappa_line(self.session.file, lang) or w('judge_none', lang)}"  # none: it only abstained


def blind_panel(bench: Workbench, lang: str, labels: Any, lang_state: gr.State, inputs: list[Any]) -> BlindCallbacks:
    """The tab's widgets and events; ``inputs`` are the page's mode, system prompt, conversation and policy."""
    calls = BlindCallbacks(bench)
    is_host = gr.State(not bench.shared)
    labels.add(gr.Markdown(w("intro", lang)), _said("intro"))
    with gr.Row():
        names = gr.Dropdown(
            [p.name for p in list_presets(bench.presets_dir)[0]], multiselect=True, max_choices=6,
            value=["llama.cpp defaults", "min-p creative"], label=w("contenders", lang), elem_id="blind-contenders",
        )  # fmt: skip
        use_columns = gr.Checkbox(False, label=w("use_columns", lang), elem_id="blind-use-columns")
        labels.add(names, _said("contenders"))
        labels.add(use_columns, _said("use_columns"))
    with gr.Row():
        prompts = gr.Textbox("Write a short poem praising light-emitting diodes.", lines=2, label=w("prompts", lang),
                             elem_id="blind-prompts")  # fmt: skip
        use_chat = gr.Checkbox(False, label=w("use_conversation", lang), elem_id="blind-use-chat")
        seeds = gr.Number(8, precision=0, minimum=1, maximum=1000, label=w("seeds", lang), elem_id="blind-seeds")
        tokens = gr.Number(64, precision=0, minimum=1, maximum=4096, label="max_tokens", elem_id="blind-tokens")
        for widget, key in ((prompts, "prompts"), (use_chat, "use_conversation"), (seeds, "seeds")):
            labels.add(widget, _said(key))
    with gr.Row():
        start = gr.Button(w("start", lang), variant="primary", elem_id="blind-start")
        upload = gr.File(label=w("load_votes", lang), file_types=[".jsonl"], type="filepath", elem_id="blind-load")
        labels.add(start, _said("start"))
        labels.add(upload, _said("load_votes"))
    status = labels.note(gr.Markdown(elem_id="blind-status"))
    header = gr.Markdown(elem_id="blind-pair")
    with gr.Row():
        left = gr.Textbox(label=w("left", lang), lines=8, interactive=False, elem_id="blind-left")
        right = gr.Textbox(label=w("right", lang), lines=8, interactive=False, elem_id="blind-right")
        labels.add(left, _said("left"))
        labels.add(right, _said("right"))
    with gr.Row():
        buttons = {
            c: labels.add(gr.Button(w(f"vote_{c}", lang), elem_id=i), _said(f"vote_{c}")) for c, i in CHOICE_IDS.items()
        }
    with gr.Row():
        judge_url = gr.Textbox(
            label=w("judge_url", lang), placeholder="http://127.0.0.1:8080", info=w("judge_info", lang),
            elem_id="blind-judge-url", scale=3,
        )  # fmt: skip
        judge = gr.Button(w("judge", lang), elem_id="blind-judge", scale=1)
        labels.add(judge_url, _said("judge_url"), _said("judge_info"))
        labels.add(judge, _said("judge"))
    judged = labels.note(gr.Markdown(elem_id="blind-judge-status"))
    reveal = labels.add(gr.Button(w("reveal", lang), elem_id="blind-reveal"), _said("reveal"))
    shown = gr.HTML(elem_id="blind-reveal-view", js_on_load=KEYS_JS)
    download = labels.add(
        gr.File(label=w("votes_file", lang), interactive=False, elem_id="blind-download"), _said("votes_file")
    )
    pair_out = [header, left, right]
    start.click(
        calls.start, [is_host, lang_state, names, use_columns, prompts, use_chat, seeds, tokens, *inputs],
        [status, *pair_out], api_visibility="private",
    )  # fmt: skip
    upload.upload(calls.load, [is_host, lang_state, upload], [status, *pair_out], api_visibility="private")
    for choice, button in buttons.items():
        button.click(
            _voting(calls, choice), [is_host, lang_state], pair_out, api_visibility="private", concurrency_limit=None
        )  # fmt: skip
    judge.click(calls.judge, [is_host, lang_state, judge_url], judged, api_visibility="private")
    reveal.click(calls.reveal, [is_host, lang_state], [shown, download], api_visibility="private")
    calls.host_state = is_host  # type: ignore[attr-defined]  # for ui.py's demo.load
    calls.reworded = ([is_host, header, shown], [header, shown])  # type: ignore[attr-defined]  # for the switch
    return calls


def _said(key: str) -> Callable[[str], str]:
    """The blind test's word ``key`` in a language, for the page's language switch (``Labels``)."""
    return lambda lang: w(key, lang)


def _voting(calls: BlindCallbacks, choice: str):
    def handler(is_host: bool, lang: str, request: gr.Request) -> list[Any]:
        return calls.vote(choice, lang, request, bool(is_host))

    return handler
