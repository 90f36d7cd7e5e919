"""Jinja2 templates and the filters they share."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from search.snippets import MAX_SNIPPET_TERMS, query_terms
from web.listing import header_links

# Endings a highlighted word may carry beyond the query's form of it ("trace" marks "traces").
_ENDINGS = r"(?:s|es|ed|d|ing|er|ers)?"

#: Where ``web.login.LoginGate`` leaves the CSRF token of a request's valid session (an ASGI
#: scope extension key): absent when no SEMSEARCH_API_KEY is set or the caller is not logged in.
CSRF_SCOPE_KEY = "semsearch.csrf_token"
#: The hidden form field that carries it (``web.login.require_csrf`` reads it back).
CSRF_FIELD = "csrf_token"

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def highlight(text: str, query: str) -> Markup:
    """Escape the (untrusted) document text first, then wrap query terms in <mark>.

    Whole words only (with a plural or verb ending), and not stop words unless the query has
    nothing else: marking "in" inside "integers" or every "the" hides the words that matter."""
    escaped = str(escape(text))
    pattern = highlighter(query)
    if pattern is None:
        return Markup(escaped)
    return Markup(pattern.sub(r"<mark>\1</mark>", escaped))


@lru_cache(maxsize=128)
def highlighter(query: str) -> re.Pattern[str] | None:
    """The query's one pattern, compiled once for every hit of a page (a page of 100 hits
    compiled it 100 times), of at most ``MAX_SNIPPET_TERMS`` terms, as the snippets have."""
    words = query_terms(query)
    words = ([w for w in words if w not in ENGLISH_STOP_WORDS] or words)[:MAX_SNIPPET_TERMS]
    terms = [re.escape(str(escape(t))) for t in words]
    if not terms:
        return None
    # Never inside an entity the escaping made (`&lt;`, `&#39;`): a query "lt" must not split it.
    return re.compile(
        r"(?<![&#])\b((?:" + "|".join(terms) + r")" + _ENDINGS + r")\b", re.IGNORECASE
    )


def filesize(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


@pass_context
def csrf_token(context: Context) -> str:
    """The CSRF token of this page's session, for ``<meta name="csrf-token">`` (the pages'
    JavaScript sends it as ``X-CSRF-Token``); empty without a key or a session."""
    request = context.get("request")
    return str(request.scope.get(CSRF_SCOPE_KEY, "")) if request is not None else ""


@pass_context
def csrf_field(context: Context) -> Markup:
    """The hidden field every POST form carries; nothing at all when no key is set, so the
    pages of an open server stay exactly as they were."""
    token = csrf_token(context)
    if not token:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


templates.env.filters["highlight"] = highlight
templates.env.globals["csrf_token"] = csrf_token
templates.env.globals["csrf_field"] = csrf_field
templates.env.filters["filesize"] = filesize
# The /documents headers when a caller renders the template without sorting (unsorted links).
templates.env.globals["default_document_columns"] = header_links(
    sort=None, order="asc", name="", tags=()
)
