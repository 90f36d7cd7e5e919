"""The root of every semsearch domain error.

``SemsearchError`` is the one root: ``embeddings.errors.EmbeddingError``,
``ingest.errors.IngestError`` and ``search.errors.SearchError`` are its domains. It lives in the
bottom package, the one every other may import. No error carries an HTTP status: the web edge
(``web.errors``) maps each class to one.
"""

from __future__ import annotations


class SemsearchError(Exception):
    """The root of the domain errors; ``message`` is what a user is shown."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
