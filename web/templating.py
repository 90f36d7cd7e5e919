"""Jinja2 templates and the filters they share."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from search.snippets import query_terms
from web.listing import header_links

# Endings a highlighted word may carry beyond the query's form of it ("trace" marks "traces").
_ENDINGS = r"(?:s|es|ed|d|ing|er|ers)?"

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def highlight(text: str, query: str) -> Markup:
    """Escape the (untrusted) document text first, then wrap query terms in <mark>.

    Whole words only (with a plural or verb ending), and not stop words unless the query has
    nothing else: marking "in" inside "integers" or every "the" hides the words that matter."""
    escaped = str(escape(text))
    words = query_terms(query)
    words = [w for w in words if w not in ENGLISH_STOP_WORDS] or words
    terms = [re.escape(str(escape(t))) for t in words]
    if not terms:
        return Markup(escaped)
    # Never inside an entity the escaping made (`&lt;`, `&#39;`): a query "lt" must not split it.
    pattern = re.compile(
        r"(?<![&#])\b((?:" + "|".join(terms) + r")" + _ENDINGS + r")\b", re.IGNORECASE
    )
    return Markup(pattern.sub(r"<mark>\1</mark>", escaped))


def filesize(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


templates.env.filters["highlight"] = highlight
templates.env.filters["filesize"] = filesize
# The /documents headers when a caller renders the template without sorting (unsorted links).
templates.env.globals["default_document_columns"] = header_links(
    sort=None, order="asc", name="", tags=()
)
