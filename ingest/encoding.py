"""Bytes → str for the text formats, whatever encoding the file was saved in.

Order matters: a byte-order mark is certain; strict UTF-8 almost never decodes text that is not
UTF-8 (and is what most files are); an encoding the file declares itself (HTML's ``<meta
charset>``) comes next; only then is the encoding guessed with charset-normalizer, which is
what rescues legacy files such as Latin-1 or Windows-1252 exports.
"""

from __future__ import annotations

import codecs

import charset_normalizer

from ingest.errors import DocumentParseError

# UTF-32 before UTF-16: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


_WESTERN = "cp1252"
_CHAOS_TIE = 0.5


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``head`` names, if any."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    return None


def decode_text(data: bytes, filename: str, *, declared: str | None = None) -> str:
    """Decode a text file's bytes; raises ``DocumentParseError`` when no encoding fits."""
    encoding = bom_encoding(data)
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as error:
            raise DocumentParseError(
                filename, f"the file starts with a {encoding} byte-order mark but is not {encoding}"
            ) from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return data.decode(codecs.lookup(declared).name)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong or unknown declaration: fall through to detection
    return _guess(data, filename)


def _guess(data: bytes, filename: str) -> str:
    """charset-normalizer's guess, but Windows-1252 wins a tie.

    Short Western-European texts often fit several single-byte code pages equally well, and
    charset-normalizer may then pick Central European cp1250 for French ("crčme" for "crème").
    Windows-1252 (a superset of printable Latin-1) is by far the most common legacy encoding,
    so when it is among the equally good candidates it is the answer.
    """
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise DocumentParseError(filename, "could not detect the text encoding (binary content?)")
    tied = [m for m in matches if m.percent_chaos <= best.percent_chaos + _CHAOS_TIE]
    if any(_WESTERN in m.could_be_from_charset for m in tied):
        try:
            return data.decode(_WESTERN)
        except UnicodeDecodeError:
            pass  # one of the five bytes cp1252 leaves undefined: keep the guess
    return str(best)
