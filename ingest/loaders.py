"""The front door for files: judge an upload at once, name it safely, load it into a Document.

``check_upload`` looks only at the name, the size and the first bytes, so the API can answer
400/413/415 before any parsing. The type is judged by content as well as by extension: a
renamed executable must not reach a parser, a PDF must look like one, and a DOCX must be a ZIP.
``load_document`` then dispatches by extension to one loader per format; whatever a loader
raises that is not an ``IngestError`` (a bug, or a file built to break a parser) becomes an
``UnreadableFileError`` naming the file and the cause, so the file fails alone and the API
answers 422, not 500.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import unicodedata
from collections.abc import Callable

from ingest.csv_format import load_csv
from ingest.docx_format import load_docx
from ingest.errors import (
    DocumentParseError,
    EmptyFileError,
    FileTooLargeError,
    IngestError,
    UnreadableFileError,
    UnsupportedFileError,
)
from ingest.extracted import Extracted
from ingest.html_format import load_html
from ingest.image_format import load_image
from ingest.markdown_format import load_markdown
from ingest.models import Document, PageProgress
from ingest.ocr import OcrJob, OcrSettings
from ingest.pdf import load_pdf
from ingest.text_format import load_text
from ingest.text_sniff import binary_reason
from search.file_types import (
    DOCX_MIME,
    IMAGE_MIMES,
    MIME_TYPES,
    SUPPORTED_EXTENSIONS,
    extension,
)

log = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
# The PDF spec tolerates a little junk before the header, and so do readers; so do we.
PDF_MAGIC_WINDOW = 1024
# A DOCX is a ZIP archive, and a ZIP starts with a local file header.
ZIP_MAGIC = b"PK\x03\x04"
# Word 97-2003 .doc files (OLE compound documents), often renamed to .docx by hand.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# How each image format starts; a TIFF in either byte order, a WebP inside a RIFF container.
IMAGE_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
}

#: Formats whose pages may be read by OCR; they are handed the file's ``OcrJob``.
_OCR_LOADERS: dict[str, Callable[[str, bytes, OcrJob], Extracted]] = {
    "application/pdf": load_pdf,
    **dict.fromkeys(IMAGE_MIMES, load_image),
}
_LOADERS: dict[str, Callable[[str, bytes], Extracted]] = {
    "text/plain": load_text,
    "text/markdown": load_markdown,
    "text/html": load_html,
    DOCX_MIME: load_docx,
    "text/csv": load_csv,
}

FALLBACK_FILENAME = "upload"
MAX_FILENAME_CHARS = 200


def check_upload(filename: str, size: int, head: bytes, *, max_bytes: int) -> None:
    """Reject what can be judged before parsing, raising a ``RejectedFileError`` that says why:
    ``EmptyFileError``, ``FileTooLargeError`` (over ``max_bytes``) or ``UnsupportedFileError``
    (a type semsearch does not read, or content that does not match the extension). ``head`` is
    the first few KB of the file.
    """
    if size <= 0:
        raise EmptyFileError(filename, "the file is empty")
    if size > max_bytes:
        raise FileTooLargeError(
            filename,
            f"the file is {_megabytes(size)} MB, over the {_megabytes(max_bytes)} MB upload limit"
            " (set SEMSEARCH_MAX_UPLOAD_MB to change it)",
        )
    ext = extension(filename)
    if ext not in SUPPORTED_EXTENSIONS:
        what = f"'{ext}' files are" if ext else "files without an extension are"
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise UnsupportedFileError(
            filename, f"unsupported file type: {what} not supported (use {supported})"
        )
    if ext == ".pdf":
        if PDF_MAGIC not in head[:PDF_MAGIC_WINDOW]:
            raise UnsupportedFileError(filename, "not a PDF: the content does not start with %PDF-")
        return
    if ext == ".docx":
        if not head.startswith(ZIP_MAGIC):
            why = "not a DOCX: the content is not a ZIP archive, which every DOCX is"
            if head.startswith(OLE_MAGIC):
                why += " (it looks like an old .doc file: save it as .docx in Word)"
            raise UnsupportedFileError(filename, why)
        return
    mime = MIME_TYPES[ext]
    if mime in IMAGE_MIMES:
        if not _looks_like(mime, head):
            raise UnsupportedFileError(
                filename, f"not a {ext.lstrip('.').upper()} image: the content does not match"
            )
        return
    reason = binary_reason(head)
    if reason is not None:
        raise UnsupportedFileError(filename, reason)


def _looks_like(mime: str, head: bytes) -> bool:
    if mime == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return head.startswith(IMAGE_MAGIC[mime])


def safe_filename(name: str) -> str:
    """A display- and storage-safe name: the last path part, no control characters, never empty.

    Both slash kinds count as folder separators, because a browser on Windows may send
    ``C:\\Users\\me\\a.pdf`` and a hostile client may send ``../../etc/passwd``.
    """
    name = unicodedata.normalize("NFC", name).replace("\\", "/")
    name = name.rsplit("/", 1)[-1]
    # Cc: control characters; Cf: invisible format characters such as U+202E (right-to-left
    # override), which can disguise "gpj.exe" as "exe.jpg".
    name = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf"))
    name = name.strip()
    if set(name) <= {"."}:  # "", ".", "..": nothing left that names a file
        return FALLBACK_FILENAME
    if len(name) > MAX_FILENAME_CHARS:
        stem, ext = posixpath.splitext(name)
        name = stem[: MAX_FILENAME_CHARS - len(ext[:20])] + ext[:20]
    return name


def load_document(
    filename: str,
    data: bytes,
    progress: PageProgress | None = None,
    *,
    ocr: OcrSettings = OcrSettings(),
) -> Document:
    """Parse a file into a Document; raises ``DocumentParseError`` naming the cause. PDF pages
    without a usable text layer and images are read by OCR as ``ocr`` says, each page read
    reported to ``progress``.

    ``doc_id`` is the sha256 of the bytes, so the same file always gets the same id. Any other
    exception from a loader is logged with its traceback and raised as ``UnreadableFileError``
    ("could not be read: RecursionError: ..."); ``MemoryError`` is not caught.
    """
    ext = extension(filename)
    mime = MIME_TYPES.get(ext)
    if mime is None:
        raise DocumentParseError(filename, f"unsupported file type '{ext or '(none)'}'")
    try:
        if mime in _OCR_LOADERS:
            job = OcrJob(filename, ocr, progress)
            extracted = _OCR_LOADERS[mime](filename, data, job)
        else:
            extracted = _LOADERS[mime](filename, data)
    except (IngestError, MemoryError):
        raise
    except Exception as error:
        log.exception("reading %s failed unexpectedly", filename)
        raise UnreadableFileError(filename, error) from error
    sections = [section for section in extracted.sections if section.text.strip()]
    if not sections:
        raise DocumentParseError(filename, "no text found")
    return Document(
        doc_id=hashlib.sha256(data).hexdigest(),
        filename=filename,
        title=extracted.title,
        mime=mime,
        size=len(data),
        pages=extracted.pages,
        sections=sections,
    )


def _megabytes(size: int) -> str:
    """``52428800`` → ``'50'``; ``1572864`` → ``'1.5'``: short, and exact for whole limits."""
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")
