"""PDF files with pypdf: one section per page that has text, so every hit knows its page.

PDFs are the format most likely to be broken, encrypted, scanned or hostile, so each of those
gets its own message that tells the user what to do, and the work is capped: a file that
claims 100,000 pages or inflates to gigabytes of text is refused instead of eating the worker.
"""

from __future__ import annotations

import io
import logging
import re

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from ingest.errors import DocumentParseError
from ingest.extracted import Extracted
from ingest.models import Section
from ingest.textnorm import filename_stem, first_line, normalize_text, shorten

MAX_PAGES = 2_000
MAX_TEXT_CHARS = 50_000_000
ENCRYPTED_MESSAGE = "encrypted PDF: it needs a password, remove the password and upload it again"
NO_TEXT_MESSAGE = "no extractable text (scanned? run OCR on it first)"

# pypdf logs every recoverable oddity of real-world files ("incorrect startxref pointer",
# "fontTools is required …") as a warning; they are noise in a server log. Errors still show.
logging.getLogger("pypdf").setLevel(logging.ERROR)
log = logging.getLogger(__name__)

# A word broken across lines by a hyphen ("speci-\nfication"): joined again, so it can match.
_HYPHENATED = re.compile(r"(\w)-\n(?=[a-z])")
# Metadata titles that name a file or a template rather than the document.
_USELESS_TITLE = re.compile(
    r"^(untitled|unknown|title|document\d*|microsoft word|slide \d+)$"
    r"|\.(pdf|docx?|rtf|odt|txt|tex|dvi|ps|indd|qxd|pages|ppt|pptx|xlsx?)$",
    re.IGNORECASE,
)


def load_pdf(filename: str, data: bytes) -> Extracted:
    """Text per page (1-based, kept even when earlier pages are empty) and a title."""
    reader = _open(filename, data)
    try:
        page_count = len(reader.pages)
    except Exception as error:  # pypdf raises many types on a broken page tree
        raise DocumentParseError(filename, f"corrupt PDF: {_cause(error)}") from error
    if page_count > MAX_PAGES:
        raise DocumentParseError(
            filename, f"too many pages: {page_count:,} (the limit is {MAX_PAGES:,} pages)"
        )
    sections = _page_sections(filename, reader, page_count)
    title = _metadata_title(reader) or (
        first_line(sections[0].text) if sections and sections[0].page == 1 else None
    )
    return Extracted(title=title or filename_stem(filename), pages=page_count, sections=sections)


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


def _page_sections(filename: str, reader: PdfReader, page_count: int) -> list[Section]:
    """One section per page with text. A page that fails alone is skipped and logged."""
    sections: list[Section] = []
    total_chars = 0
    failures: list[str] = []
    for number in range(1, page_count + 1):
        try:
            raw = reader.pages[number - 1].extract_text()
        except FileNotDecryptedError as error:
            raise DocumentParseError(filename, ENCRYPTED_MESSAGE) from error
        except DependencyError as error:
            raise DocumentParseError(filename, f"cannot read this PDF here: {error}") from error
        except Exception as error:  # one bad page must not lose the other pages
            failures.append(f"page {number}: {_cause(error)}")
            continue
        text = _clean(raw)
        total_chars += len(text)
        if total_chars > MAX_TEXT_CHARS:
            raise DocumentParseError(
                filename,
                f"too much text: over {MAX_TEXT_CHARS // 1_000_000} million characters"
                f" by page {number}",
            )
        if text:
            sections.append(Section(text=text, page=number))
    if failures:
        log.warning(
            "%s: %d page(s) unreadable: %s", filename, len(failures), "; ".join(failures[:3])
        )
    if not sections:
        if failures:
            raise DocumentParseError(filename, f"corrupt PDF: {failures[0]}")
        raise DocumentParseError(filename, NO_TEXT_MESSAGE)
    return sections


def _clean(raw: str) -> str:
    # pypdf marks some line breaks inside figures with U+2029; on a page they read as spaces.
    text = normalize_text(raw.replace("\u2029", " ").replace("\x00", ""))
    return _HYPHENATED.sub(r"\1", text)


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
