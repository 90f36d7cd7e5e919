"""One error shape for every route: ``{"error": {"status", "code", "message"}}``.

Packages raise domain errors; only here do they become HTTP statuses.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from embeddings.errors import EmbeddingConfigError, EmbeddingError
from ingest.errors import IngestError, InvalidLabelsError, RejectedFileError
from search.errors import (
    DocumentNotFoundError,
    ModelMismatchError,
    SearchError,
    StoreUnavailableError,
)

log = logging.getLogger("semsearch")

# Domain error → (HTTP status, code). The first matching class wins, so subclasses come first.
_DOMAIN_ERRORS: list[tuple[type[Exception], int, str]] = [
    (DocumentNotFoundError, 404, "document_not_found"),
    (ModelMismatchError, 409, "embedding_model_mismatch"),
    (StoreUnavailableError, 503, "store_unavailable"),
    (SearchError, 500, "search_failed"),
    (EmbeddingConfigError, 503, "embeddings_misconfigured"),
    (EmbeddingError, 502, "embeddings_failed"),
    (IngestError, 422, "ingest_failed"),
    (InvalidLabelsError, 422, "invalid_labels"),
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
    502: "the embeddings server failed",
    503: "the store or the embeddings server is unavailable or misconfigured",
}
#: The errors any /api route may answer, for ``include_router(responses=...)``; routes that
#: take files add 413 and 415 (``UPLOAD_ERROR_RESPONSES``).
API_ERROR_RESPONSES = error_responses(400, 401, 404, 409, 422, 500, 502, 503)
UPLOAD_ERROR_RESPONSES = error_responses(413, 415)


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message, **extra}}


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, **extra), status_code=status)


def domain_error_status(error: Exception) -> tuple[int, str]:
    if isinstance(error, RejectedFileError):
        return error.status, "file_rejected"
    for kind, status, code in _DOMAIN_ERRORS:
        if isinstance(error, kind):
            return status, code
    return 500, "internal_error"


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, error: Exception) -> JSONResponse:
        status, code = domain_error_status(error)
        message = getattr(error, "message", None) or str(error)
        extra: dict[str, Any] = {}
        if isinstance(error, IngestError):
            extra["filename"] = error.filename
        elif isinstance(error, InvalidLabelsError):
            extra["problems"] = error.problems
        return error_response(status, code, message, **extra)

    async def on_http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        phrase = HTTPStatus(error.status_code).phrase
        code = phrase.lower().replace(" ", "_").replace("-", "_")
        message = error.detail if isinstance(error.detail, str) else phrase
        return JSONResponse(
            error_body(error.status_code, code, message),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [
            f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in error.errors()
        ]
        return error_response(422, "invalid_request", "; ".join(problems) or "invalid request")

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; the server log has details")

    for kind in (RejectedFileError, IngestError, InvalidLabelsError, SearchError, EmbeddingError):
        app.add_exception_handler(kind, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
