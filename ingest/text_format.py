"""Plain text files: decode, normalise, and keep the text as one section.

Paragraphs stay separated by blank lines, which is all the chunker needs to split well.
"""

from __future__ import annotations

from ingest.encoding import decode_text
from ingest.extracted import Extracted
from ingest.models import Section
from ingest.textnorm import filename_stem, first_line, normalize_text


def load_text(filename: str, data: bytes) -> Extracted:
    """Title: the first line with a letter or digit in it, else the file's stem."""
    text = normalize_text(decode_text(data, filename))
    title = first_line(text) or filename_stem(filename)
    return Extracted(title=title, pages=1, sections=[Section(text=text, page=1)] if text else [])
