"""Why a file could not be ingested. Every message names the file and the cause."""

from __future__ import annotations


class IngestError(Exception):
    """Base class; ``filename`` is always set so a user knows which file failed."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"{filename}: {reason}")
        self.filename = filename
        self.reason = reason


class RejectedFileError(IngestError):
    """Judged at once, before any work: empty, unsupported type, too large. A 4xx at the API."""

    def __init__(self, filename: str, reason: str, *, status: int = 400) -> None:
        super().__init__(filename, reason)
        self.status = status


class DocumentParseError(IngestError):
    """Shows only while parsing: corrupt, encrypted, no extractable text. Fails that file's job."""


class InvalidLabelsError(ValueError):
    """Tags or metadata a user gave (upload form, API field, CLI option, search filter) break a
    rule of ``ingest.labels``; ``problems`` lists each one, so a user can fix them all at once.
    Not an ``IngestError``: it is about the request, not a file. A 422 at the API."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        self.message = "invalid labels: " + "; ".join(problems)
        super().__init__(self.message)
