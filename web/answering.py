"""Answering a question from the collection: the part the API and the CLI share.

``sources_for`` runs the product's own search (grouped) and turns its hits into numbered
``generation.answer.Source`` values within the context budget, with whether that search was
reranked (``Retrieved``: an answer says it, as a search does); ``answer_whole`` and
``answer_stream`` ask the model and check its citations (``generation.answer``), the first for
one JSON answer, the second emitting ``sources``, ``delta``, ``done`` or ``error`` events as
they come. With no source the model is not called. ``answer_for_page`` is the whole answer the
search page renders without JavaScript (``/?q=…&ask=1``), or the reason there is none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, Field

from embeddings.batching import estimate_tokens
from generation.answer import (
    NO_SOURCES_ANSWER,
    Citations,
    Source,
    check_citations,
    cited_parts,
    messages,
    within_budget,
)
from generation.client import ChatClient
from generation.errors import GenerationConfigError, GenerationError, GenerationOffError
from generation.wire import Delta, Finished
from search.query import SearchService
from search.request import SearchRequest
from search.results import SearchResponse
from web.errors import domain_error_status, error_body
from web.event_stream import Emit
from web.services import GenerationInUse

log = logging.getLogger("semsearch")

#: Passages beyond each document's best one that may be given to the model.
MORE_PER_DOCUMENT = 2
#: How many documents an answer takes its sources from, unless the request says.
SOURCE_DOCUMENTS = 5


class SourceOut(BaseModel):
    n: int
    doc_id: str
    filename: str
    title: str
    page: int | None
    point_id: str
    text: str
    url: str = Field(description="The original, opened at the page")


class AnswerResponse(BaseModel):
    status: Literal["answered", "no_sources"]
    answer: str
    citations: list[int]
    sources: list[SourceOut]
    model: str | None
    timings: dict[str, float]
    usage: dict[str, int | None] = Field(default_factory=dict)
    reranked: bool = Field(False, description="The sources were found in the reranker's order")
    rerank_error: str | None = Field(
        None, description="Why the configured reranker did not rerank the search for sources"
    )


@dataclass(frozen=True)
class Retrieved:
    """An answer's sources, and whether the search that found them was reranked (a reranker
    that failed is said in the answer too, never passed over)."""

    sources: list[Source]
    reranked: bool = False
    rerank_error: str | None = None

    def said(self) -> dict[str, Any]:
        return {"reranked": self.reranked, "rerank_error": self.rerank_error}


def chat_client(generation: GenerationInUse) -> ChatClient:
    """The configured client, or the error that says why answers cannot run."""
    if generation.client is not None:
        return generation.client
    if generation.error:
        raise GenerationConfigError(generation.error, setting="GENERATION_PROVIDER")
    raise GenerationOffError(generation.reason, setting="GENERATION_PROVIDER")


def sources_for(search: SearchService, request: SearchRequest, client: ChatClient) -> Retrieved:
    """The numbered sources of ``request``, searched grouped from the first page whatever the
    request's paging, within the client's ``GENERATION_CONTEXT_TOKENS``."""
    found = search.search(replace(request, group=True, offset=0))
    budget = client.settings.context_tokens
    sources = within_budget(sources_of(found), budget, estimate_tokens)
    return Retrieved(sources, found.reranked, found.rerank_error)


def sources_of(found: SearchResponse) -> list[Source]:
    """Each document's best passage in rank order, then up to ``MORE_PER_DOCUMENT`` more of
    each: trimmed from the end, the extra passages go before any document's best one."""
    best: list[Source] = []
    more: list[Source] = []
    for hit in found.results:
        best.append(_source(hit.doc_id, hit.filename, hit.title, hit.page, hit.point_id, hit.text))
        more.extend(
            _source(hit.doc_id, hit.filename, hit.title, p.page, p.point_id, p.text)
            for p in hit.more[:MORE_PER_DOCUMENT]
        )
    return best + more


