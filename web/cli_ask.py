"""`semsearch ask`: an answer with citations in the terminal, streamed as the model writes it,
then its sources with file and page. `--json` prints exactly what `POST /api/answer` returns
with `"stream": false`. The same search and checks as the API (``web.answering``)."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Console

from inference.errors import SemsearchError
from search.errors import InvalidFilterError, InvalidLabelsError
from search.request import SearchFilters, SearchRequest
from search.store import SearchMode
from web.answering import answer_stream, answer_whole, chat_client, ms_since, sources_for
from web.cli_labels import MetaOption, TagOption
from web.services import open_services
from web.settings import Settings

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def ask(
    question: Annotated[str, typer.Argument(help="The question")],
    k: Annotated[int, typer.Option("-k", help="How many documents to take sources from")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or keyword")] = "hybrid",
    min_score: Annotated[
        float | None, typer.Option("--min-score", help="A relevance floor on the mode's scale")
    ] = None,
    file_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only these file types (repeat)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")] = False,
    tag: TagOption = None,
    meta: MetaOption = None,
) -> None:
    """Answer a question from the documents, citing them as [n]; exit 1 when it failed."""
    if mode not in ("hybrid", "dense", "keyword"):
        raise _fail(f"--mode must be hybrid, dense or keyword, not {mode!r}", code=2)
    if not 1 <= k <= 20:
        raise _fail(f"-k must be 1 to 20, not {k}", code=2)
    search_mode: SearchMode = mode  # type: ignore[assignment]
    try:
        filters = SearchFilters.parse(
            tags=tag or (), metadata_entries=meta or (), file_types=file_type or []
        )
    except (InvalidLabelsError, InvalidFilterError) as error:
        raise _fail(error.message, code=2) from None
    request = SearchRequest(
        question, mode=search_mode, k=k, filters=filters, score_threshold=min_score
    )
    try:
        with open_services(Settings()) as services:
            client = chat_client(services.generation)
            started = time.perf_counter()
            retrieved = sources_for(services.search, request, client)
            sources = retrieved.sources
            timings = {"retrieval_ms": ms_since(started)}
            if as_json:
                result = answer_whole(client, question, retrieved, timings)
                sys.stdout.write(result.model_dump_json(indent=2) + "\n")
                return
            events: list[tuple[str, Any]] = []

            def emit(event: str, data: Any) -> None:
                events.append((event, data))
                if event == "delta":
                    sys.stdout.write(data["text"])
                    sys.stdout.flush()

            if retrieved.rerank_error:
                err.print(
                    f"sources not reranked: {retrieved.rerank_error}", highlight=False, markup=False
                )
            answer_stream(client, question, retrieved, timings, emit, lambda: False)
    except SemsearchError as error:
        raise _fail(error.message) from None
    sys.stdout.write("\n")
    failed = next((data for event, data in events if event == "error"), None)
    if sources:
        out.print("\n[bold]Sources[/bold]", highlight=False)
        for source in sources:
            page = f", page {source.page}" if source.page else ""
            out.print(
                f"[{source.n}] {source.title or source.filename} ({source.filename}{page})",
                highlight=False,
                markup=False,
            )
    if failed is not None:
        raise _fail(failed["error"]["message"])


def _fail(message: str, *, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)
