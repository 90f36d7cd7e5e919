"""Sorting and filtering the `/documents` list on the server, for browsers without JavaScript.

With JavaScript the page sorts and filters its own rows (``static/documents.js``); the column
headers are plain `?sort=&order=` links, so the same list is reachable, and shareable, without.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal
from urllib.parse import urlencode

from search.results import DocumentInfo

SortKey = Literal["name", "status", "pages", "chunks", "size", "date"]
Order = Literal["asc", "desc"]

# (key, column heading); the order is the table's.
COLUMNS: tuple[tuple[SortKey, str], ...] = (
    ("name", "Title"),
    ("status", "Status"),
    ("pages", "Pages"),
    ("chunks", "Chunks"),
    ("size", "Size"),
    ("date", "Added"),
)

_KEYS: dict[str, Callable[[DocumentInfo], str | int]] = {
    "name": lambda d: (d.title or d.filename).casefold(),
    "status": lambda d: d.status,
    "pages": lambda d: d.pages,
    "chunks": lambda d: d.chunks,
    "size": lambda d: d.bytes,
    "date": lambda d: d.ingested_at or "",
}


def filter_and_sort(
    documents: Sequence[DocumentInfo], *, name: str, sort: SortKey | None, order: Order
) -> list[DocumentInfo]:
    """Documents whose title or file name contains ``name`` (any case), sorted by ``sort``;
    without ``sort`` they keep the store's order."""
    wanted = name.strip().casefold()
    kept = [d for d in documents if not wanted or wanted in f"{d.title}\n{d.filename}".casefold()]
    if sort is not None:
        kept.sort(key=_KEYS[sort], reverse=order == "desc")
    return kept


def header_links(
    *, sort: SortKey | None, order: Order, name: str, tags: Sequence[str]
) -> list[dict[str, str]]:
    """Each column's heading, its `?sort=` link (a second click reverses the order) and its
    ``aria-sort`` value, for the template."""
    columns = []
    for key, label in COLUMNS:
        current = key == sort
        next_order = "desc" if current and order == "asc" else "asc"
        query: dict[str, str | list[str]] = {"sort": key, "order": next_order}
        if name:
            query["name"] = name
        if tags:
            query["tags"] = list(tags)
        columns.append(
            {
                "key": key,
                "label": label,
                "href": "/documents?" + urlencode(query, doseq=True),
                "aria_sort": ("ascending" if order == "asc" else "descending")
                if current
                else "none",
            }
        )
    return columns
