"""Hostile files for benchmarks: the inputs the tests found slow, built here at named sizes.

Each was a real problem for the old readers (``tests/test_hostile_files.py``,
``tests/test_bad_input_api.py``, ``tests/test_isolated_reader.py`` have the figures): regexes
that backtracked quadratically, recursion on nesting, lookups repeated per element, PDF bombs,
markup whose parsed tree outgrows the reader's memory limit. The PDF and DOCX builders are the
tests' own, imported from ``tests/hostile_inputs.py`` (pure builders, no pytest), so that the
benchmark and the tests build the same bytes; the tests stay the place that checks each is read
or refused. Importing this module needs the repository root on ``sys.path`` (the bench script
that imports it puts it there).

Sizes are the tests' own. Left out are the hostile files that are read fine into so much text
that embedding it, not reading it, would fill the phase (33 MB of ASCII for the encoding
detector, 800 KB of "![" for markdown-it, 200,000 one-word DOCX paragraphs, 20,000 merged
rows): a benchmark of searches during hostile ingestion wants hostile *parsing*.
"""

from __future__ import annotations

from collections.abc import Callable

from ingest.pdf import MAX_PAGES
from tests.hostile_inputs import docx_with_body, merged_rows, pages_sharing, run_of_text, text_lines


def _text(salt: str) -> bytes:
    """A few words that make one round's file differ from another's, bytes and chunks alike."""
    return f" round {salt} ".encode()


# name: builder taking a salt (so that each round uploads new bytes, never "unchanged")
HOSTILE: dict[str, Callable[[str], bytes]] = {
    # The trailing-space regex was quadratic: 35-54 s.
    "spaces.txt": lambda s: b" " * 200_000 + b"x" + _text(s),
    "tabs.md": lambda s: b"# T\n\n" + b"\t \xc2\xa0" * 70_000 + b"x" + _text(s),
    # csv.Sniffer rescanned its 64 KB sample from every quote: 12-71 s.
    "quotes.csv": lambda s: _text(s) + (',"a' * 30_000).encode()[: 64 * 1024],
    "newlines.csv": lambda s: _text(s) + ('"\n' * 30_000).encode()[: 64 * 1024],
    "single.csv": lambda s: _text(s) + (",'a" * 30_000).encode()[: 64 * 1024],
    # Recursion on nesting: 600 <span> raised RecursionError, failing a whole batch.
    "nested-600.html": lambda s: (
        b"<p>" + _text(s) + b"</p>" + b"<span>" * 600 + b"deep" + b"</span>" * 600
    ),
    "nested-50000.html": lambda s: (
        b"<p>" + _text(s) + b"</p>" + b"<span>" * 50_000 + b"deep" + b"</span>" * 50_000
    ),
    "cells.html": lambda s: b"<p>" + _text(s) + b"</p>" + b"<table><tr><td>" * 5_000 + b"x",
    # The stdlib parser's end-of-file retry rescanned the rest from every "<": 8-41 s.
    "cut-attr.html": lambda s: b"<p>" + _text(s) + b"</p>" + b"<a b='" * 11_000,
    "cut-tag.html": lambda s: b"<p>" + _text(s) + b"</p>" + b"<a\n" * 24_000,
    "cut-comment.html": lambda s: b"<p>" + _text(s) + b"</p>" + b"<!--x>" * 32_000,
    # find_parent climbed to the root per article: 9.8 s.
    "articles.html": lambda s: (
        b"<p>" + _text(s) + b"</p>" + b"<div>" * 6_000 + b"<article><p>story</p></article>" * 6_000
    ),
    # Paragraph.style searched styles.xml per paragraph: 39-46 s.
    "empty.docx": lambda s: docx_with_body(b"<w:p/>" * 80_000 + run_of_text(f"end round {s}")),
    # Over the paragraph cap (500,000): refused (took over 150 s before the cap).
    "two-million.docx": lambda s: docx_with_body(run_of_text(s) + b"<w:p/>" * 2_000_000),
    # Merged cells climbed the rows one XPath at a time: RecursionError after 27-40 s.
    "merged.docx": lambda s: docx_with_body(run_of_text(s) + merged_rows(1_200)),
    "wide.docx": lambda s: docx_with_body(
        b'<w:tbl><w:tr><w:tc><w:tcPr><w:gridSpan w:val="300000000"/></w:tcPr>'
        + run_of_text(f"wide {s}")
        + b"</w:tc><w:tc>"
        + run_of_text("next")
        + b"</w:tc></w:tr></w:tbl>"
    ),
    # The front-matter title regex was quadratic: 7.1-9.6 s.
    "front.md": lambda s: b"---\ntitle: a" + b" " * 50_000 + b"b\n---\nbody" + _text(s),
    "quotes.md": lambda s: _text(s) + b"\n\n" + b">" * 5_000 + b" deep",
    # PDF bombs, refused at a cap (35 s to over 9 minutes before the caps).
    "pages.pdf": lambda s: pages_sharing(MAX_PAGES + 1, f"BT ({s}) Tj ET".encode()),
    "form.pdf": lambda s: pages_sharing(
        1, b"/X Do\n" * 5000, form=text_lines(100_000) + s.encode()
    ),
    "shared.pdf": lambda s: pages_sharing(400, text_lines(1_000_000) + s.encode()),
    "inflate.pdf": lambda s: pages_sharing(1, b" " * 80_000_000 + s.encode()),
    # 5.6 MB of markup whose parsed tree takes hundreds of MB (fails at a 64 MB reader limit) and
    # about 20 s to read in process: past a 10 s read timeout, its worker killed and replaced.
    "flat.html": lambda s: _text(s) + b"<p>x</p>" * 700_000,
}


def hostile_files(salt: str) -> list[tuple[str, bytes]]:
    """Every hostile file, named ``<salt>-<name>``, with bytes of its own for this salt."""
    return [(f"{salt}-{name}", build(salt)) for name, build in HOSTILE.items()]
