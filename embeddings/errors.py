"""Errors raised by the embeddings node, under the one root ``inference.errors.SemsearchError``.

Each names the setting a user should look at; none ever contains the token. No error carries an
HTTP status: the web edge (``web.errors``) maps each class to one.
"""

from __future__ import annotations

from collections.abc import Callable

from inference.errors import SemsearchError


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


class EmbeddingUnavailableError(EmbeddingServiceError):
    """No text can be embedded as things stand: the token was refused (401), the account is out
    of credits (402), the token has no access (403), the model or endpoint is unknown (404) or
    does not embed, the endpoint is paused, or it is unreachable or still failing after its
    retries. Every text of a run would get the same answer until the named setting changes or
    the service comes back, so ingestion stops at the first one (``ingest.runner``) instead of
    spending one refused request per file."""


class EmbeddingResponseError(EmbeddingError):
    """The service answered 2xx but the body is not the vectors we asked for."""


class DimensionMismatchError(EmbeddingError):
    """A batch came back with a different dimension than the one probed first."""


#: The errors no file can get past: ingestion stops at the first one and keeps what is queued.
#: The others (a text too long even when cut, a server that answers 400 or a body that is not
#: vectors) fail only the files whose texts were in the request.
STOPS_INGESTION: tuple[type[EmbeddingError], ...] = (
    EmbeddingConfigError,
    EmbeddingUnavailableError,
    DimensionMismatchError,
)


def scrub(exc: EmbeddingError, redact: Callable[[str], str]) -> None:
    """Pass an error's message through ``redact`` (a server may have echoed the token)."""
    if (redacted := redact(exc.message)) != exc.message:
        exc.message = redacted
        exc.args = (exc.message,)
