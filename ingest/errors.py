"""Why a file could not be ingested. Every message names the file and the cause.

The classes say what went wrong, never how to answer it: ``web.errors`` maps each to an HTTP
status (an empty file 400, a too large one 413, an unsupported one 415, a parse failure 422).
"""

from __future__ import annotations

from embeddings.errors import SemsearchError


class IngestError(SemsearchError):
    """Base class; ``filename`` is always set so a user knows which file failed."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"{filename}: {reason}")
        self.filename = filename
        self.reason = reason


class RejectedFileError(IngestError):
    """Judged at once, before any work, from the name, the size and the first bytes."""


class EmptyFileError(RejectedFileError):
    """The file has no bytes."""


class FileTooLargeError(RejectedFileError):
    """The file is over the upload limit."""


class UnsupportedFileError(RejectedFileError):
    """A type semsearch does not read, or content that does not match its extension."""


class DocumentParseError(IngestError):
    """Shows only while parsing: corrupt, encrypted, no extractable text. Fails that file's job."""
