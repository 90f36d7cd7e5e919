"""Does the start of a file look like text? Judged on bytes, before any decoding.

A file named ``.txt`` may be an executable, an archive or an image renamed by mistake (or on
purpose). Text never contains NUL bytes (unless it is UTF-16/32, which announces itself with a
byte-order mark) and is only rarely made of control bytes, so those two signs reject binary
content at upload time with a 415 instead of indexing garbage.
"""

from __future__ import annotations

from ingest.encoding import bom_encoding

BINARY_MESSAGE = "binary content, not text"
# Well-known binary signatures, named so the message can say what the file really is.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF: name it .pdf"),
    (b"PK\x03\x04", "a ZIP archive or an Office document"),
    (b"\x7fELF", "an executable"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document"),
)
# Bytes that appear in text: tab, newline, carriage return, form feed, escape (ANSI colours).
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b\x08")
MAX_CONTROL_RATIO = 0.10


def binary_reason(head: bytes) -> str | None:
    """Why ``head`` is not text ("binary content, not text…"), or None when it looks like text."""
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            return f"{BINARY_MESSAGE} (it looks like {what})"
    if not head or bom_encoding(head) is not None:
        return None
    if b"\x00" in head:
        return f"{BINARY_MESSAGE} (it contains NUL bytes)"
    controls = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    if controls > MAX_CONTROL_RATIO * len(head):
        return f"{BINARY_MESSAGE} (it is mostly control bytes)"
    return None
