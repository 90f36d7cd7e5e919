"""The CLI's ``--tag`` and ``--meta`` options, shared by `semsearch ingest` and `semsearch search`.

Kept out of ``web.cli`` so that the command module stays short. The values go through
``search.labels`` exactly as the API's form fields do; a bad one is one clear line and exit 2
(a usage error, like a bad ``--mode``), before any file is read or the model is loaded.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from search.errors import InvalidLabelsError
from search.labels import Labels, build_labels

TagOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        help="A tag (repeat, or comma-separate, for several); tags are lower-cased",
        show_default=False,
    ),
]
MetaOption = Annotated[
    list[str] | None,
    typer.Option(
        "--meta",
        help="Metadata as key=value (repeat for several); keys: letters, digits, _ or -",
        show_default=False,
    ),
]

_err = Console(stderr=True)


def labels_or_exit(tags: list[str] | None, meta: list[str] | None) -> Labels:
    """The checked labels, or exit 2 naming every problem."""
    try:
        return build_labels(tags=tags or (), metadata_entries=meta or ())
    except InvalidLabelsError as error:
        _err.print(f"[red]error:[/red] {error.message}", highlight=False)
        raise typer.Exit(2) from None


def describe(labels: Labels) -> str:
    """``tags: a, b; author=Ann`` for a summary line, or "" without labels; escaped for rich,
    which would read a ``[..]`` in a tag as markup."""
    parts = []
    if labels.tags:
        parts.append("tags: " + ", ".join(labels.tags))
    if labels.metadata:
        parts.append(", ".join(f"{k}={v}" for k, v in labels.metadata.items()))
    return escape("; ".join(parts))


def tags_note(tags: list[str]) -> str:
    """``  tags: a, b`` after a search hit's line (escaped: rich reads ``[..]`` as markup)."""
    return f"  tags: {escape(', '.join(tags))}" if tags else ""
