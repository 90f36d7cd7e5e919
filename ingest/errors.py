"""Why a file could not be ingested. Every message names the file and the cause.

The classes say what went wrong, never how to answer it: ``web.errors`` maps each to an HTTP
status (an empty file 400, a too large one 413, an unsupported one 415, a parse failure 422, a
full disk 507).
"""

from __future__ import annotations

from pathlib import Path

from embeddings.errors import EmbeddingError
from inference.errors import SemsearchError


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


class UnreadableFileError(DocumentParseError):
    """A reader or the chunker failed in a way nothing foresaw: a bug, or a file built to break
    it (600 nested ``<span>`` once raised ``RecursionError`` from the HTML walk). It fails that
    file alone, as any parse error does, with the exception named in ``reason``; whoever raises
    it logs the traceback. ``MemoryError`` never becomes one: it is the process's, not the
    file's."""

    MAX_CAUSE_CHARS = 200

    def __init__(self, filename: str, error: Exception) -> None:
        super().__init__(filename, f"could not be read: {describe_exception(error)}")


def describe_exception(error: BaseException) -> str:
    """``RecursionError: maximum recursion depth exceeded``: the type, then the message on one
    line and cut short; the type alone when there is no message."""
    message = " ".join(str(error).split())
    if len(message) > UnreadableFileError.MAX_CAUSE_CHARS:
        message = message[: UnreadableFileError.MAX_CAUSE_CHARS - 1] + "…"
    name = type(error).__name__
    return f"{name}: {message}" if message else name


# A fair wait before an upload the queue refused is sent again, in seconds.
RETRY_AFTER_S = 30


class QueueFullError(SemsearchError):
    """The ingestion queue holds as many files or bytes as it may (``ingest.jobs``): the upload
    is refused at once rather than held; ``retry_after`` is a fair wait in seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueueUnavailableError(QueueFullError):
    """The shared queue's Redis (``SEMSEARCH_REDIS_URL``) cannot be reached: like a full queue,
    the upload is refused now and may be sent again later (a 503 ``queue_unavailable``)."""

    def __init__(self, url: str, error: Exception) -> None:
        super().__init__(
            f"cannot reach the ingestion queue's Redis at SEMSEARCH_REDIS_URL={url} "
            f"({describe_exception(error)}): check that it is running and reachable",
            retry_after=RETRY_AFTER_S,
        )


class IngestStoppedError(SemsearchError):
    """A run stopped because a setting, not a file, is at fault (``embeddings.errors.
    STOPS_INGESTION``): a refused token, no credits, an unknown model, an endpoint unreachable
    after its retries. Going on would send one doomed request per file and fail files that are
    fine, so the runner stops at the first such error; the files it had not finished are not
    failed, and whoever holds them keeps them for a later run (``ingest.jobs``)."""

    def __init__(self, cause: EmbeddingError) -> None:
        super().__init__(f"ingestion stopped: {cause.message}")


class StorageFullError(IngestError):
    """The disk under the data folder has no room left (``ENOSPC``, or ``EDQUOT`` past a quota)
    for this file: its upload in the spool or its stored original (``ingest.atomic``). Nothing
    half-written is left of it, and the files before it are kept; ``web.errors`` answers 507."""

    def __init__(self, filename: str, folder: Path) -> None:
        super().__init__(
            filename,
            f"the disk is full: there is no room left in {folder} (the data folder, "
            "SEMSEARCH_DATA_DIR) to keep it; free some space and try again",
        )
        self.folder = folder
