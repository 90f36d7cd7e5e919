"""Word (.docx) files, read with python-docx: one section per heading, tables included.

A DOCX is a ZIP of XML parts; python-docx reads it, so nothing here parses XML by hand. The body
is walked in document order (paragraphs and tables interleaved), and a paragraph styled
"Title" or "Heading 1".."Heading 9" (or a style based on one) starts a new section, so each chunk
knows the heading it sits under, as with Markdown and HTML. Table rows become lines with their
cells separated by " | ": a row stays together and reads as one record. Headers, footers,
comments and footnotes are page furniture or asides and are not indexed.

DOCX has no fixed pages: where a page breaks depends on the printer, fonts and window that
render it, so every section is on page 1.

The body is read from python-docx's XML elements, not its proxy objects, because those are slow
in ways a small file can exploit. ``Paragraph.style`` searched styles.xml for every paragraph
(and for the default style when it has none): a 37 KB DOCX of 80,000 empty paragraphs took 39 s
(92 s on another machine), 2,000,000 over 300 s; now 0.1 s. Here a paragraph's style id is read
from its ``w:pStyle`` and looked up in a dict built once from styles.xml (``_HeadingStyles``),
and only for a paragraph with text. ``_Row.cells`` found a vertically merged cell's content by
climbing the rows above it one XPath at a time: 800 rows under one merged cell took 28.5 s,
1,200 rows raised ``RecursionError``; here each row keeps the content at each grid offset for
the row below (0.1 s for 800 rows). python-docx's text XPath queries are compiled on every call
(``_paragraph_text``). ``MAX_PARAGRAPHS`` caps the paragraphs, those in table cells included.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import docx
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tbl, CT_Tc
from docx.oxml.text.paragraph import CT_P
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.styles import BabelFish

from ingest.errors import DocumentParseError
from ingest.extracted import Extracted
from ingest.models import Section
from ingest.textnorm import collapse_whitespace, filename_stem, normalize_text, shorten

# The uncompressed size of all parts: a ZIP bomb is refused before anything is inflated.
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_TEXT_CHARS = 50_000_000
# A 2,000-page report has about 40,000 paragraphs; a file with more than this is built to cost
# time (a million empty ones zip to 30 KB). At ~7 µs a paragraph, the cap bounds reading to ~4 s.
MAX_PARAGRAPHS = 500_000
CELL_SEPARATOR = " | "
HEADING_STYLES = frozenset({"Title", *(f"Heading {level}" for level in range(1, 10))})
# A style chain longer than this is broken (or circular); Word's own chains are 2-3 deep.
_MAX_STYLE_DEPTH = 10
_P, _TBL, _TR, _TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_R, _HYPERLINK = qn("w:r"), qn("w:hyperlink")
# What CT_R.text reads (its XPath "w:br | w:cr | w:noBreakHyphen | w:ptab | w:t | w:tab").
_RUN_TEXT = tuple(qn(f"w:{name}") for name in ("br", "cr", "noBreakHyphen", "ptab", "t", "tab"))
_STYLE, _STYLE_ID, _TYPE, _DEFAULT = qn("w:style"), qn("w:styleId"), qn("w:type"), qn("w:default")
_NAME, _BASED_ON, _VAL = qn("w:name"), qn("w:basedOn"), qn("w:val")
# The style types python-docx makes a ParagraphStyle (or its subclass _TableStyle) of.
_PARAGRAPH_LIKE = frozenset({"paragraph", "table"})
_NAMED = re.compile(r"named '([^']+)'")
# Word's defaults and template names say nothing about the document.
_USELESS_TITLE = re.compile(
    r"^(document\d*|untitled.*|microsoft word\b.*|title|.*\.(docx?|dotx?|rtf|odt))$", re.I
)


def load_docx(filename: str, data: bytes) -> Extracted:
    """Title: core properties' ``title`` when meaningful, else the first heading, else the stem."""
    document = _open(filename, data)
    try:
        walker = _Walker(filename, _HeadingStyles(document.styles.element))
        walker.body(document.element.body)
        core_title = document.core_properties.title
    except (DocumentParseError, MemoryError):
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


class _HeadingStyles:
    """Which paragraph styles are headings, from one pass over styles.xml.

    The answers are python-docx's (``Styles.get_by_id``, ``BaseStyle.name``, ``base_style``):
    an unknown id, or one of a style that is not a paragraph style, means the default paragraph
    style (the last marked ``w:default``); a style is a heading when its name, or that of a
    style it is based on, is one of ``HEADING_STYLES``. Where python-docx raised on a broken
    styles.xml (a base style with no type, a ``w:default`` of "yes"), this reads on.
    """

    def __init__(self, styles: BaseOxmlElement) -> None:
        self._by_id: dict[str, BaseOxmlElement] = {}
        self._default: BaseOxmlElement | None = None
        for style in styles.iterchildren(_STYLE):
            style_id = style.get(_STYLE_ID)
            if style_id:
                self._by_id.setdefault(style_id, style)  # the first of an id wins, as in XPath
            if style.get(_TYPE) == "paragraph" and style.get(_DEFAULT) in ("1", "true", "on"):
                self._default = style
        self._known: dict[str | None, bool] = {}  # by the style id, None for the default

    def is_heading(self, style_id: str | None) -> bool:
        style = self._by_id.get(style_id) if style_id else None
        if style is None or style.get(_TYPE) != "paragraph":
            style_id, style = None, self._default
        known = self._known.get(style_id)
        if known is None:
            known = self._known[style_id] = self._chain_is_heading(style)
        return known

    def _chain_is_heading(self, style: BaseOxmlElement | None) -> bool:
        for _ in range(_MAX_STYLE_DEPTH):
            if style is None:
                return False
            name = _child_val(style, _NAME)
            if name is not None and BabelFish.internal2ui(name) in HEADING_STYLES:
                return True
            based_on = _child_val(style, _BASED_ON)
            base = self._by_id.get(based_on) if based_on is not None else None
            style = base if base is not None and base.get(_TYPE) in _PARAGRAPH_LIKE else None
        return False


