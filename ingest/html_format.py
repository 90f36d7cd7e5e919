"""HTML files: the readable content only, one section per heading, paragraphs kept apart.

Scripts, styles, navigation, headers, footers, sidebars and forms are page furniture: indexed,
they would make every page of a site match every menu entry. When the page marks its content
with ``<main>`` or ``<article>``, only that is read. Block elements become blank-line separated
paragraphs, so the chunker can split where the author did.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

from ingest.encoding import decode_text
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
_NON_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)


def load_html(filename: str, data: bytes) -> Extracted:
    """Title: ``<title>``, else the first h1, else the file's stem."""
    soup = BeautifulSoup(
        decode_text(data, filename, declared=_declared_charset(data)), "html.parser"
    )
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
    articles = [tag for tag in soup.find_all("article") if tag.find_parent("article") is None]
    if articles:
        return articles
    body = soup.find("body")
    return [body if isinstance(body, Tag) else soup]


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

    def _walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, Tag):
                self._element(child)
            elif isinstance(child, NavigableString) and (
                isinstance(child, CData) or not isinstance(child, _NON_TEXT)
            ):
                # Whitespace in HTML source is layout; line breaks come only from <br>.
                self.inline.append(_WHITESPACE.sub(" ", str(child)))

    def _element(self, tag: Tag) -> None:
        name = tag.name.lower()
        if name in HEADING_TAGS:
            self._end_paragraph()
            self._end_section()
            self.heading = collapse_whitespace(tag.get_text(" ")) or None
            if self.heading:
                self.paragraphs.append(self.heading)
        elif name == "pre":
            self._end_paragraph()
            self.paragraphs.append(tag.get_text().strip("\n"))
        elif name == "br":
            self.inline.append("\n")
        elif name in CELL_TAGS:
            self.inline.append(" ")
            self._walk(tag)
            self.inline.append(" ")
        elif name in BLOCK_TAGS:
            self._end_paragraph()
            self._walk(tag)
            self._end_paragraph()
        else:
            self._walk(tag)

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
