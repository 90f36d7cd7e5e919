"""CSV files, read with the stdlib ``csv`` module: one paragraph per row, as "header: value".

A bare row ("Ada,1815") means little to an embedding model; "name: Ada; born: 1815" says what
each value is, so a row can be found by meaning ("mathematicians born in 1815"). Rows are
separated by blank lines, which the chunker treats as paragraph breaks, so a short row stays
whole in one chunk instead of being cut between two.

The first row is taken as the header, as in nearly every export; the dialect (delimiter,
quoting) is sniffed from a sample, falling back to plain comma-separated when it is unclear.
"""

from __future__ import annotations

import csv
import io

from ingest.encoding import decode_text
from ingest.errors import DocumentParseError
from ingest.extracted import Extracted
from ingest.models import Section
from ingest.textnorm import collapse_whitespace, filename_stem, normalize_text

MAX_ROWS = 200_000
# Enough rows to tell the delimiter; the sample is cut at a line end so no row is half-seen.
SNIFF_CHARS = 64 * 1024
DELIMITERS = ",;\t|"
PAIR_SEPARATOR = "; "


def load_csv(filename: str, data: bytes) -> Extracted:
    """Title: the file's stem (a CSV has no title of its own)."""
    text = decode_text(data, filename)
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    paragraphs: list[str] = []
    header: list[str] = []
    rows = 0
    try:
        for row in reader:
            if not header:  # the first non-blank row
                header = [collapse_whitespace(name) for name in row]
                continue
            rows += 1
            if rows > MAX_ROWS:
                raise DocumentParseError(
                    filename, f"too many rows: over {MAX_ROWS:,} (the limit is {MAX_ROWS:,})"
                )
            paragraph = _row_text(header, row)
            if paragraph:
                paragraphs.append(paragraph)
    except csv.Error as error:
        raise DocumentParseError(
            filename, f"malformed CSV on line {reader.line_num:,}: {error}"
        ) from error
    body = normalize_text("\n\n".join(paragraphs))
    return Extracted(
        title=filename_stem(filename),
        pages=1,
        sections=[Section(text=body, page=1)] if body else [],
    )


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """The sniffed dialect, or Excel's comma-separated one when the sample does not tell."""
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
    except csv.Error:  # one column, or too little text to judge
        return csv.excel


def _row_text(header: list[str], row: list[str]) -> str:
    """``name: Ada; born: 1815``; empty cells are left out, unnamed columns are numbered."""
    pairs: list[str] = []
    for number, raw in enumerate(row, start=1):
        value = collapse_whitespace(raw)
        if not value:
            continue
        name = header[number - 1] if number <= len(header) else ""
        pairs.append(f"{name or f'column {number}'}: {value}")
    return PAIR_SEPARATOR.join(pairs)