class _Walker:
    """Collects blocks into sections; a heading ends the section before it."""

    def __init__(self, filename: str, styles: _HeadingStyles) -> None:
        self.filename = filename
        self.styles = styles
        self.sections: list[Section] = []
        self.heading: str | None = None
        self.first_heading: str | None = None
        self.blocks: list[str] = []
        self.chars = 0
        self.paragraphs = 0

    def body(self, body: BaseOxmlElement) -> None:
        """The body's paragraphs and tables in document order (python-docx's
        ``iter_inner_content``: direct children only)."""
        for block in body.iterchildren(_P, _TBL):
            if isinstance(block, CT_P):
                self.paragraph(block)
            elif isinstance(block, CT_Tbl):
                self.table(block)

    def paragraph(self, paragraph: CT_P) -> None:
        text = self._text(paragraph)
        if not text.strip():  # no style work for an empty paragraph, heading or not
            return
        if self.styles.is_heading(paragraph.style):
            self._end_section()
            self.heading = collapse_whitespace(text)
            self.first_heading = self.first_heading or self.heading
            self._spend(len(self.heading))
            self.blocks.append(self.heading)
        else:
            self._spend(len(text))
            self.blocks.append(text)

    def table(self, table: CT_Tbl) -> None:
        rows = list(self._table_rows(table))
        if rows:
            self.blocks.append("\n".join(rows))

    def finish(self) -> list[Section]:
        self._end_section(final=True)
        return self.sections

    def _text(self, paragraph: CT_P) -> str:
        """The paragraph's text, counted against the cap."""
        self.paragraphs += 1
        if self.paragraphs > MAX_PARAGRAPHS:
            raise DocumentParseError(
                self.filename,
                f"too many paragraphs: over {MAX_PARAGRAPHS:,} (the limit is {MAX_PARAGRAPHS:,})",
            )
        return _paragraph_text(paragraph)

    def _table_rows(self, table: CT_Tbl) -> Iterator[str]:
        """Each row as one line, cells joined by " | ", as python-docx's ``_Row.cells`` gives
        them: a cell spanning columns counts once, and a cell continuing a vertical merge
        repeats the content of the cell it continues (the one at its grid offset above)."""
        above: dict[int, tuple[int, str]] = {}  # grid offset → (span, text) of the cell there
        for tr in table.iterchildren(_TR):
            here: dict[int, tuple[int, str]] = {}
            cells: list[str] = []
            offset = tr.grid_before
            for tc in tr.iterchildren(_TC):
                content = above.get(offset) if tc.vMerge == "continue" else None
                if content is None:  # its own content (also a "continue" with nothing above)
                    content = (tc.grid_span, self._cell_text(tc))
                here[offset] = content
                if content[0] > 0:  # python-docx yields the cell once per column it spans
                    cells.append(content[1])
                offset += tc.grid_span
            above = here
            while cells and not cells[-1]:  # trailing empty cells would leave a dangling "|"
                cells.pop()
            if cells:
                line = CELL_SEPARATOR.join(cells)
                self._spend(len(line) + 1)
                yield line

    def _cell_text(self, cell: CT_Tc) -> str:
        """A cell's paragraphs and nested tables as one line, so the row stays one line."""
        parts: list[str] = []
        for block in cell.iterchildren(_P, _TBL):
            if isinstance(block, CT_P):
                parts.append(self._text(block))
            elif isinstance(block, CT_Tbl):
                parts.extend(self._table_rows(block))
        return collapse_whitespace(" ".join(parts))

    def _spend(self, chars: int) -> None:
        self.chars += chars
        if self.chars > MAX_TEXT_CHARS:
            raise DocumentParseError(
                self.filename,
                f"too much text: over {MAX_TEXT_CHARS // 1_000_000} million characters",
            )

    def _end_section(self, *, final: bool = False) -> None:
        """Close the section; a heading with nothing under it yet is carried into the next."""
        if not final and self.heading is not None and self.blocks[-1:] == [self.heading]:
            return
        text = normalize_text("\n\n".join(self.blocks))
        if text:
            self.sections.append(Section(text=text, page=1, heading=self.heading))
        self.blocks = []


def _paragraph_text(paragraph: CT_P) -> str:
    """python-docx's ``Paragraph.text``: the runs' text, hyperlinks' included, with breaks and
    tabs as characters. Its XPath queries are compiled anew on every call (15 µs each, two per
    paragraph and one per run: 4.8 s for 200,000 one-word paragraphs); ``iterchildren`` walks
    the same children in C, and each item's ``str`` is still python-docx's."""
    return "".join(
        str(item)
        for child in paragraph.iterchildren(_R, _HYPERLINK)
        for run in ((child,) if child.tag == _R else child.iterchildren(_R))
        for item in run.iterchildren(*_RUN_TEXT)
    )


def _child_val(element: BaseOxmlElement, tag: str) -> str | None:
    """``w:val`` of the first ``tag`` child, as python-docx's ``name_val``/``basedOn_val``."""
    child = element.find(tag)
    return None if child is None else child.get(_VAL)


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
