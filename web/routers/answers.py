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

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from web.answering import (
    SOURCE_DOCUMENTS,
    AnswerResponse,
    answer_stream,
    answer_whole,
    chat_client,
    ms_since,
    sources_for,
)
from web.deps import GenerationDep, SearchDep, require_api_key
from web.errors import JSON_BODY_ERROR_RESPONSES, error_body
from web.event_stream import sse, stream_events
from web.routers.search import MAX_QUERY_PARAM_CHARS, MetaEntries, SearchBody

log = logging.getLogger("semsearch")

api = APIRouter(prefix="/api", tags=["answers"], dependencies=[Depends(require_api_key)])


class AnswerBody(MetaEntries, SearchBody):
    """The question and the search that finds its sources: the fields of `POST /api/search`,
    and `meta` entries as `GET /api/search` takes them (ANDed with `metadata`)."""

    q: str = Field(
        min_length=1, max_length=MAX_QUERY_PARAM_CHARS, description="The question (required)"
    )
    k: int = Field(
        SOURCE_DOCUMENTS, ge=1, le=20, description="How many documents to take sources from"
    )
    min_score: float | None = Field(
        None,
        description="A relevance floor on the mode's scale: passages under it are no source. "
        "None by default: measured, no floor stops off-topic questions without turning "
        "answerable ones away (docs/benchmarks.md)",
    )
    stream: bool = Field(False, description="Server-Sent Events instead of one JSON answer")


@api.post(
    "/answer",
    response_model=AnswerResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the answer"},
        **JSON_BODY_ERROR_RESPONSES,
    },
)
def answer(
    request: Request,
    body: AnswerBody,
    search: SearchDep,
    generation: GenerationDep,
) -> Response:
    started = time.perf_counter()
    client = chat_client(generation)
    asked = body.model_copy(update={"score_threshold": body.min_score})
    retrieved = sources_for(search, asked.to_request(body.metadata, body.meta), client)
    timings = {"retrieval_ms": ms_since(started)}
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if wants_stream:
        return StreamingResponse(
            stream_events(
                lambda emit, stopped: answer_stream(
                    client, body.q, retrieved, timings, emit, stopped
                ),
                on_crash=_error_event,
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    result = answer_whole(client, body.q, retrieved, timings)
    return Response(result.model_dump_json(), media_type="application/json")


def _error_event(error: BaseException) -> str:
    log.error("answer stream failed", exc_info=error)
    return sse("error", error_body(500, "internal_error", "the answer failed unexpectedly"))
