"""Word (.docx) files, read with python-docx: one section per heading, tables included.

A DOCX is a ZIP of XML parts; python-docx reads it, so nothing here parses XML by hand. The body
is walked in document order (paragraphs and tables interleaved), and a paragraph styled
"Title" or "Heading 1".."Heading 9" (or a style based on one) starts a new section, so each chunk
knows the heading it sits under, as with Markdown and HTML. Table rows become lines with their
cells separated by " | ": a row stays together and reads as one record. Headers, footers,
comments and footnotes are page furniture or asides and are not indexed.

DOCX has no fixed pages: where a page breaks depends on the printer, fonts and window that
render it, so every section is on page 1.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import docx
from docx.document import Document as DocxDocument
from docx.styles.style import ParagraphStyle
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from ingest.errors import DocumentParseError
from ingest.extracted import Extracted
from ingest.models import Section
from ingest.textnorm import collapse_whitespace, filename_stem, normalize_text, shorten

# The uncompressed size of all parts: a ZIP bomb is refused before anything is inflated.
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_TEXT_CHARS = 50_000_000
CELL_SEPARATOR = " | "
HEADING_STYLES = frozenset({"Title", *(f"Heading {level}" for level in range(1, 10))})
# A style chain longer than this is broken (or circular); Word's own chains are 2-3 deep.
_MAX_STYLE_DEPTH = 10
_NAMED = re.compile(r"named '([^']+)'")
# Word's defaults and template names say nothing about the document.
_USELESS_TITLE = re.compile(
    r"^(document\d*|untitled.*|microsoft word\b.*|title|.*\.(docx?|dotx?|rtf|odt))$", re.I
)


def load_docx(filename: str, data: bytes) -> Extracted:
    """Title: core properties' ``title`` when meaningful, else the first heading, else the stem."""
    document = _open(filename, data)
    walker = _Walker(filename)
    try:
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                walker.paragraph(block)
            else:
                walker.table(block)
        core_title = document.core_properties.title
    except DocumentParseError:
        raise
    except Exception as error:  # python-docx and lxml raise many types on malformed XML
        raise DocumentParseError(filename, f"corrupt DOCX: {_cause(error)}") from error
    sections = walker.finish()
    title = _meaningful(core_title) or shorten(walker.first_heading or "")
    return Extracted(title=title or filename_stem(filename), pages=1, sections=sections)


def _open(filename: str, data: bytes) -> DocxDocument:
    """The parsed document; every way a file can fail to be one is a ``DocumentParseError``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as error:
        raise DocumentParseError(
            filename, f"corrupt DOCX: not a readable ZIP archive ({_cause(error)})"
        ) from error
    if inflated > MAX_UNCOMPRESSED_BYTES:
        raise DocumentParseError(
            filename,
            f"too large once unpacked: {inflated // (1024 * 1024):,} MB"
            f" (the limit is {MAX_UNCOMPRESSED_BYTES // (1024 * 1024):,} MB)",
        )
    try:
        return docx.Document(io.BytesIO(data))
    except KeyError as error:  # a part the package needs is missing from the archive
        raise DocumentParseError(
            filename, f"not a Word document: the ZIP archive has no {_missing_part(error)}"
        ) from error
    except ValueError as error:
        if "not a Word file" in str(error):
            kind = str(error).rsplit("content type is", 1)[-1].strip(" '")
            raise DocumentParseError(
                filename, f"not a Word document: its main part is '{kind}'"
            ) from error
        raise DocumentParseError(filename, f"corrupt DOCX: {_cause(error)}") from error
    except Exception as error:  # broken XML (lxml), a damaged member (zipfile), and others
        raise DocumentParseError(filename, f"corrupt DOCX: {_cause(error)}") from error


class _Walker:
    """Collects blocks into sections; a heading ends the section before it."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.sections: list[Section] = []
        self.heading: str | None = None
        self.first_heading: str | None = None
        self.blocks: list[str] = []
        self.chars = 0

    def paragraph(self, paragraph: Paragraph) -> None:
        text = paragraph.text
        if _is_heading(paragraph.style):
            heading = collapse_whitespace(text)
            if not heading:
                return
            self._end_section()
            self.heading = heading
            self.first_heading = self.first_heading or heading
            self._add(heading)
        elif text.strip():
            self._add(text)

    def table(self, table: Table) -> None:
        rows = list(_table_rows(table))
        if rows:
            self._add("\n".join(rows))

    def finish(self) -> list[Section]:
        self._end_section(final=True)
        return self.sections

    def _add(self, block: str) -> None:
        self.chars += len(block)
        if self.chars > MAX_TEXT_CHARS:
            raise DocumentParseError(
                self.filename,
                f"too much text: over {MAX_TEXT_CHARS // 1_000_000} million characters",
            )
        self.blocks.append(block)

    def _end_section(self, *, final: bool = False) -> None:
        """Close the section; a heading with nothing under it yet is carried into the next."""
        if not final and self.heading is not None and self.blocks[-1:] == [self.heading]:
            return
        text = normalize_text("\n\n".join(self.blocks))
        if text:
            self.sections.append(Section(text=text, page=1, heading=self.heading))
        self.blocks = []


def _is_heading(style: ParagraphStyle | None) -> bool:
    """Styled as a heading, directly or through the style it is based on (a custom "My H2")."""
    for _ in range(_MAX_STYLE_DEPTH):
        if style is None:
            return False
        if style.name in HEADING_STYLES:
            return True
        base = style.base_style
        style = base if isinstance(base, ParagraphStyle) else None
    return False


def _table_rows(table: Table) -> Iterator[str]:
    """Each row as one line, cells joined by " | "; a cell merged across columns counts once."""
    for row in table.rows:
        cells: list[str] = []
        previous: _Cell | None = None
        for cell in row.cells:
            if cell is previous:  # python-docx repeats a horizontally merged cell per column
                continue
            previous = cell
            cells.append(_cell_text(cell))
        while cells and not cells[-1]:  # trailing empty cells would only leave a dangling "|"
            cells.pop()
        if cells:
            yield CELL_SEPARATOR.join(cells)


def _cell_text(cell: _Cell) -> str:
    """A cell's paragraphs and nested tables as one line, so the row stays one line."""
    parts: list[str] = []
    for block in cell.iter_inner_content():
        if isinstance(block, Paragraph):
            parts.append(block.text)
        else:
            parts.extend(_table_rows(block))
    return collapse_whitespace(" ".join(parts))


def _meaningful(raw: str | None) -> str | None:
    """The core ``title`` when it names the document: not blank, a default or a file name."""
    title = shorten(raw or "")
    if sum(char.isalpha() for char in title) < 3 or _USELESS_TITLE.match(title):
        return None
    return title


def _missing_part(error: KeyError) -> str:
    """What python-docx looked for: a member's name, or the link to the document part."""
    message = str(error.args[0]) if error.args else ""
    if "officeDocument" in message:
        return "document part (nothing links to word/document.xml)"
    named = _NAMED.search(message)
    return named.group(1) if named else "part python-docx needs"


def _cause(error: BaseException) -> str:
    """A short, single-line cause for a user: the message, else the exception's name."""
    message = " ".join(str(error).split())
    return shorten(message, 160) if message else type(error).__name__
