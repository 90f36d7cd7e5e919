"""Markdown files: one section per heading, so each chunk knows the heading it sits under.

Headings are found with markdown-it-py (CommonMark), not a regex, so a ``#`` inside a fenced or
indented code block is never taken for a heading, and setext headings (a line underlined with
``===`` or ``---``) count too. The text itself is kept as written (inline markup included): it
stays readable, and a hit's text matches the file.

Only the block structure is parsed for the whole file; inline markup is parsed for headings
alone, the only text whose markup is dropped, and only up to ``MAX_INLINE_CHARS`` of them (past
that, a heading's text is kept as written, whitespace collapsed). markdown-it's inline parser
costs up to 18 µs a character on hostile text (200 KB of ``![`` took 3.9 s, so 50 MB would take
15 min; now 0.01 s) while its block parser reads 2.7 MB of prose in 0.03 s (2.0 s with inline
parsing). The front matter's title is read without a regex (``_front_matter_title``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.encoding import decode_text
from ingest.extracted import Extracted
from ingest.models import Section
from ingest.textnorm import collapse_whitespace, filename_stem, normalize_text, shorten

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_TITLE_KEY = "title:"
# Block rules only: the core "inline" rule is what parses every paragraph's inline markup.
_BLOCKS = MarkdownIt("commonmark").disable("inline")
_INLINE = MarkdownIt("commonmark")
# Heading text parsed for inline markup, all headings together: an ordinary file has far less.
# Each heading counts at least MIN_INLINE_COST: one parse costs as much as ~30 characters.
MAX_INLINE_CHARS = 100_000
MIN_INLINE_COST = 32


@dataclass(frozen=True)
class _Heading:
    level: int
    text: str
    first_line: int  # the heading's own lines, [first_line, end_line)
    end_line: int


def load_markdown(filename: str, data: bytes) -> Extracted:
    """Title: front matter's ``title:``, else the first H1, else the file's stem."""
    text = normalize_text(decode_text(data, filename))
    text, front_title = _strip_front_matter(text)
    lines = text.split("\n")
    headings = _headings(text)
    sections = _sections(lines, headings)
    h1 = next((h.text for h in headings if h.level == 1 and h.text), None)
    title = shorten(front_title or h1 or "") or filename_stem(filename)
    return Extracted(title=title, pages=1, sections=sections)


def _strip_front_matter(text: str) -> tuple[str, str | None]:
    """YAML front matter is metadata, not prose: drop it, but keep its title."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return text, None
    raw_title = _front_matter_title(match.group(1))
    title = raw_title.strip("'\"") if raw_title is not None else None
    return text[match.end() :].lstrip("\n"), title or None


def _front_matter_title(front_matter: str) -> str | None:
    """The value of the first ``title:`` line with something after the colon, without the
    spaces and tabs around it: what ``^title:[ \\t]*(.+?)[ \\t]*$`` matched, read with str
    methods because that regex is quadratic in a run of spaces inside the value (a 50 KB run
    took 7.1 s)."""
    for line in front_matter.split("\n"):
        if line.startswith(_TITLE_KEY) and len(line) > len(_TITLE_KEY):
            value = line[len(_TITLE_KEY) :]
            # Nothing but spaces: the regex's (.+?) still took the last of them.
            return value.strip(" \t") or value[-1]
    return None


def _headings(text: str) -> list[_Heading]:
    """Top-level headings (not those nested in lists or quotes) with their line ranges."""
    env: dict[str, Any] = {}  # the block parse leaves link reference definitions here
    tokens = _BLOCKS.parse(text, env)
    headings: list[_Heading] = []
    budget = MAX_INLINE_CHARS
    for position, token in enumerate(tokens):
        if token.type != "heading_open" or token.level != 0 or token.map is None:
            continue
        content = tokens[position + 1].content
        cost = max(len(content), MIN_INLINE_COST)
        if cost <= budget:
            budget -= cost
            plain = _plain(_INLINE.parseInline(content, env)[0].children or [])
        else:
            plain = content
        headings.append(
            _Heading(
                level=int(token.tag[1:]),
                text=collapse_whitespace(plain),
                first_line=token.map[0],
                end_line=token.map[1],
            )
        )
    return headings


def _plain(children: list[Token]) -> str:
    """A heading's inline tokens as plain text: no ``**``, backticks or link targets."""
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def _sections(lines: list[str], headings: list[_Heading]) -> list[Section]:
    """The preamble, then one section per heading holding its text and the body below it.

    A heading with nothing under it (a chapter title right before its first subsection) is
    carried into the next section's text instead of becoming a chunk of two words.
    """
    sections: list[Section] = []
    preamble = "\n".join(lines[: headings[0].first_line] if headings else lines).strip()
    if preamble:
        sections.append(Section(text=preamble, page=1, heading=None))
    carried: list[str] = []
    for number, heading in enumerate(headings):
        stop = headings[number + 1].first_line if number + 1 < len(headings) else len(lines)
        body = "\n".join(lines[heading.end_line : stop]).strip()
        if not body:
            if heading.text:
                carried.append(heading.text)
            continue
        head = "\n\n".join([*carried, heading.text] if heading.text else carried)
        carried = []
        sections.append(
            Section(
                text=f"{head}\n\n{body}" if head else body, page=1, heading=heading.text or None
            )
        )
    if carried:
        sections.append(Section(text="\n\n".join(carried), page=1, heading=carried[-1]))
    return sections
