"""Probability buckets of a token: what colour the app's token view and the HTML report give a probability."""

from __future__ import annotations

from ..events import is_known

# Probability buckets for the token view: (lower bound, label, colour). Labels are the categories.
BUCKETS: tuple[tuple[float, str, str], ...] = (
    (0.9, "p ≥ 0.9", "#d9f2d9"),
    (0.5, "0.5 ≤ p < 0.9", "#b9e3a8"),
    (0.2, "0.2 ≤ p < 0.5", "#ffe08a"),
    (0.05, "0.05 ≤ p < 0.2", "#ffb366"),
    (0.0, "p < 0.05", "#ff7f7f"),
)
UNKNOWN_BUCKET = (0.0, "p unknown", "#e5e7eb")  # a token llama-server did not report (runs.metrics.known)
ALL_BUCKETS = (*BUCKETS, UNKNOWN_BUCKET)


def bucket_index(prob: float | None) -> int:
    """Which of ``ALL_BUCKETS`` a probability falls in; an unknown one (None, NaN) in the last."""
    if prob is None or not is_known(prob):
        return len(BUCKETS)
    return next((i for i, (low, _, _) in enumerate(BUCKETS) if prob >= low), len(BUCKETS) - 1)
