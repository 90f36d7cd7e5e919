"""Running headers and footers: the lines a PDF repeats at the top or bottom of its pages.

"National Hydro Network, Data Model - Edition 1.0 2004-06" on every page, "THE SIEGE OF
VICKSBURG. 49" over each page of a book, a journal's citation line in each footer: such a
line says nothing about the page it is on, yet it lands in that page's first or last passage.
There it matches every query that shares one of its words (BM25 ranks the page-opening passages
of a whole document above the passage that answers), and it takes a share of those passages'
embeddings. Layout-aware readers (Docling, unstructured) drop page headers and footers for the
same reason; this does it from the text alone, as pypdf gives no layout.

A line is furniture when, with its digits and punctuation taken away (page numbers change:
"49" and "52" mark the same header), it is among the first or last ``EDGE_LINES`` lines of its
page and a line like it (``SIMILARITY``: OCR reads "VICKSBURG" as "VICKSBUEG" on one page) is
at the edge of half of the pages around it (``WINDOW`` pages each side; rounded down, and at
least two): nearby pages, so that a chapter's own running title counts, and half, so that
headers alternating between even and odd pages do. A line only a few pages repeat (a section
title, a table's heading row across two pages) stays, and so does everything in a document of
fewer than ``MIN_PAGES`` pages, where a repeat is no evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from rapidfuzz import fuzz

from ingest.models import Section

#: Lines at each end of a page where headers and footers are looked for.
EDGE_LINES = 3
#: Documents with fewer pages (with text) are left as they are.
MIN_PAGES = 3
#: Pages on each side of a page whose edges are compared with its own.
WINDOW = 4
#: rapidfuzz's ratio (0-100) at or above which two lines are the same line.
SIMILARITY = 85
#: Lines with fewer letters are never furniture: "a" or "ii" repeat by chance.
MIN_LETTERS = 3
#: Nor are longer lines: a header is short, and comparing two lines costs the product of their
#: lengths (two 500,000-character lines would take minutes).
MAX_LINE_CHARS = 300
#: Lines read from each end of a page to find its edge lines among blank or symbol-only ones.
SCANNED_LINES = 20

# What is left of a line to compare: its letters, lowercased, one space between words, less
# the words a roman page number makes ("GeoBase iii" is the header "GeoBase 7" is).
_NOT_LETTERS = re.compile(r"[\W\d_]+")
_ROMAN = re.compile(r"\b[ivxlcdm]{1,6}\b")


def strip_running_lines(sections: Sequence[Section]) -> list[Section]:
    """The sections without their pages' running headers and footers.

    A page that held nothing else is dropped; if every page would be, the sections come back
    unchanged (a document of one repeated line is still that line)."""
    if len(sections) < MIN_PAGES:
        return list(sections)
    pages = [section.text.split("\n") for section in sections]
    edges = [_edges(lines) for lines in pages]
    stripped: list[Section] = []
    for number, (section, lines) in enumerate(zip(sections, pages, strict=True)):
        around = [
            edges[other]
            for other in range(max(0, number - WINDOW), min(len(pages), number + WINDOW + 1))
            if other != number
        ]
        needed = max(2, len(around) // 2)
        dropped = {
            index
            for index, key in edges[number].items()
            if sum(_any_like(key, keys.values()) for keys in around) >= needed
        }
        text = "\n".join(line for index, line in enumerate(lines) if index not in dropped)
        stripped.append(replace(section, text=text.strip()) if dropped else section)
    kept = [section for section in stripped if section.text]
    return kept or list(sections)


def _edges(lines: list[str]) -> dict[int, str]:
    """The first and last ``EDGE_LINES`` lines that hold a letter: index → comparison key.
    Only ``SCANNED_LINES`` lines from each end are looked at, however long the page."""
    edges: dict[int, str] = {}
    count = len(lines)
    for order in (
        range(min(count, SCANNED_LINES)),
        range(count - 1, max(-1, count - 1 - SCANNED_LINES), -1),
    ):
        found = 0
        for index in order:
            line = lines[index]
            if len(line) > MAX_LINE_CHARS:  # the page's own text, never furniture
                found += 1
            elif key := _key(line):
                if len(key) - key.count(" ") >= MIN_LETTERS:
                    edges[index] = key
                found += 1
            if found == EDGE_LINES:
                break
    return edges


def _key(line: str) -> str:
    letters = _NOT_LETTERS.sub(" ", line).lower()
    return " ".join(_ROMAN.sub(" ", letters).split()) or letters.strip()


def _any_like(key: str, others: Iterable[str]) -> bool:
    return any(fuzz.ratio(key, other, score_cutoff=SIMILARITY) for other in others)
