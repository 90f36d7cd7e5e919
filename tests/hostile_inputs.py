"""Builders of hostile files (PDF bombs, DOCX bodies): pure functions from sizes to bytes.

They live here, not in one test, because the tests (``tests/test_hostile_files.py``,
``tests/test_bad_input_api.py``, ``tests/test_loader_fuzz.py``) and
``bench/search_during_hostile_ingest.py`` (through ``bench/hostile_files.py``) build the same
hostile bytes. No pytest and no product import: a benchmark imports this as it is.
"""

from __future__ import annotations

import io
import zipfile
import zlib

# --- DOCX ------------------------------------------------------------------------------------


def docx_with_body(body: bytes) -> bytes:
    """python-docx's default document (its styles included) with ``body`` as the body XML."""
    import docx

    template = io.BytesIO()
    docx.Document().save(template)
    source = zipfile.ZipFile(template)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                head = data.partition(b"<w:body>")[0]
                data = head + b"<w:body>" + body + b"</w:body></w:document>"
            target.writestr(info, data)
    return out.getvalue()


def run_of_text(text: str) -> bytes:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()


def merged_rows(rows: int) -> bytes:
    """A table whose first column is one cell merged down ``rows`` rows."""
    cells = [
        b"<w:tr><w:tc><w:tcPr><w:vMerge"
        + (b' w:val="restart"' if row == 0 else b"")
        + b"/></w:tcPr>"
        + (run_of_text("merged") if row == 0 else b"<w:p/>")
        + b"</w:tc><w:tc>"
        + run_of_text(f"row {row}")
        + b"</w:tc></w:tr>"
        for row in range(rows)
    ]
    return b"<w:tbl>" + b"".join(cells) + b"</w:tbl>"


# --- PDF -------------------------------------------------------------------------------------


def build_pdf(objects: list[bytes]) -> bytes:
    """A PDF from object bodies numbered 1..n; object 1 is the catalog."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def flate(content: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(content, 9)
    return b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n" % (len(packed), extra) + (
        packed + b"\nendstream"
    )


def text_lines(chars: int) -> bytes:
    """Content-stream operators showing about ``chars`` characters of text."""
    line = b"(" + b"lorem ipsum dolor sit amet " * 40 + b") Tj T*\n"
    return b"BT /F1 12 Tf 12 TL 72 720 Td\n" + line * (chars // 1080 + 1) + b"ET\n"


def pages_sharing(page_count: int, content: bytes, form: bytes | None = None) -> bytes:
    """``page_count`` pages that all draw one content stream (and may use one form XObject)."""
    first_page = 6
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(page_count))
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 3 0 R >> /XObject << /X 5 0 R >> >> >>"
    )
    form_object = flate(
        form or b"",
        b"/Type /XObject /Subtype /Form /BBox [0 0 612 792]"
        b" /Resources << /Font << /F1 3 0 R >> >> ",
    )
    return build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, page_count),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            flate(content),
            form_object,
            *[page] * page_count,
        ]
    )
