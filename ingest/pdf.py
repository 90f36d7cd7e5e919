"""PDF files with pypdf: one section per page that has text, so every hit knows its page.

PDFs are the format most likely to be broken, encrypted, scanned or hostile, so each of those
gets its own message that tells the user what to do, and the work is capped: a file that
claims 100,000 pages or inflates to gigabytes of text is refused instead of eating the worker.

The caps are enforced before or during the expensive work, never after it: a few KB of PDF can
hold a flate stream that inflates to 75 MB of page content, a page that draws one form XObject
thousands of times, or pages that share one huge stream. pypdf's text extraction costs about a
second per MB of content and grows faster than linearly on one big page (measured: 8 MB, 20 s;
60 MB, over 9 minutes), and a 1.3 KB file drawing a 100 KB form 5,000 times ran for over
5 minutes. So the decoded content size is summed before any page is read, and pypdf's visitor
callbacks count operations and text as it reads, stopping it at the cap. The caps are set so
that a hostile file costs no more than the largest honest one (2,000 dense pages).
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError
from pypdf.generic import ArrayObject, IndirectObject, StreamObject

from ingest.errors import DocumentParseError
from ingest.extracted import Extracted
from ingest.models import Section
from ingest.ocr import OcrJob
from ingest.page_furniture import strip_running_lines
from ingest.pdf_ocr import with_ocr
from ingest.textnorm import clean_page_text, filename_stem, first_line, shorten

MAX_PAGES = 2_000
MAX_TEXT_CHARS = 50_000_000
# A real page has a few thousand characters; one with a million is a bomb, and pypdf builds a
# page's text by concatenation, which turns quadratic on such a page.
MAX_PAGE_TEXT_CHARS = 1_000_000
# Decoded page content (text and drawing commands) over all pages, a stream shared by several
# pages counted once per page, as each page parses it again. The eval PDFs hold 5-20 KB a page.
MAX_CONTENT_BYTES = 100_000 * MAX_PAGES
# Content-stream operations read, form XObjects included (tracemonkey: 20,000 on its densest
# page). About 10 µs each.
MAX_OPERATIONS = 25_000 * MAX_PAGES
ENCRYPTED_MESSAGE = "encrypted PDF: it needs a password, remove the password and upload it again"
NO_TEXT_MESSAGE = "no extractable text (scanned? SEMSEARCH_OCR=auto reads scans with OCR)"
NO_TEXT_EVEN_BY_OCR = "no extractable text: no text layer, and OCR found none on its pages"

# pypdf logs every recoverable oddity of real-world files ("incorrect startxref pointer",
# "fontTools is required …") as a warning; they are noise in a server log. Errors still show.
logging.getLogger("pypdf").setLevel(logging.ERROR)
log = logging.getLogger(__name__)

# Metadata titles that name a file or a template rather than the document.
_USELESS_TITLE = re.compile(
    r"^(untitled|unknown|title|document\d*|microsoft word|slide \d+)$"
    r"|\.(pdf|docx?|rtf|odt|txt|tex|dvi|ps|indd|qxd|pages|ppt|pptx|xlsx?)$",
    re.IGNORECASE,
)


def load_pdf(filename: str, data: bytes, ocr: OcrJob | None = None) -> Extracted:
    """Text per page (1-based, kept even when earlier pages are empty) and a title. With
    ``ocr``, pages without a usable text layer are read by OCR (``ingest.pdf_ocr``)."""
    reader = _open(filename, data)
    try:
        page_count = len(reader.pages)
    except Exception as error:  # pypdf raises many types on a broken page tree
        raise DocumentParseError(filename, f"corrupt PDF: {_cause(error)}") from error
    if page_count > MAX_PAGES:
        raise DocumentParseError(
            filename, f"too many pages: {page_count:,} (the limit is {MAX_PAGES:,} pages)"
        )
    try:
        content_bytes = _content_bytes(reader, page_count)
    except LimitReachedError as error:  # one stream inflates past pypdf's own limit
        raise DocumentParseError(
            filename, "too much content: a content stream inflates past the PDF reader's limit"
        ) from error
    if content_bytes > MAX_CONTENT_BYTES:
        raise DocumentParseError(
            filename,
            f"too much content: the pages inflate to over {MAX_CONTENT_BYTES // 1_000_000} MB"
            " of text and drawing commands",
        )
    failures: dict[int, str] = {}
    sections = _page_sections(filename, reader, page_count, failures)
    if ocr is not None and ocr.enabled:
        sections = with_ocr(filename, data, sections, page_count, ocr, failures)
    if failures:
        log.warning(
            "%s: %d page(s) unreadable: %s",
            filename,
            len(failures),
            "; ".join(failures[number] for number in sorted(failures)[:3]),
        )
    if not sections:
        if failures:
            raise DocumentParseError(filename, f"corrupt PDF: {failures[min(failures)]}")
        enabled = ocr is not None and ocr.enabled
        raise DocumentParseError(filename, NO_TEXT_EVEN_BY_OCR if enabled else NO_TEXT_MESSAGE)
    # The title is read before running headers go: on a book's pages without a metadata
    # title, the running header is the best name there is.
    title = _metadata_title(reader) or (
        first_line(sections[0].text) if sections and sections[0].page == 1 else None
    )
    return Extracted(
        title=title or filename_stem(filename),
        pages=page_count,
        sections=strip_running_lines(sections),
    )


def _open(filename: str, data: bytes) -> PdfReader:
    """Open the file, and decrypt it when it opens with an empty password (owner-only locks)."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as error:
        raise DocumentParseError(filename, f"corrupt PDF: {_cause(error)}") from error
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except DependencyError as error:
            raise DocumentParseError(
                filename, f"encrypted PDF that this server cannot decrypt: {error}"
            ) from error
        except Exception as error:
            raise DocumentParseError(filename, f"corrupt PDF: {_cause(error)}") from error
        if not opened:
            raise DocumentParseError(filename, ENCRYPTED_MESSAGE)
    return reader


