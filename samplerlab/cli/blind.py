"""`samplerlab votes` (the ranking of a votes file, its report and its check) and `samplerlab blind` (the
blind test in a terminal). Thin: the library runs the test, ranks and writes; this reads keys and prints."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from ..chats.chat_files import load_chat, to_plain
from ..presets.store import load_preset
from ..report.blind import reveal_text, votes_report
from ..runs.blind import BlindSession, Pair, check_votes
from ..runs.votes import CHOICES, Contender, VotesError, load_votes
from ..schema.load_settings import LoadSettings
from ..words.blind import w
from ..words.cli_words import say
from ..words.errors_ja import localize
from .common import USER_ERRORS, fail, lang_of, model_options, open_model, server_options
from .output import echo

LANG = click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True)


@click.command("votes")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write an HTML report.")
@click.option("--check", is_flag=True, help="Generate every recorded text again and compare (like run --check).")
@click.option(
    "--judge",
    "judge_url",
    default=None,
    metavar="URL",
    help="First let the model of this llama-server vote the pairs people voted on (twice, both orders); "
    "its votes are added to FILE, marked as the judge's.",
)
@LANG
@server_options
def votes_command(
    file: Path,
    out: Path | None,
    check: bool,
    judge_url: str | None,
    lang: str,
    servers: tuple[str, ...],
    api_key: str | None,
) -> None:
    """Print the ranking of a blind test's votes FILE: strengths with intervals, wins, verdicts."""
    lang = lang_of()  # the command's --lang, else `samplerlab --lang`
    try:
        votes = load_votes(file)
        if judge_url is not None:
            _judge(votes, judge_url, api_key, lang)
        echo(reveal_text(votes, lang))
        if out is not None:
            out.write_text(votes_report(votes, lang), encoding="utf-8")
            echo(say("wrote", lang, path=out))
        if check:
            from ..runs.runner import opened_backend

            model = votes.header["model"]
            with opened_backend(
                model["spec"], LoadSettings(model.get("load") or {}, "load"), servers, api_key
            ) as backend:
                report = check_votes(backend, votes)
            echo(localize(report.describe().replace("columns", "texts"), lang))
            if not report.reproduced:
                raise SystemExit(1)
    except (KeyError, TypeError) as error:
        fail(VotesError(f"{file}: not a samplerlab votes file (missing {error})"))
    except USER_ERRORS as error:
        fail(error)


def _judge(votes, url: str, api_key: str | None, lang: str) -> None:
    from ..backends import open_backend
    from ..runs.judge import run_judge

    with open_backend(servers=[url], api_key=api_key) as judge:
        summary = run_judge(BlindSession(judge, votes), judge)
    echo(say("judge", lang, votes=summary.votes, ties=summary.ties, abstentions=summary.abstentions))


