"""HTML files: the readable content only, one section per heading, paragraphs kept apart.

Scripts, styles, navigation, headers, footers, sidebars and forms are page furniture: indexed,
they would make every page of a site match every menu entry. When the page marks its content
with ``<main>`` or ``<article>``, only that is read. Block elements become blank-line separated
paragraphs, so the chunker can split where the author did.

Hostile markup costs time in proportion to its size, never more: the element tree is walked with
an explicit stack, not by recursion (600 nested ``<span>``, 3.6 KB, raised ``RecursionError``);
the top-level ``<article>``s are found in one pass (each ``find_parent`` climbed to the root:
4,000 nested ``<div>`` over 4,000 articles took 7.7 s); and the parser ends an unterminated
tag, comment or declaration at the end of the file at once (``_Parser``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag
from bs4.builder import ParserRejectedMarkup
from bs4.builder._htmlparser import BeautifulSoupHTMLParser, HTMLParserTreeBuilder
from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

from ingest.encoding import decode_text
from ingest.errors import DocumentParseError
from ingest.extracted import Extracted
from ingest.models import Section
from ingest.textnorm import collapse_whitespace, filename_stem, normalize_text, shorten

DROPPED_TAGS = (
    "script", "style", "noscript", "nav", "header", "footer", "aside",
    "form", "template", "svg", "iframe", "object", "canvas", "button", "select",
)  # fmt: skip
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
BLOCK_TAGS = frozenset(
    {
        "address", "article", "blockquote", "body", "caption", "dd", "details", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "hr", "li", "main", "ol", "p", "pre",
        "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
CELL_TAGS = frozenset({"td", "th"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_WHITESPACE = re.compile(r"\s+")
_END_TAG_OPEN = re.compile(r"</[a-zA-Z]")
_NON_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)
# How an element ends once its children are walked: nothing, a space (a table cell), or the
# paragraph (a block).
_INLINE, _CELL, _BLOCK = "inline", "cell", "block"


def load_html(filename: str, data: bytes) -> Extracted:
    """Title: ``<title>``, else the first h1, else the file's stem."""
    text = decode_text(data, filename, declared=_declared_charset(data))
    try:
        soup = BeautifulSoup(text, builder=_TreeBuilder())
    except ParserRejectedMarkup as error:
        raise DocumentParseError(filename, f"not readable HTML: {error}") from error
    title_tag = soup.find("title")
    title = collapse_whitespace(title_tag.get_text()) if title_tag is not None else ""
    for tag in soup.find_all(DROPPED_TAGS):
        tag.decompose()
    for tag in soup.find_all(True, attrs={"hidden": True}):
        tag.decompose()
    if title_tag is not None and title_tag.parent is not None:
        title_tag.decompose()
    sections = _Walker().run(_content_roots(soup))
    if not title:
        first_h1 = soup.find("h1")
        title = collapse_whitespace(first_h1.get_text()) if first_h1 is not None else ""
    return Extracted(title=shorten(title) or filename_stem(filename), pages=1, sections=sections)


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def _content_roots(soup: BeautifulSoup) -> list[Tag]:
    """``<main>`` if the page has one, else its ``<article>``s, else the body (or everything)."""
    main = soup.find("main")
    if isinstance(main, Tag):
        return [main]
    articles = _outermost(soup, "article")
    if articles:
        return articles
    body = soup.find("body")
    return [body if isinstance(body, Tag) else soup]


def _outermost(root: Tag, name: str) -> list[Tag]:
    """The ``name`` elements not inside another, in document order: one depth-first pass that
    does not go into what it finds."""
    found: list[Tag] = []
    stack = _child_tags_reversed(root)
    while stack:
        node = stack.pop()
        if node.name == name:
            found.append(node)
        else:
            stack.extend(_child_tags_reversed(node))
    return found


def _child_tags_reversed(node: Tag) -> list[Tag]:
    """The element children, last first: popped off a stack they come out in document order."""
    return [child for child in reversed(node.contents) if isinstance(child, Tag)]


