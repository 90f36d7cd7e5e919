"""The file types semsearch reads, by extension and MIME type: part of the filter vocabulary.

Ingestion stores each document's MIME type from its extension (``ingest.loaders``); a search
filters on the same values (``file_type_mimes``). Both take them from here, so that the query
side needs nothing of ingestion.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from search.errors import InvalidFilterError

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

MIME_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".docx": DOCX_MIME,
    ".csv": "text/csv",
    # Read by OCR (ingest.image_format).
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".webp": "image/webp",
}
IMAGE_MIMES: frozenset[str] = frozenset(m for m in MIME_TYPES.values() if m.startswith("image/"))
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(MIME_TYPES)


def extension(filename: str) -> str:
    """The lower-cased extension with its dot ('' when there is none), after any folders."""
    _, ext = posixpath.splitext(posixpath.basename(filename.replace("\\", "/")))
    return ext.lower()


def mime_of(filename: str) -> str | None:
    """The MIME type a file of this name is stored with; None for a type semsearch does not read."""
    return MIME_TYPES.get(extension(filename))


def file_type_mimes(file_types: Sequence[str]) -> list[str]:
    """MIME types for file-type filters: a MIME type (``application/pdf``) is kept, an extension
    (``pdf`` or ``.pdf``) is mapped as at upload; an entry may hold several, comma-separated.
    Raises ``InvalidFilterError`` naming unknown ones."""
    mimes: list[str] = []
    unknown: list[str] = []
    for entry in file_types:
        for value in (v.strip().lower() for v in entry.split(",")):
            if not value:
                continue
            mime = value if "/" in value else MIME_TYPES.get("." + value.lstrip("."))
            if mime is None:
                unknown.append(value)
            elif mime not in mimes:
                mimes.append(mime)
    if unknown:
        known = ", ".join(sorted(e.lstrip(".") for e in MIME_TYPES))
        raise InvalidFilterError(f"unknown file type {', '.join(unknown)} (use one of {known})")
    return mimes
