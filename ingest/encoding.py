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
# What charset-normalizer is shown of a large file. It decodes all it is given once per
# candidate code page: 20 MB of ASCII with one "é" at the end took 7.1 s (so ~18 s at the 50 MB
# upload limit); now 0.1 s. Its own analysis reads a few KB; this is ample for the guess.
DETECT_BYTES = 256 * 1024


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

    A file over ``DETECT_BYTES`` is judged on a sample of that size (``_sample``), and the
    answer is the first candidate, best first, that decodes the whole file: on large files in
    a dozen legacy encodings, the answer judged on all of it, or a better one, in a time that
    no longer grows with the file.
    """
    sample = _sample(data)
    matches = charset_normalizer.from_bytes(sample)
    if matches.best() is None and len(sample) < len(data):
        # Its verdict hangs on where its 512-byte probes fall (one over 20% "chaos" rejects a
        # code page): 262,137 bytes of Polish fail, 262,144 pass. Probe elsewhere once.
        matches = charset_normalizer.from_bytes(sample[: len(sample) // 2])
    best = matches.best()
    if best is None:
        raise DocumentParseError(filename, "could not detect the text encoding (binary content?)")
    tied = [m for m in matches if m.percent_chaos <= best.percent_chaos + _CHAOS_TIE]
    if any(_WESTERN in m.could_be_from_charset for m in tied):
        try:
            return data.decode(_WESTERN)
        except UnicodeDecodeError:
            pass  # one of the five bytes cp1252 leaves undefined: keep the guess
    for match in matches:  # best first
        try:
            return data.decode(match.encoding)
        except (UnicodeDecodeError, LookupError):
            continue  # the sample fitted it, the rest of the file does not
    raise DocumentParseError(
        filename, "could not detect the text encoding: no encoding fits the whole file"
    )


def _sample(data: bytes) -> bytes:
    """``data`` itself when it is small; else ``DETECT_BYTES`` from its first non-ASCII byte
    (or the last ``DETECT_BYTES`` when that byte is nearer the end): ASCII fits every candidate,
    the encodings differ from there on (the file is not UTF-8, so it has one); judged from its
    start, 0.5 MB of ASCII then 0.7 MB of Hebrew came out as Cyrillic. Cut after a newline
    unless it ends the file, so that no multi-byte character is cut in two (no CJK encoding
    uses 0x0A inside one)."""
    if len(data) <= DETECT_BYTES:
        return data
    try:
        data.decode("ascii")  # found in C, where a Python loop over 50 MB takes seconds
        first = 0
    except UnicodeDecodeError as error:
        first = error.start
    start = min(first, len(data) - DETECT_BYTES)
    start -= start % 4  # keep UTF-16/32 code units aligned
    if start + DETECT_BYTES + 4 >= len(data):
        return data[start:]  # to the file's own end
    sample = data[start : start + DETECT_BYTES]
    cut = sample.rfind(b"\n")
    return sample[: cut + 1] if cut > DETECT_BYTES // 2 else sample
