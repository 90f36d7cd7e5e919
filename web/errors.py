"""Errors at the edge: one JSON shape for the API, an HTML page for the pages.

Packages raise domain errors (one tree, rooted at ``embeddings.errors.SemsearchError``); only
here do they become HTTP statuses. An ``/api`` request (and a page's own script) gets
``{"error": {"status", "code", "message"}}``; a browser asking for a page gets the same status
with a page that says what went wrong (``is_page_request``).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from embeddings.errors import EmbeddingConfigError, EmbeddingError
from generation.errors import (
    GenerationConfigError,
    GenerationError,
    GenerationOffError,
    GenerationUnavailableError,
)
from inference.errors import SemsearchError
from ingest.errors import (
    EmptyFileError,
    FileTooLargeError,
    IngestError,
    IngestStoppedError,
    QueueFullError,
    QueueUnavailableError,
    RejectedFileError,
    StorageFullError,
    UnsupportedFileError,
)
from search.errors import (
    DocumentNotFoundError,
    InvalidFilterError,
    InvalidLabelsError,
    ModelMismatchError,
    SearchError,
    StoreUnavailableError,
)
from web.templating import templates

log = logging.getLogger("semsearch")

# Domain error → (HTTP status, code). The first matching class wins, so subclasses come first.
_DOMAIN_ERRORS: list[tuple[type[SemsearchError], int, str]] = [
    (DocumentNotFoundError, 404, "document_not_found"),
    (ModelMismatchError, 409, "embedding_model_mismatch"),
    (StoreUnavailableError, 503, "store_unavailable"),
    (InvalidLabelsError, 422, "invalid_labels"),
    (InvalidFilterError, 422, "invalid_filters"),
    (SearchError, 500, "search_failed"),
    (EmbeddingConfigError, 503, "embeddings_misconfigured"),
    (EmbeddingError, 502, "embeddings_failed"),
    # Answers: off or unworkable settings are this server's to fix (503); a refusal or a
    # failure of the model's service is upstream's (502); an answer cut short likewise.
    (GenerationOffError, 503, "generation_off"),
    (GenerationConfigError, 503, "generation_misconfigured"),
    (GenerationUnavailableError, 502, "generation_unavailable"),
    (GenerationError, 502, "generation_failed"),
    (EmptyFileError, 400, "file_rejected"),
    (FileTooLargeError, 413, "file_rejected"),
    (UnsupportedFileError, 415, "file_rejected"),
    (RejectedFileError, 400, "file_rejected"),
    (StorageFullError, 507, "storage_full"),
    (IngestError, 422, "ingest_failed"),
    (QueueUnavailableError, 503, "queue_unavailable"),
    (QueueFullError, 503, "queue_full"),
    (IngestStoppedError, 503, "ingestion_stopped"),
]


class ErrorDetail(BaseModel):
    """Some errors add fields (``filename``, ``rejected``, ``problems``): extra keys allowed."""

    model_config = ConfigDict(extra="allow")

    status: int
    code: str
    message: str


class ErrorResponse(BaseModel):
    """The one error shape, declared in the OpenAPI document for every /api route."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring these statuses with the one error shape."""
    return {
        status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]}
        for status in statuses
    }


_DESCRIPTIONS = {
    400: "a body that cannot be parsed, or a file refused at once (an empty one)",
    401: "SEMSEARCH_API_KEY is set and the request lacks it",
    404: "no such document, job or passage",
    409: "the collection was filled with another embedding model",
    413: "too large: the request body, a file, or too many files",
    415: "a file of an unsupported type",
    422: "invalid parameters or labels, or a file that cannot be read",
    500: "an unexpected error; the server log has details",
    502: "the embeddings server, or the text-generation service, failed or refused",
    503: "the store, the embeddings server or answers are unavailable, off or misconfigured",
    507: "the disk under the data folder is full: a file could not be kept",
}
#: The errors any /api route may answer, for ``include_router(responses=...)``; routes that
#: take files add 413 and 415 (``UPLOAD_ERROR_RESPONSES``), and those that keep them 507.
API_ERROR_RESPONSES = error_responses(400, 401, 404, 409, 422, 500, 502, 503)
UPLOAD_ERROR_RESPONSES = error_responses(413, 415)
#: Routes that take a JSON body: ``web.guard`` refuses one over its small-body limit.
JSON_BODY_ERROR_RESPONSES = error_responses(413)


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message, **extra}}


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, **extra), status_code=status)


def domain_error_status(error: Exception) -> tuple[int, str]:
    """The HTTP status and error code of a domain error (500 for anything else)."""
    for kind, status, code in _DOMAIN_ERRORS:
        if isinstance(error, kind):
            return status, code
    return 500, "internal_error"


def http_status(error: Exception) -> int:
    """The HTTP status a domain error is answered with (``domain_error_status``'s first half)."""
    return domain_error_status(error)[0]


def is_page_request(request: Request) -> bool:
    """A browser asking for a page: outside ``/api``, and HTML accepted (a navigation or a plain
    form sends ``Accept: text/html,...``). A page's own script, which fetches with the default
    ``*/*``, and every ``/api`` call get the JSON shape."""
    path = request.url.path
    if path == "/api" or path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _answer(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The JSON error shape for the API, the error page for a page request."""
    if not is_page_request(request):
        return JSONResponse(
            error_body(status, code, message, **extra), status_code=status, headers=headers
        )
    context = {"status": status, "phrase": HTTPStatus(status).phrase, "message": message}
    try:
        return templates.TemplateResponse(
            request, "error.html", {**context, "page": "error"}, status_code=status, headers=headers
        )
    except Exception:  # the page itself failed to render: say it plainly rather than not at all
        log.exception("the error page for %s failed to render", request.url.path)
        return PlainTextResponse(f"{status} {context['phrase']}: {message}", status, headers)


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, SemsearchError)
        status, code = domain_error_status(error)
        extra: dict[str, Any] = {}
        if isinstance(error, IngestError):
            extra["filename"] = error.filename
        elif isinstance(error, InvalidLabelsError):
            extra["problems"] = error.problems
        headers = None
        if isinstance(error, QueueFullError):
            headers = {"Retry-After": str(error.retry_after)}
        return _answer(request, status, code, error.message or str(error), headers, **extra)

    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        phrase = HTTPStatus(error.status_code).phrase
        code = phrase.lower().replace(" ", "_").replace("-", "_")
        message = error.detail if isinstance(error.detail, str) else phrase
        headers = getattr(error, "headers", None)
        return _answer(request, error.status_code, code, message, headers)

    async def on_validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        problems = [
            f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in error.errors()
        ]
        return _answer(request, 422, "invalid_request", "; ".join(problems) or "invalid request")

    async def on_unexpected(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _answer(request, 500, "internal_error", "internal error; the server log has details")

    app.add_exception_handler(SemsearchError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
