"""Domain errors of the search package; the web edge turns them into HTTP errors."""

from __future__ import annotations


class SearchError(Exception):
    """Base class for errors in the store and the query path."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoreUnavailableError(SearchError):
    """The store cannot be opened (another process holds it, the server is unreachable)."""


class ModelMismatchError(SearchError):
    """The collection was filled by another embedding model or dimension than the configured one."""


class DocumentNotFoundError(SearchError):
    """No document with that id in the collection."""
