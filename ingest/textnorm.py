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
# Stripped from line ends. Done per line with ``str.rstrip``, not with ``[ \t\xa0]+\n``: that
# regex is tried at every space of a run and scans the run each time, so a long run of spaces
# with no newline after it is quadratic, holding the GIL: 200 KB of spaces then "x" took 54 s
# (119 s on another machine); str.rstrip per line takes 3 ms.
_LINE_END_SPACE = " \t\xa0"
# Once line ends are stripped, a blank line is empty: three newlines or more are two or more
# blank lines. A plain run of one character cannot backtrack.
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_WHITESPACE = re.compile(r"\s+")
_ALNUM = re.compile(r"[^\W_]")
# A word broken across lines by a hyphen ("speci-\nfication"): joined again, so it can match.
_HYPHENATED = re.compile(r"(\w)-\n(?=[a-z])")


def normalize_text(text: str) -> str:
    """One newline convention, no control characters, at most one blank line in a row.

    Form feeds (page breaks in text files) and paragraph separators become blank lines, so the
    chunker sees them as paragraph boundaries. Linear in the length of the text whatever it
    holds: every loader calls this on text an uploader controls.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x85", "\n")
    text = text.replace("\f", "\n\n").replace("\u2029", "\n\n").replace("\u2028", "\n")
    text = text.replace("\x0b", "\n")
    text = _CONTROL.sub("", text)
    text = "\n".join([line.rstrip(_LINE_END_SPACE) for line in text.split("\n")])
    text = _MANY_BLANK_LINES.sub("\n\n", text)
    return text.strip()


def clean_page_text(raw: str) -> str:
    """A page's text as a PDF's text layer or OCR gives it: normalised, and words broken across
    lines by a hyphen joined again."""
    # pypdf marks some line breaks inside figures with U+2029; on a page they read as spaces.
    text = normalize_text(raw.replace("\u2029", " ").replace("\x00", ""))
    return _HYPHENATED.sub(r"\1", text)


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
    """The first line with a letter or digit in it, shortened; None when there is none.

    Found with one regex search for the first such character (``[^\\W_]`` is exactly what
    ``str.isalnum`` accepts), not by testing line after line in Python: 10 million lines of "-"
    took 2.2 s that way, 0.3 s this way."""
    match = _ALNUM.search(text)
    if match is None:
        return None
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.start())
    return shorten(text[start : end if end >= 0 else len(text)])


def filename_stem(filename: str) -> str:
    """The name without folders or extension: the title of last resort, never empty."""
    stem = PurePath(filename.replace("\\", "/")).stem
    return shorten(unicodedata.normalize("NFC", stem)) or filename or "untitled"
