"""Errors raised by the embeddings node, and the root of every semsearch domain error.

Each names the setting a user should look at; none ever contains the token.

``SemsearchError`` is the one root: ``EmbeddingError`` here, ``ingest.errors.IngestError`` and
``search.errors.SearchError`` are its domains. It lives in this package because this is the
bottom layer, the one every other package may import. No error carries an HTTP status: the web
edge (``web.errors``) maps each class to one.
"""

from __future__ import annotations


class SemsearchError(Exception):
    """The root of the domain errors; ``message`` is what a user is shown."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmbeddingError(SemsearchError):
    """Base class: embedding failed, and retrying as-is will not help."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class EmbeddingConfigError(EmbeddingError):
    """The configuration cannot work (unknown provider, missing endpoint, model not found)."""


class EmbeddingServiceError(EmbeddingError):
    """The remote service answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        setting: str | None = None,
    ) -> None:
        if request_id:
            message = f"{message} (request id {request_id})"
        super().__init__(message, setting=setting)
        self.status = status
        self.request_id = request_id


class EmbeddingResponseError(EmbeddingError):
    """The service answered 2xx but the body is not the vectors we asked for."""


class DimensionMismatchError(EmbeddingError):
    """A batch came back with a different dimension than the one probed first."""
