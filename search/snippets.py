"""Snippets: a short window of a passage around the first query term it contains.

The snippet is plain text. Highlighting happens where the text is rendered (the page escapes the
document text first, then marks the terms), because document text is untrusted.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_CHARS = 240


def query_terms(query: str) -> list[str]:
    """Lower-cased words of the query worth highlighting (two letters or more)."""
    return [w for w in dict.fromkeys(w.lower() for w in _WORD.findall(query)) if len(w) > 1]


def make_snippet(text: str, query: str, width: int = SNIPPET_CHARS) -> str:
    """A window of about ``width`` characters centred on the first query term, cut at spaces."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    lowered = flat.lower()
    positions = [
        m.start() for t in query_terms(query) if (m := re.search(rf"\b{re.escape(t)}", lowered))
    ]
    centre = min(positions) if positions else 0
    start = max(0, min(centre - width // 3, len(flat) - width))
    end = min(len(flat), start + width)
    if start > 0:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < centre else start
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > centre else end
    return ("… " if start > 0 else "") + flat[start:end] + (" …" if end < len(flat) else "")
