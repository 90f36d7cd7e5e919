"""Jinja2 templates and the filters they share."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from search.snippets import query_terms

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def highlight(text: str, query: str) -> Markup:
    """Escape the (untrusted) document text first, then wrap query terms in <mark>."""
    escaped = str(escape(text))
    terms = [re.escape(str(escape(t))) for t in query_terms(query)]
    if not terms:
        return Markup(escaped)
    pattern = re.compile(r"\b(" + "|".join(terms) + r")", re.IGNORECASE)
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
