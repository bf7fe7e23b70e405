"""Tokens as a person reads them: byte tokens of one character are one span, named as that character.

The records here are shaped like result files' tokens; the last test reads a real run of the
embedded model (byte-level BPE) on a Japanese prompt, compared with itself, never with fixed text.
"""

from __future__ import annotations

from samplerlab.app.views import span_group, token_spans, why_html
from samplerlab.events import Candidate, TokenEvent
from samplerlab.report.explain_text import explanation
from samplerlab.report.tokens import character_at, groups, is_partial, readable_parting, token_repr
from samplerlab.understand.divergence import explain


def event(index: int, text: str, prob: float = 0.5, token_id: int | None = None) -> TokenEvent:
    token = index + 100 if token_id is None else token_id
    return TokenEvent(0, index, token, text, prob, prob, (Candidate(token, text or "\\xe3", prob),), (), 1, 0.0)


def test_whole_character_tokens_are_one_span_each_and_unchanged():
    """A Gemma-3-style tokenizer: every token has text, so every token is its own span, as before."""
    texts = ["発光", "ダイ", "オード", "を"]
    assert groups(texts) == [range(0, 1), range(1, 2), range(2, 3), range(3, 4)]
    spans = token_spans([event(i, text) for i, text in enumerate(texts)])
    assert [text for text, _ in spans] == texts


def test_byte_tokens_of_one_character_are_one_span_coloured_by_the_first_byte():
    tokens = [event(0, "", 0.3), event(1, "", 0.99), event(2, "発", 1.0), event(3, "光", 0.9)]
    assert groups([t.text for t in tokens]) == [range(0, 3), range(3, 4)]
    spans = token_spans(tokens)
    assert spans == [("発", "0.2 ≤ p < 0.5"), ("光", "p ≥ 0.9")]
    assert span_group(tokens, 0) == range(0, 3) and span_group(tokens, 1) == range(3, 4)
    assert span_group(tokens, 2) is None


def test_a_character_cut_off_at_the_end_is_one_marked_span_and_has_no_character():
    tokens = [event(0, "光"), event(1, "", 0.4), event(2, "", 0.9)]
    assert groups([t.text for t in tokens]) == [range(0, 1), range(1, 3)]
    assert token_spans(tokens, lang="ja")[-1] == ("…", "文字の途中で終了")
    assert character_at([t.text for t in tokens], 1) is None
    assert character_at(["", "", "発"], 0) == "発" and character_at(["発"], 0) is None


def test_partial_candidates_are_named_as_bytes_not_doubled_escapes():
    assert is_partial("\\xe3") and not is_partial("発") and not is_partial(" the")
    assert token_repr("\\xe3\\x81") == "'‹e3›‹81›'"
    assert token_repr(" the") == "' the'"
    assert "\\\\" not in token_repr("\\xe3")


def record(label: str, texts: list[str], ids: list[int]) -> dict:
    tokens = [
        {"id": i, "text": text, "p": 0.5, "raw_p": 0.5, "before": [{"id": i, "text": text or "\\xe3", "p": 0.5}]}
        for text, i in zip(texts, ids)
    ]
    return {"label": label, "seed": 0, "settings": {"temperature": 0.8}, "tokens": tokens, "text": "".join(texts)}


def test_the_why_verdict_names_the_character_a_parting_byte_token_starts():
    a = record("1 · greedy", ["詩", "", "", "発"], [1, 2, 3, 4])
    b = record("2 · creative", ["詩", "", "ド"], [1, 5, 6])
    ready = readable_parting(a, b)
    assert [t["text"] for t in ready[0]["tokens"]] == ["詩", "発", "", "発"]
    assert a["tokens"][1]["text"] == ""  # the caller's records are untouched
    verdict = explain(*ready).verdict
    assert "drew '発'" in verdict and "drew 'ド'" in verdict and "''" not in verdict
    assert "'発'" in explanation(explain(*ready), "ja") and "''" not in explanation(explain(*ready), "ja")
    html = why_html([a, b], 0, 1, "en", prefix="In a")
    assert "&#x27;In a詩&#x27;" in html  # the shared text starts with the branch's forced start


def test_a_japanese_run_of_the_embedded_model_reads_as_characters(model):
    """SmolLM2 writes kana as byte tokens: the spans join back to the text, none is empty, and the text
    ends on a whole character even when max_tokens cuts inside one."""
    from samplerlab.events import Column, Request
    from samplerlab.llama.engine import run
    from samplerlab.schema.params import Settings

    request = Request("発光ダイオードを讃える詩をつくってください")
    result = run(model, request, [Column("greedy", Settings({"temperature": 0, "max_tokens": 40}))]).columns[0]
    texts = [token.text for token in result.tokens]
    assert any(not text for text in texts)  # there are byte tokens to merge, or this test proves nothing
    spans = [text for text, _ in token_spans(result.tokens)]
    assert "".join(s for s in spans if s != "…") == result.text and all(spans)
    assert "\ufffd" not in result.text
    assert len(spans) < len(result.tokens)
