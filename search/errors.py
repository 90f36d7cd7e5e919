"""Domain errors of the search package; the web edge turns them into HTTP errors."""

from __future__ import annotations

from inference.errors import SemsearchError


class SearchError(SemsearchError):
    """Base class for errors in the store, the query path and the filter vocabulary."""


class StoreUnavailableError(SearchError):
    """The store cannot be opened (another process holds it, the server is unreachable)."""


class ModelMismatchError(SearchError):
    """The collection was filled by another embedding model or dimension than the configured one."""


class DocumentNotFoundError(SearchError):
    """No document with that id in the collection."""


class InvalidFilterError(SearchError):
    """A search filter names something that does not exist (an unknown file type)."""


class InvalidLabelsError(SearchError):
    """Tags or metadata a user gave (upload form, API field, CLI option, search filter) break a
    rule of ``search.labels``; ``problems`` lists each one, so a user can fix them all at once.
    It is about the request, not a file or the store."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid labels: " + "; ".join(problems))
        self.problems = problems