def _page_sections(
    filename: str, reader: PdfReader, page_count: int, failures: dict[int, str]
) -> list[Section]:
    """One section per page with text. A page that fails alone is skipped, its reason put in
    ``failures``."""
    sections: list[Section] = []
    total_chars = 0
    budget = _Budget()
    for number in range(1, page_count + 1):
        budget.page, budget.page_chars = number, 0
        try:
            raw = reader.pages[number - 1].extract_text(
                visitor_operand_before=budget.operation, visitor_text=budget.text
            )
        except _Overrun as overrun:
            raise DocumentParseError(filename, str(overrun)) from None
        except FileNotDecryptedError as error:
            raise DocumentParseError(filename, ENCRYPTED_MESSAGE) from error
        except DependencyError as error:
            raise DocumentParseError(filename, f"cannot read this PDF here: {error}") from error
        except Exception as error:  # one bad page must not lose the other pages
            failures[number] = f"page {number}: {_cause(error)}"
            continue
        text = clean_page_text(raw)
        total_chars += len(text)
        if total_chars > MAX_TEXT_CHARS:
            raise DocumentParseError(
                filename,
                f"too much text: over {MAX_TEXT_CHARS // 1_000_000} million characters"
                f" by page {number}",
            )
        if text:
            sections.append(Section(text=text, page=number))
    return sections


class _Overrun(BaseException):
    """Stops pypdf mid-page. A BaseException, because pypdf catches ``Exception`` around each
    form XObject it reads and would carry on."""


class _Budget:
    """Charged by pypdf's visitor callbacks as it reads, so a cap stops the reading itself."""

    def __init__(self) -> None:
        self.page = 0
        self.operations = 0
        self.page_chars = 0

    def operation(self, operator: Any, operands: Any, cm: Any, tm: Any) -> None:
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            raise _Overrun(
                f"too complex: over {MAX_OPERATIONS // 1_000_000} million text and drawing"
                f" operations by page {self.page}"
            )

    def text(self, text: Any, cm: Any, tm: Any, font: Any, size: Any) -> None:
        self.page_chars += len(text)
        if self.page_chars > MAX_PAGE_TEXT_CHARS:
            raise _Overrun(
                f"too much text: over {MAX_PAGE_TEXT_CHARS:,} characters on page {self.page}"
            )


def _content_bytes(reader: PdfReader, page_count: int) -> int:
    """The decoded size of every page's content, found without parsing it: decompression only,
    each stream once (pypdf keeps the result for the reading that follows). Stops counting
    past the cap; raises ``LimitReachedError`` for a stream past pypdf's inflation limit."""
    sizes: dict[int, int] = {}
    total = 0
    for index in range(page_count):
        try:
            contents = reader.pages[index].get("/Contents")
            resolved = contents.get_object() if contents is not None else None
            parts = resolved if isinstance(resolved, ArrayObject) else [contents]
            total += sum(_stream_bytes(part, sizes) for part in parts)
        except LimitReachedError:
            raise
        except Exception:  # a broken page: reading it reports the problem
            continue
        if total > MAX_CONTENT_BYTES:
            break
    return total


def _stream_bytes(part: Any, sizes: dict[int, int]) -> int:
    key = part.idnum if isinstance(part, IndirectObject) else id(part)
    if key not in sizes:
        stream = part.get_object() if part is not None else None
        sizes[key] = len(stream.get_data()) if isinstance(stream, StreamObject) else 0
    return sizes[key]


def _metadata_title(reader: PdfReader) -> str | None:
    """``/Title`` when it names the document: not a file name, a template name or blank."""
    try:
        metadata = reader.metadata
        raw = metadata.title if metadata is not None else None
    except Exception:  # a broken info dictionary is no reason to fail the file
        return None
    if not isinstance(raw, str):
        return None
    title = shorten(raw)
    if sum(char.isalpha() for char in title) < 3 or _USELESS_TITLE.search(title):
        return None
    return title


def _cause(error: BaseException) -> str:
    """A short, single-line cause for a user: the message, else the exception's name."""
    message = " ".join(str(error).split())
    return shorten(message, 160) if message else type(error).__name__
