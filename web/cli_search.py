"""`semsearch search`: kept out of ``web.cli`` so that the command module stays short.

`--json` prints exactly what `GET /api/search` returns for the same options.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from inference.errors import SemsearchError
from search.errors import InvalidFilterError, InvalidLabelsError
from search.request import MAX_OFFSET, SearchFilters, SearchRequest
from search.store import SearchMode
from web.cli_labels import MetaOption, TagOption, tags_note
from web.services import open_services
from web.settings import Settings

out = Console()
err = Console(stderr=True)


def _usage_error(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def _when(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _usage_error(f"{option} must be an ISO date or datetime, not {value!r}") from None


def search(
    query: Annotated[str, typer.Argument(help="What to look for")],
    k: Annotated[int, typer.Option("-k", help="How many hits")] = 10,
    offset: Annotated[
        int, typer.Option("--offset", help="Skip this many documents (passages with --flat)")
    ] = 0,
    mode: Annotated[str, typer.Option(help="hybrid, dense or keyword")] = "hybrid",
    flat: Annotated[
        bool, typer.Option("--flat", help="Passages, not one hit per document")
    ] = False,
    min_score: Annotated[
        float | None,
        typer.Option(
            "--min-score",
            help="Drop hits scoring below this, on the mode's scale: dense cosine (-1..1), "
            "keyword BM25 (0 up), hybrid 0.6·cosine + 0.4·BM25/best BM25 (at most 1)",
        ),
    ] = None,
    file_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only these file types: pdf, md... or a MIME type (repeat)"),
    ] = None,
    ocr_only: Annotated[
        bool, typer.Option("--ocr", help="Only passages whose text was read by OCR (scans)")
    ] = False,
    after: Annotated[
        str | None, typer.Option("--after", help="Ingested at or after (ISO date: midnight UTC)")
    ] = None,
    before: Annotated[
        str | None, typer.Option("--before", help="Ingested before (ISO date: midnight UTC)")
    ] = None,
    diversify: Annotated[
        bool, typer.Option("--diversify", help="Reorder by MMR so near-duplicates spread out")
    ] = False,
    no_rerank: Annotated[
        bool, typer.Option("--no-rerank", help="Skip the configured reranker for this search")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
    tag: TagOption = None,
    meta: MetaOption = None,
) -> None:
    """Search the documents; --tag keeps documents with ANY of the tags, --meta ALL pairs."""
    if mode not in ("hybrid", "dense", "keyword"):
        raise _usage_error(f"--mode must be hybrid, dense or keyword, not {mode!r}")
    if not 0 <= offset <= MAX_OFFSET:
        raise _usage_error(f"--offset must be 0 to {MAX_OFFSET}, not {offset}")
    search_mode: SearchMode = mode  # type: ignore[assignment]
    try:
        filters = SearchFilters.parse(
            tags=tag or (),
            metadata_entries=meta or (),
            file_types=file_type or [],
            ingested_after=_when("--after", after),
            ingested_before=_when("--before", before),
            ocr_only=ocr_only,
        )
    except InvalidLabelsError as error:
        raise _usage_error(error.message) from None
    except InvalidFilterError as error:
        raise _usage_error(f"--type: {error.message}") from None
    request = SearchRequest(
        query,
        mode=search_mode,
        k=k,
        offset=offset,
        group=not flat,
        filters=filters,
        score_threshold=min_score,
        diversify=diversify,
        rerank=not no_rerank,
    )
    try:
        with open_services(Settings()) as services:
            response = services.search.search(request)
    except SemsearchError as error:
        err.print(f"[red]error:[/red] {error.message}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(response.model_dump_json(indent=2) + "\n")
        return
    if response.rerank_error:
        err.print(
            f"[yellow]not reranked:[/yellow] {response.rerank_error} (results in retrieval order)",
            highlight=False,
        )
    if not response.results:
        out.print("no results")
    for rank, hit in enumerate(response.results, offset + 1):
        out.print(
            f"[bold]{rank}. {hit.title or hit.filename}[/bold]  ({hit.filename}, page {hit.page}"
            f"{', OCR' if hit.ocr else ''}, score {hit.score:.4f}"
            f"{rerank_note(hit.rerank_score)}){tags_note(hit.tags)}",
            highlight=False,
        )
        out.print(f"   {hit.snippet}", highlight=False)


def rerank_note(score: float | None) -> str:
    return f", reranked {score:.4f}" if score is not None else ""
