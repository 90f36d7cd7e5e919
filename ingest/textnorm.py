"""Text clean-up shared by every loader, so each format reaches the chunker in the same shape.

The chunker and the search snippets rely on plain ``\\n`` newlines, blank lines between
paragraphs and no control characters; titles must be short enough for a results list.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePath

TITLE_MAX_CHARS = 120

# Control characters other than tab and newline carry no text and confuse tokenizers and JSON.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff\ufffe\uffff]")
_TRAILING_SPACE = re.compile(r"[ \t\xa0]+\n")
_MANY_BLANK_LINES = re.compile(r"\n[ \t\xa0]*\n(?:[ \t\xa0]*\n)+")
_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """One newline convention, no control characters, at most one blank line in a row.

    Form feeds (page breaks in text files) and paragraph separators become blank lines, so the
    chunker sees them as paragraph boundaries.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x85", "\n")
    text = text.replace("\f", "\n\n").replace("\u2029", "\n\n").replace("\u2028", "\n")
    text = text.replace("\x0b", "\n")
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text + "\n")
    text = _MANY_BLANK_LINES.sub("\n\n", text)
    return text.strip()


def collapse_whitespace(text: str) -> str:
    """All runs of whitespace as one space: for titles and headings, which are one line."""
    return _WHITESPACE.sub(" ", text).strip()


def shorten(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """One line of at most ``limit`` characters, cut at a word boundary with an ellipsis."""
    line = collapse_whitespace(text)
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def first_line(text: str) -> str | None:
    """The first line with a letter or digit in it, shortened; None when there is none."""
    for line in text.split("\n"):
        if any(char.isalnum() for char in line):
            return shorten(line)
    return None


def filename_stem(filename: str) -> str:
    """The name without folders or extension: the title of last resort, never empty."""
    stem = PurePath(filename.replace("\\", "/")).stem
    return shorten(unicodedata.normalize("NFC", stem)) or filename or "untitled"