class _Walker:
    """Turns the element tree into sections: text flows into paragraphs, blocks end them."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.heading: str | None = None
        self.paragraphs: list[str] = []
        self.inline: list[str] = []

    def run(self, roots: list[Tag]) -> list[Section]:
        for root in roots:
            self._walk(root)
            self._end_paragraph()
        self._end_section(final=True)
        return self.sections

    def _walk(self, root: Tag) -> None:
        """Depth first through ``root``, with a stack of (children left, how the element ends)
        instead of recursion: markup nests as deep as it likes, Python's stack does not."""
        stack: list[tuple[Iterator[PageElement], str]] = [(iter(root.contents), _INLINE)]
        while stack:
            children, ending = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                self._leave(ending)
            elif isinstance(child, Tag):
                child_ending = self._enter(child)
                if child_ending is not None:
                    stack.append((iter(child.contents), child_ending))
            elif isinstance(child, NavigableString) and (
                isinstance(child, CData) or not isinstance(child, _NON_TEXT)
            ):
                # Whitespace in HTML source is layout; line breaks come only from <br>.
                self.inline.append(_WHITESPACE.sub(" ", str(child)))

    def _enter(self, tag: Tag) -> str | None:
        """Start ``tag``; how it ends when its children are to be walked, else None (done)."""
        name = tag.name.lower()
        if name in HEADING_TAGS:
            self._end_paragraph()
            self._end_section()
            self.heading = collapse_whitespace(tag.get_text(" ")) or None
            if self.heading:
                self.paragraphs.append(self.heading)
            return None
        if name == "pre":
            self._end_paragraph()
            self.paragraphs.append(tag.get_text().strip("\n"))
            return None
        if name == "br":
            self.inline.append("\n")
            return None
        if name in CELL_TAGS:
            self.inline.append(" ")
            return _CELL
        if name in BLOCK_TAGS:
            self._end_paragraph()
            return _BLOCK
        return _INLINE

    def _leave(self, ending: str) -> None:
        """End an element whose children have all been walked."""
        if ending == _CELL:
            self.inline.append(" ")
        elif ending == _BLOCK:
            self._end_paragraph()

    def _end_paragraph(self) -> None:
        text = "".join(self.inline)
        self.inline = []
        lines = (line.strip() for line in text.split("\n"))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            self.paragraphs.append(paragraph)

    def _end_section(self, *, final: bool = False) -> None:
        """Close the section; a heading with nothing under it yet is carried into the next."""
        if not final and self.heading is not None and self.paragraphs == [self.heading]:
            return
        text = normalize_text("\n\n".join(self.paragraphs))
        if text:
            self.sections.append(Section(text=text, page=1, heading=self.heading))
        self.paragraphs = []


class _Parser(BeautifulSoupHTMLParser):
    """The stdlib parser, but a tag, comment or declaration still open at the end of the file
    runs to the end of the file, as in browsers and in CPython's fix for CVE-2025-6069
    (gh-135462).

    ``feed`` stops at the first construct it cannot see the end of; the ``close`` of Pythons
    without that fix (3.11.7 here) retries it, gives up, passes its first characters on as text
    and starts again at the next ``<`` or ``>``, so every later ``<`` rescans the rest of the
    file: 64 KB of ``<a '`` (an unclosed quote) took 17 s, 66 KB of ``<a b='`` 10 s, 72 KB of
    ``<a`` and a newline 41 s, 192 KB of ``<!--x>`` 8 s. Here the construct swallows the rest
    at once: an unterminated comment is a comment to the end, a cut-off tag is dropped. One
    scan, and what a browser shows; well-formed markup never gets here.
    """

    _at_end = False

    def close(self) -> None:
        self._at_end = True
        super().close()

    def parse_starttag(self, i: int) -> int:
        return self._or_to_end(super().parse_starttag(i), i)

    def parse_endtag(self, i: int) -> int:
        return self._or_to_end(super().parse_endtag(i), i)

    def parse_comment(self, i: int, report: bool = True) -> int:
        return self._or_to_end(super().parse_comment(i, report), i)

    def parse_pi(self, i: int) -> int:
        return self._or_to_end(super().parse_pi(i), i)

    def parse_html_declaration(self, i: int) -> int:
        return self._or_to_end(super().parse_html_declaration(i), i)

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        """A marked section of no known kind (``<![x``, ``<![`` then no name) raised
        AssertionError, which Beautiful Soup makes a ParserRejectedMarkup for the whole file:
        read it as the bogus comment browsers make of it, up to the next ``>``."""
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return self.parse_bogus_comment(i)

    def _or_to_end(self, end: int, i: int) -> int:
        """``end`` when the construct at ``i`` ended (or more input may come); else handle it
        as running to the end of the file and return that end."""
        if end >= 0 or not self._at_end:
            return end
        rest = self.rawdata[i:]
        if rest.startswith("<!--"):
            self.handle_comment(rest[4:])
        elif rest.startswith("<![CDATA["):
            self.unknown_decl(rest[3:])
        elif rest[:9].lower() == "<!doctype":
            self.handle_decl(rest[2:])
        elif rest.startswith("<!"):
            self.handle_comment(rest[2:])
        elif rest.startswith("<?"):
            self.handle_pi(rest[2:])
        elif rest == "</":
            self.handle_data(rest)
        elif rest.startswith("</") and not _END_TAG_OPEN.match(rest):
            self.handle_comment(rest[2:])  # "</" and no name: a bogus comment
        # else a start or end tag cut off by the end of the file: dropped, as browsers do
        return len(self.rawdata)


class _TreeBuilder(HTMLParserTreeBuilder):
    """Beautiful Soup's html.parser builder, with ``_Parser`` (its ``feed`` takes the parser
    class from Beautiful Soup 4.13 on)."""

    def feed(
        self, markup: str | bytes, _parser_class: type[BeautifulSoupHTMLParser] = _Parser
    ) -> None:
        super().feed(markup, _parser_class)