def answer_whole(
    client: ChatClient, question: str, retrieved: Retrieved, timings: dict[str, float]
) -> AnswerResponse:
    sources = retrieved.sources
    if not sources:
        return AnswerResponse(
            status="no_sources",
            answer=NO_SOURCES_ANSWER,
            citations=[],
            sources=[],
            model=None,
            timings=timings,
            **retrieved.said(),
        )
    started = time.perf_counter()
    completion = client.complete(messages(question, sources))
    text, cited = check_citations(completion.text, len(sources))
    timings["generation_ms"] = ms_since(started)
    usage = completion.finished.usage
    return AnswerResponse(
        status="answered",
        answer=text,
        citations=cited,
        sources=[_out(s) for s in sources],
        model=completion.finished.model or client.model,
        timings=timings,
        usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
        **retrieved.said(),
    )


def answer_stream(
    client: ChatClient,
    question: str,
    retrieved: Retrieved,
    timings: dict[str, float],
    emit: Emit,
    stopped: Callable[[], bool],
) -> None:
    sources = retrieved.sources
    emit("sources", {"sources": [_out(s).model_dump() for s in sources], **retrieved.said()})
    if not sources:
        emit("delta", {"text": NO_SOURCES_ANSWER})
        emit("done", {"status": "no_sources", "citations": [], "model": None, "usage": {}})
        return
    started = time.perf_counter()
    citations = Citations(len(sources))
    finished = Finished()
    try:
        with client.stream(messages(question, sources)) as pieces:
            for piece in pieces:
                if stopped():
                    return  # the client went away: leaving the block closes the upstream
                if isinstance(piece, Finished):
                    finished = piece
                    break
                if "first_token_ms" not in timings:
                    timings["first_token_ms"] = ms_since(started)
                shown = citations.feed(piece.text) if isinstance(piece, Delta) else ""
                if shown:
                    emit("delta", {"text": shown})
    except GenerationError as error:
        emit("error", _error_data(error))
        return
    rest = citations.finish()
    if rest:
        emit("delta", {"text": rest})
    timings["generation_ms"] = ms_since(started)
    emit(
        "done",
        {
            "status": "answered",
            "citations": citations.cited,
            "model": finished.model or client.model,
            "usage": {
                "prompt_tokens": finished.usage.prompt_tokens,
                "completion_tokens": finished.usage.completion_tokens,
            },
            "timings": timings,
        },
    )


@dataclass(frozen=True)
class PageAnswer:
    """What the search page shows above its results when asked: the answer and its text split
    at the citations (``generation.answer.cited_parts``), or the message of why there is none
    and the status that says whose fault it is, or a ``notice`` in place of an answer."""

    result: AnswerResponse | None = None
    parts: list[str | int] = field(default_factory=list)
    error: str = ""
    status: int = 200
    notice: str = ""


def answer_for_page(
    search: SearchService, generation: GenerationInUse, request: SearchRequest
) -> PageAnswer:
    """The whole answer to ``request.query`` from the documents ``request`` finds (its mode and
    filters; ``sources_for``). Errors of the search itself are the page's, as for a plain
    search; those of the model are shown in the answer's place."""
    started = time.perf_counter()
    try:
        client = chat_client(generation)
        retrieved = sources_for(search, request, client)
        timings = {"retrieval_ms": ms_since(started)}
        result = answer_whole(client, request.query, retrieved, timings)
    except GenerationError as error:
        return PageAnswer(error=error.message, status=domain_error_status(error)[0])
    return PageAnswer(result, cited_parts(result.answer))


def _error_data(error: Exception) -> dict[str, Any]:
    status, code = domain_error_status(error)
    message = getattr(error, "message", "") or "the answer failed"
    return error_body(status, code, message)


def _source(doc_id: str, filename: str, title: str, page: int, point_id: str, text: str) -> Source:
    return Source(0, doc_id, filename, title, page or None, point_id, text)


def _out(source: Source) -> SourceOut:
    anchor = f"#page={source.page}" if source.page else ""
    return SourceOut(**asdict(source), url=f"/api/documents/{source.doc_id}/file{anchor}")


def ms_since(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)