def _seeds(text: str) -> list[int]:
    """'4' -> seeds 0..3; '0,7,9' -> those seeds."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected a count (4) or a list of seeds (0,7,9)") from None
    if len(values) == 1 and "," not in text:
        if not 1 <= values[0] <= 1000:
            raise click.BadParameter(f"{text!r}: expected 1 to 1000 seeds")
        return list(range(values[0]))
    if not values or any(not 0 <= v < 2**32 for v in values):
        raise click.BadParameter(f"{text!r}: seeds are 0 to 4294967295")
    return values


@click.command("blind")
@click.option("--preset", "presets", multiple=True, metavar="NAME", help="A contender (2 to 6; repeat).")
@click.option("--prompt", "prompts", multiple=True, help="A prompt (repeat for a list).")
@click.option("--chat", "chat_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Reply to this conversation's last user turn instead (SillyTavern, Open WebUI, OpenAI json).")  # fmt: skip
@click.option("--system", default=None, help="System prompt (chat mode).")
@click.option("--seeds", default="4", show_default=True, help="How many seeds (4: 0..3), or a list (0,7,9).")
@click.option("--max-tokens", type=click.IntRange(1, 4096), default=96, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A new votes file (default: blind-<time>.jsonl).")  # fmt: skip
@click.option("--continue", "resume", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Continue voting in this votes file.")  # fmt: skip
@click.option("--voter", default=None, help="Your voter id (default: a random anonymous one; kept to continue).")
@LANG
@model_options
def blind_command(
    presets: tuple[str, ...], prompts: tuple[str, ...], chat_file: Path | None, system: str | None, seeds: str,
    max_tokens: int, out: Path | None, resume: Path | None, voter: str | None, lang: str,
    model_path: str | None, hf_repo: str | None, hf_file: str | None, load_text: str,
    servers: tuple[str, ...], api_key: str | None,
) -> None:  # fmt: skip
    """The blind test in a terminal: two replies, A and B, settings hidden; 1-4 to vote, r to reveal, q to quit."""
    lang = lang_of()
    try:
        if resume is not None:
            votes = load_votes(resume)
            model = votes.header["model"]
            from ..runs.runner import opened_backend

            with opened_backend(
                model["spec"], LoadSettings(model.get("load") or {}, "load"), servers, api_key
            ) as backend:
                session = BlindSession(backend, votes)
                voter = voter or next(iter(session.voters()), None) or _anonymous()
                _loop(session, voter, lang)
            return
        if not 2 <= len(presets) <= 6:
            raise click.UsageError("give 2 to 6 contenders with --preset NAME")
        contenders = [Contender(n, load_preset(n).settings.replace(max_tokens=max_tokens)) for n in presets]
        messages = to_plain(load_chat(chat_file)) if chat_file else []
        listed = list(prompts) or ([""] if messages else [])
        if not listed:
            raise click.UsageError("give --prompt TEXT (repeat for a list) or --chat FILE")
        target = out or Path(f"blind-{uuid.uuid4().hex[:8]}.jsonl")
        with open_model(model_path, hf_repo, hf_file, load_text, servers, api_key) as backend:
            mode = "chat" if backend.info.chat_template else "raw"
            session = BlindSession.start(
                backend, contenders, listed, _seeds(seeds), target, mode, system, messages, "drop_oldest"
            )
            _loop(session, voter or _anonymous(), lang)
    except USER_ERRORS as error:
        fail(error)


def _anonymous() -> str:
    return f"voter-{uuid.uuid4().hex[:6]}"


def _show(pair: Pair, total: int, lang: str, prompt: str) -> None:
    echo("")
    echo(w("pair_of", lang).format(n=pair.number, p=pair.prompt_index + 1, s=pair.seed) + f" / {total}")
    if prompt:
        echo(f"> {prompt}")
    for label, text in zip(("A", "B"), pair.texts):
        echo(f"--- {label} " + "-" * 40)
        echo(text.strip() or say("empty_reply", lang))
    echo("-" * 46)
    echo(w("terminal_keys", lang))


@contextlib.contextmanager
def _keys() -> Iterator[Callable[[], str]]:
    """One key at a time, unechoed, for the whole test: the terminal stays in cbreak mode throughout, so a
    key typed while a pair is generating is kept (click.getchar flushes input typed before it is called).
    Without a terminal (a pipe), characters are read as they come; at the end of input, q."""
    if not sys.stdin.isatty():
        yield lambda: sys.stdin.read(1) or "q"
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd, termios.TCSANOW)
    try:
        yield lambda: os.read(fd, 1).decode("latin-1") or "q"
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def _loop(session: BlindSession, voter: str, lang: str) -> None:
    """Show a pair, read one key, record; the next pair is generated while the person reads this one."""
    with _keys() as read:
        try:
            _vote_loop(session, voter, lang, read)
        except KeyboardInterrupt:
            pass
        finally:
            session.close()  # before the backend closes: the next pair may be generating
    echo(say("blind_wrote", lang, path=session.file.path, n=len(session.file.votes), voter=voter))


def _vote_loop(session: BlindSession, voter: str, lang: str, read: Callable[[], str]) -> None:
    keys = dict(zip("1234", CHOICES))
    total = len(session.pairs(voter))
    while True:
        echo(w("generating", lang), err=True)
        pair = session.next_pair(voter)
        _show(pair, total, lang, session.header["prompts"][pair.prompt_index])
        while True:
            key = read()
            if key in keys:
                session.vote(voter, keys[key])
                echo(f"{w('vote_' + keys[key], lang)} · {w('voted', lang).format(n=len(session.person_votes(voter)))}")
                break
            if key in ("r", "R"):
                echo(reveal_text(session.file, lang))
                echo(w("terminal_keys", lang))
            elif key in ("q", "Q", "\x04"):
                return
