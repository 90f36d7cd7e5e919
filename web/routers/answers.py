"""Answers with citations: `POST /api/answer`, whole or as Server-Sent Events.

Retrieval is the product's own search (the same modes and filters, grouped per document): the
best passage of each document found first, then their next passages, numbered ``[1]…[n]`` and
trimmed to ``GENERATION_CONTEXT_TOKENS`` from the lowest-ranked (``generation.answer``). With
no passage found (an empty collection, filters that exclude everything, ``min_score`` above
every hit) the answer is ``no_sources`` with a fixed sentence, and the model is not called.
Citations are checked: a ``[n]`` that names no source is removed, from the streamed text too.

Streamed (``"stream": true``, or ``Accept: text/event-stream``): ``event: sources`` as soon as
retrieval is done (before the model is called), ``event: delta`` per piece, then ``event: done``;
a failure of the model's service, before or after its first token, is ``event: error`` whose
data is the one error shape, with the status that would have been answered. What fails before
the stream starts (bad parameters, answers off or misconfigured, the store) is a plain JSON
error with its status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from embeddings.batching import estimate_tokens
from generation.answer import (
    NO_SOURCES_ANSWER,
    Citations,
    Source,
    check_citations,
    messages,
    within_budget,
)
from generation.client import ChatClient
from generation.errors import GenerationConfigError, GenerationError, GenerationOffError
from generation.wire import Delta, Finished
from search.results import SearchResponse
from web.deps import GenerationDep, SearchDep, SettingsDep, require_api_key
from web.errors import domain_error_status, error_body
from web.event_stream import Emit, sse, stream_events
from web.routers.search import MAX_QUERY_PARAM_CHARS, SearchBody

log = logging.getLogger("semsearch")

api = APIRouter(prefix="/api", tags=["answers"], dependencies=[Depends(require_api_key)])

#: Passages beyond each document's best one that may be given to the model.
MORE_PER_DOCUMENT = 2


class AnswerBody(SearchBody):
    """The question and the search that finds its sources (the fields of `POST /api/search`)."""

    q: str = Field(
        min_length=1, max_length=MAX_QUERY_PARAM_CHARS, description="The question (required)"
    )
    k: int = Field(5, ge=1, le=20, description="How many documents to take sources from")
    min_score: float | None = Field(
        None, description="A relevance floor on the mode's scale: passages under it are no source"
    )
    stream: bool = Field(False, description="Server-Sent Events instead of one JSON answer")


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


@api.post(
    "/answer",
    response_model=AnswerResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the answer"}},
)
def answer(
    request: Request,
    body: AnswerBody,
    search: SearchDep,
    generation: GenerationDep,
    settings: SettingsDep,
) -> Response:
    started = time.perf_counter()
    client = generation.client
    if client is None:
        if generation.error:
            raise GenerationConfigError(generation.error, setting="GENERATION_PROVIDER")
        raise GenerationOffError(generation.reason, setting="GENERATION_PROVIDER")
    asked = body.model_copy(update={"group": True, "offset": 0, "score_threshold": body.min_score})
    found = search.search(asked.to_request(body.metadata))
    sources = within_budget(
        sources_of(found), settings.generation().context_tokens, estimate_tokens
    )
    timings = {"retrieval_ms": _ms(started)}
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if wants_stream:
        return StreamingResponse(
            stream_events(
                lambda emit, stopped: _stream(client, body.q, sources, timings, emit, stopped),
                on_crash=_error_event,
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    result = _whole(client, body.q, sources, timings)
    return Response(result.model_dump_json(), media_type="application/json")


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


def _whole(
    client: ChatClient, question: str, sources: list[Source], timings: dict[str, float]
) -> AnswerResponse:
    if not sources:
        return AnswerResponse(
            status="no_sources",
            answer=NO_SOURCES_ANSWER,
            citations=[],
            sources=[],
            model=None,
            timings=timings,
        )
    started = time.perf_counter()
    completion = client.complete(messages(question, sources))
    text, cited = check_citations(completion.text, len(sources))
    timings["generation_ms"] = _ms(started)
    usage = completion.finished.usage
    return AnswerResponse(
        status="answered",
        answer=text,
        citations=cited,
        sources=[_out(s) for s in sources],
        model=completion.finished.model or client.model,
        timings=timings,
        usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
    )


def _stream(
    client: ChatClient,
    question: str,
    sources: list[Source],
    timings: dict[str, float],
    emit: Emit,
    stopped: Callable[[], bool],
) -> None:
    emit("sources", {"sources": [_out(s).model_dump() for s in sources]})
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
                    timings["first_token_ms"] = _ms(started)
                shown = citations.feed(piece.text) if isinstance(piece, Delta) else ""
                if shown:
                    emit("delta", {"text": shown})
    except GenerationError as error:
        emit("error", _error_data(error))
        return
    rest = citations.finish()
    if rest:
        emit("delta", {"text": rest})
    timings["generation_ms"] = _ms(started)
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


def _error_data(error: Exception) -> dict[str, Any]:
    status, code = domain_error_status(error)
    message = getattr(error, "message", "") or "the answer failed"
    return error_body(status, code, message)


def _error_event(error: BaseException) -> str:
    log.error("answer stream failed", exc_info=error)
    return sse("error", error_body(500, "internal_error", "the answer failed unexpectedly"))


def _source(doc_id: str, filename: str, title: str, page: int, point_id: str, text: str) -> Source:
    return Source(0, doc_id, filename, title, page or None, point_id, text)


def _out(source: Source) -> SourceOut:
    anchor = f"#page={source.page}" if source.page else ""
    return SourceOut(
        n=source.n,
        doc_id=source.doc_id,
        filename=source.filename,
        title=source.title,
        page=source.page,
        point_id=source.point_id,
        text=source.text,
        url=f"/api/documents/{source.doc_id}/file{anchor}",
    )


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)
