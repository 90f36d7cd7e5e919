"""`semsearch ingest --dry-run`: how each file would be chunked, with nothing stored.

It opens no store and loads no embedding model, only the tokenizer, so it runs in a second or
two and works while a server holds the data folder. Chunk settings come from the environment
(``SEMSEARCH_CHUNK_TOKENS``, ``SEMSEARCH_CHUNK_OVERLAP``) as for a real ingest, so trying other
values is ``SEMSEARCH_CHUNK_TOKENS=120 semsearch ingest --dry-run FILE``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingest.chunking import load_default_tokenizer
from ingest.errors import IngestError
from ingest.preview import DEFAULT_SHOWN, ChunkPreview, preview_file
from web.errors import domain_error_status, error_body
from web.settings import Settings

out = Console()
err = Console(stderr=True)

# A shown chunk is cut to its start and end, which is where chunking decisions show.
SHOWN_CHARS = 90


def dry_run(files: list[Path], *, as_json: bool = False, shown: int = DEFAULT_SHOWN) -> bool:
    """Preview ``files``; prints a summary per file (or, with ``as_json``, a JSON list holding
    for each file exactly what `POST /api/documents/preview` answers). True if all loaded."""
    settings = Settings()
    try:
        chunking = settings.chunking()
    except ValueError as error:
        err.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        return False
    tokenizer = load_default_tokenizer()
    bodies: list[dict[str, Any]] = []
    failed = 0
    for path in files:
        with path.open("rb") as handle:  # a byte past the limit tells it is too large
            data = handle.read(settings.max_upload_bytes + 1)
        try:
            preview = preview_file(
                path.name, data, tokenizer, chunking, max_bytes=settings.max_upload_bytes
            )
        except IngestError as error:
            failed += 1
            status, code = domain_error_status(error)
            bodies.append(error_body(status, code, str(error), filename=error.filename))
            if not as_json:
                err.print(f"[red]failed:[/red] {escape(str(error))}", highlight=False)
            continue
        bodies.append(preview.model_dump(mode="json"))
        if not as_json:
            _print_preview(preview, shown)
    if as_json:
        sys.stdout.write(json.dumps(bodies, indent=2, ensure_ascii=False) + "\n")
    else:
        out.print(
            f"dry run: {len(files) - failed} of {len(files)} files would be ingested, "
            f"{failed} failed; nothing was stored",
            highlight=False,
        )
    return failed == 0


def _print_preview(preview: ChunkPreview, shown: int) -> None:
    tokens = preview.tokens
    out.print(
        f"[bold]{escape(preview.filename)}[/bold]: {preview.pages} page(s), "
        f"{preview.chunks} chunks of {tokens.min}-{tokens.max} tokens (mean {tokens.mean}); "
        f"chunk size {preview.chunking.chunk_tokens}, overlap {preview.chunking.overlap_tokens}",
        highlight=False,
    )
    table = Table(show_header=True, show_lines=False)
    for column in ("#", "page", "tokens", "heading", "text (start … end)"):
        table.add_column(column)
    for chunk in preview.first_chunks[:shown]:
        table.add_row(
            str(chunk.index),
            str(chunk.page),
            str(chunk.tokens),
            escape(chunk.heading or ""),
            escape(_ends(chunk.text)),
        )
    out.print(table)


def _ends(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= 2 * SHOWN_CHARS:
        return flat
    return f"{flat[:SHOWN_CHARS]} … {flat[-SHOWN_CHARS:]}"
