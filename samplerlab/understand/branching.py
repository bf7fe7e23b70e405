"""Branching from any token: the forced start of a reply that makes every column continue from there.

In the token view a person picks an alternative the model offered at some token (or types text);
all columns then go on from the text up to that token plus the choice, side by side, with the
same seed. The branch is just a prefix on the request (``Request.prefix``), so it is recorded in
result files and reproduced by ``run --check`` like any other input.
"""

from __future__ import annotations

from collections.abc import Sequence


def branch_prefix(texts: Sequence[str], index: int, choice: str, earlier: str = "") -> str:
    """``earlier`` (a branch this run already continued from), the column's text before token
    ``index``, then ``choice`` in place of that token."""
    if not 0 <= index <= len(texts):
        raise ValueError(f"token {index} is outside the column's {len(texts)} tokens")
    if not (earlier + "".join(texts[:index]) + choice):
        raise ValueError("the branch is empty: pick a token or type the text to continue from")
    return earlier + "".join(texts[:index]) + choice
