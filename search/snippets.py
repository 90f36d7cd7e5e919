"""Snippets: a short window of a passage around the first query term it contains.

The snippet is plain text. Highlighting happens where the text is rendered (the page escapes the
document text first, then marks the terms), because document text is untrusted.

A search builds one ``SnippetMaker`` for its query and calls it for each hit it returns: the
query's terms become one compiled pattern (``\\b(?:term|term|...)``), searched once per passage.
The leftmost match of that alternation is the leftmost match of any one term, so the window is
the one a search per term finds. Only the first ``MAX_SNIPPET_TERMS`` distinct terms count.
Measured on a 1,700-character passage (a loaded 2-core machine): one regular expression per
term per passage cost 5 to 9 ms a snippet for a 2,000-character query of 272 distinct words,
and 16 to 27 ms for one of 667 short words (more patterns than ``re``'s cache keeps, so each
was compiled again); one pattern of 32 terms costs 0.02 to 0.04 ms a snippet, and 0.1 ms once
per search to build.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_CHARS = 240
#: Distinct query terms a snippet looks for: a query typed by a person has far fewer; a pasted
#: paragraph is centred on the first of its first 32 words found, which is as good a window.
MAX_SNIPPET_TERMS = 32


def query_terms(query: str) -> list[str]:
    """Lower-cased words of the query worth highlighting (two letters or more), each once."""
    return [w for w in dict.fromkeys(w.lower() for w in _WORD.findall(query)) if len(w) > 1]


class SnippetMaker:
    """The snippets of one query: its pattern is compiled once, here, for every passage after.

    ``terms``: the first ``MAX_SNIPPET_TERMS`` distinct terms; ``pattern``: their one compiled
    pattern (None for a query without a term: the window then starts at the passage's start).
    """

    def __init__(self, query: str, width: int = SNIPPET_CHARS) -> None:
        self.width = width
        self.terms: tuple[str, ...] = tuple(query_terms(query)[:MAX_SNIPPET_TERMS])
        alternation = "|".join(re.escape(term) for term in self.terms)
        self.pattern: re.Pattern[str] | None = (
            re.compile(rf"\b(?:{alternation})") if self.terms else None
        )

    def __call__(self, text: str) -> str:
        """A window of about ``width`` characters centred on the first query term, cut at
        spaces."""
        width = self.width
        flat = " ".join(text.split())
        if len(flat) <= width:
            return flat
        found = self.pattern.search(flat.lower()) if self.pattern is not None else None
        return window(flat, found.start() if found is not None else 0, width)


def window(flat: str, centre: int, width: int) -> str:
    """About ``width`` characters of ``flat`` around ``centre`` (a third before it), cut at
    spaces, with "…" where text was left out."""
    start = max(0, min(centre - width // 3, len(flat) - width))
    end = min(len(flat), start + width)
    if start > 0:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < centre else start
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > centre else end
    return ("… " if start > 0 else "") + flat[start:end] + (" …" if end < len(flat) else "")
