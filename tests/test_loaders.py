"""Loaders: real PDFs from ../shared/eval/pdfs, other formats generated in memory."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from ingest import pdf as pdf_module
from ingest.errors import DocumentParseError, RejectedFileError
from ingest.loaders import check_upload, load_document, safe_filename
from search.file_types import SUPPORTED_EXTENSIONS
from web.errors import http_status

MB = 1024 * 1024


def _load(folder: Path, name: str):  # type: ignore[no-untyped-def]
    return load_document(name, (folder / name).read_bytes())


# --- PDF -------------------------------------------------------------------------------------


def test_tracemonkey_keeps_its_14_pages_and_page_numbers(eval_pdfs: Path) -> None:
    document = _load(eval_pdfs, "tracemonkey-pldi09.pdf")
    assert document.pages == 14
    assert [section.page for section in document.sections] == list(range(1, 15))
    assert document.mime == "application/pdf"
    assert document.title.startswith("Trace-based Just-in-Time Type Specialization")
    # A sentence printed on page 5 of the paper is in the page-5 section, and only there.
    phrase = "integer key called the object shape"
    assert [s.page for s in document.sections if phrase in s.text] == [5]


def test_doc_id_is_the_sha256_of_the_bytes(eval_pdfs: Path) -> None:
    data = (eval_pdfs / "solar-cell-paper.pdf").read_bytes()
    document = load_document("solar-cell-paper.pdf", data)
    assert document.doc_id == hashlib.sha256(data).hexdigest()
    assert document.size == len(data)
    assert document.pages == 5
    assert document.title == "Performance evaluation of a GaInP/GaAs solar cell structure"


def test_encrypted_pdf_that_needs_a_user_password(eval_pdfs: Path) -> None:
    # The file is AES-128 (/V 4, /R 4) with a real user password: "" does not open it.
    with pytest.raises(DocumentParseError, match="encrypted") as caught:
        _load(eval_pdfs, "encrypted-user-password.pdf")
    assert "password" in caught.value.reason
    assert caught.value.filename == "encrypted-user-password.pdf"


def test_pdf_locked_with_only_an_owner_password_opens(eval_pdfs: Path) -> None:
    """An empty user password (print/copy restrictions only) is tried, so such files load."""
    writer = PdfWriter()
    writer.add_page(PdfReader(eval_pdfs / "solar-cell-paper.pdf").pages[0])
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    document = load_document("locked.pdf", buffer.getvalue())
    assert document.pages == 1
    assert "GaInP/GaAs" in document.text


def test_broken_pdf_is_reported_as_corrupt(eval_pdfs: Path) -> None:
    # broken.pdf has a valid header but its page tree points at a missing object.
    with pytest.raises(DocumentParseError, match="corrupt PDF") as caught:
        _load(eval_pdfs, "broken.pdf")
    assert "Invalid object in /Pages" in caught.value.reason


def test_ocr_scan_has_a_text_layer(eval_pdfs: Path) -> None:
    """The Vicksburg sample is a scan with an OCR text layer, so its text is extractable."""
    document = _load(eval_pdfs, "Seige_of_Vicksburg_Sample_OCR.pdf")
    assert document.pages == 6
    assert [section.page for section in document.sections] == [1, 2, 3, 4, 5, 6]
    assert "Cannister shot" in document.sections[2].text
    # Its metadata title is "Binder1.pdf", a file name: the first line is used instead.
    assert document.title.startswith("THE SIEGE OF VICKSBURG")


def test_pdf_without_text_says_so() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(DocumentParseError, match="no extractable text"):
        load_document("scan.pdf", buffer.getvalue())


def test_pdf_work_is_capped(eval_pdfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_module, "MAX_PAGES", 10)
    with pytest.raises(DocumentParseError, match="too many pages: 14"):
        _load(eval_pdfs, "tracemonkey-pldi09.pdf")
    monkeypatch.setattr(pdf_module, "MAX_PAGES", 2_000)
    monkeypatch.setattr(pdf_module, "MAX_TEXT_CHARS", 10_000)
    with pytest.raises(DocumentParseError, match="too much text"):
        _load(eval_pdfs, "tracemonkey-pldi09.pdf")


def test_garbage_after_a_pdf_header_is_corrupt() -> None:
    with pytest.raises(DocumentParseError, match="corrupt PDF"):
        load_document("fake.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 20)


# --- plain text ------------------------------------------------------------------------------


def test_latin1_text_is_decoded() -> None:
    text = (
        "Le café de la gare\n\nÀ Noël, le garçon a mangé une crème brûlée près de la fenêtre. "
        "Après le dîner, nous avons étudié le français et la géographie de la région."
    )
    document = load_document("notes.txt", text.encode("latin-1"))
    assert document.text == text
    assert document.title == "Le café de la gare"
    assert document.mime == "text/plain"
    assert document.pages == 1


def test_utf8_bom_and_crlf_are_handled() -> None:
    document = load_document("bom.txt", "\ufeffFirst line é\r\nsecond\r\n\r\n\r\n\r\nnext".encode())
    assert document.text == "First line é\nsecond\n\nnext"
    assert document.title == "First line é"


def test_utf16_with_bom_passes_the_check_and_decodes() -> None:
    data = "Grüße aus Köln\n\nnoch mehr Text".encode("utf-16")
    check_upload("de.txt", len(data), data[:4096], max_bytes=MB)
    assert load_document("de.txt", data).title == "Grüße aus Köln"


def test_blank_text_file_has_no_text() -> None:
    with pytest.raises(DocumentParseError, match="no text found"):
        load_document("blank.txt", b"  \n\n \t \n")


def test_text_title_falls_back_to_the_stem() -> None:
    assert load_document("dir/report-2024.txt", b"--- *** ---\n\n...").title == "report-2024"


# --- Markdown --------------------------------------------------------------------------------

MARKDOWN = """Intro before any heading.

# Getting started

Install it first.

```bash
# this is a shell comment, not a heading
pip install semsearch
```

## Usage

Run the server.

Configuration
-------------

Set the variables.

# Reference
## API

The API lives under /api.
"""


def test_markdown_sections_follow_headings() -> None:
    document = load_document("guide.md", MARKDOWN.encode())
    assert document.title == "Getting started"
    assert document.mime == "text/markdown"
    headings = [section.heading for section in document.sections]
    assert headings == [None, "Getting started", "Usage", "Configuration", "API"]
    install = document.sections[1]
    assert "# this is a shell comment, not a heading" in install.text
    assert install.text.startswith("Getting started\n\nInstall it first.")
    # "Reference" has nothing under it: it is carried into the next section's text.
    assert document.sections[-1].text == "Reference\n\nAPI\n\nThe API lives under /api."


def test_markdown_front_matter_title_and_stem_fallback() -> None:
    with_front_matter = b"---\ntitle: 'My Notes'\ntags: [a]\n---\n\nSome text.\n"
    document = load_document("notes.markdown", with_front_matter)
    assert document.title == "My Notes"
    assert "tags" not in document.text
    assert load_document("plain.md", b"Only text, no heading.").title == "plain"


# --- HTML ------------------------------------------------------------------------------------

HTML = """<!doctype html>
<html><head><title>  Sample   Page </title>
<style>body { color: red }</style><script>var tracking = "do not index";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About menu</a></nav>
<header>Site banner</header>
<h1>Main heading</h1>
<p>First paragraph
spans two source lines.</p><p>Second paragraph.<br>After a break.</p>
<!-- a comment -->
<h2>Details <small>v2</small></h2>
<ul><li>one</li><li>two</li></ul>
<pre>code   keeps
  its spacing</pre>
<noscript>enable js</noscript>
<footer>Copyright footer</footer>
</body></html>
"""


def test_html_keeps_content_title_and_headings_and_drops_furniture() -> None:
    document = load_document("page.html", HTML.encode())
    assert document.title == "Sample Page"
    assert document.mime == "text/html"
    text = document.text
    for dropped in ("tracking", "color: red", "About menu", "Site banner", "footer", "enable js"):
        assert dropped not in text
    assert "a comment" not in text
    assert [section.heading for section in document.sections] == ["Main heading", "Details v2"]
    first = document.sections[0].text
    assert first == (
        "Main heading\n\nFirst paragraph spans two source lines.\n\n"
        "Second paragraph.\nAfter a break."
    )
    assert "one\n\ntwo" in document.sections[1].text
    assert "code   keeps\n  its spacing" in document.sections[1].text


def test_html_prefers_main_and_reads_declared_charset() -> None:
    page = (
        '<html><head><meta charset="iso-8859-1"></head><body><div>sidebar text</div>'
        "<main><h1>Caf\xe9 menu</h1><p>Cr\xe8me br\xfbl\xe9e.</p></main></body></html>"
    )
    document = load_document("menu.htm", page.encode("latin-1"))
    assert document.title == "Café menu"  # no <title>: the first h1
    assert "sidebar" not in document.text
    assert "Crème brûlée." in document.text


def test_html_without_text() -> None:
    with pytest.raises(DocumentParseError, match="no text found"):
        load_document("empty.html", b"<html><script>x()</script><nav>menu</nav></html>")


# --- check_upload ----------------------------------------------------------------------------


def _status(filename: str, data: bytes, max_bytes: int = MB) -> int:
    with pytest.raises(RejectedFileError) as caught:
        check_upload(filename, len(data), data[:4096], max_bytes=max_bytes)
    assert caught.value.filename == filename
    return http_status(caught.value)


def test_check_upload_accepts_good_files(eval_pdfs: Path) -> None:
    data = (eval_pdfs / "solar-cell-paper.pdf").read_bytes()
    check_upload("paper.PDF", len(data), data[:4096], max_bytes=10 * MB)
    check_upload("notes.txt", 5, b"hello", max_bytes=MB)
    check_upload("page.htm", 6, b"<html>", max_bytes=MB)
    check_upload("colours.log.md", 9, b"\x1b[31mred\n", max_bytes=MB)
    check_upload("report.docx", 8, b"PK\x03\x04rest", max_bytes=MB)
    check_upload("people.csv", 9, b"name,age\n", max_bytes=MB)
    assert {
        *(".pdf", ".txt", ".md", ".markdown", ".html", ".htm", ".docx", ".csv"),
        *(".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"),
    } == SUPPORTED_EXTENSIONS


def test_check_upload_rejects_empty_large_and_unsupported() -> None:
    assert _status("empty.txt", b"") == 400
    with pytest.raises(RejectedFileError) as caught:
        check_upload("big.txt", 3 * MB, b"text", max_bytes=2 * MB)
    assert http_status(caught.value) == 413
    assert "2 MB" in caught.value.reason
    assert "SEMSEARCH_MAX_UPLOAD_MB" in caught.value.reason
    assert _status("setup.exe", b"MZ\x90\x00") == 415
    assert _status("archive.zip", b"PK\x03\x04") == 415
    assert _status("README", b"plain text") == 415


def test_check_upload_judges_content_not_only_the_extension() -> None:
    assert _status("notes.txt", bytes(range(256)) * 4) == 415
    assert _status("notes.md", b"\x7fELF\x02\x01\x01" + b"\x00" * 100) == 415
    with pytest.raises(RejectedFileError, match="binary content, not text"):
        check_upload("x.html", 9, b"abc\x00defg", max_bytes=MB)
    with pytest.raises(RejectedFileError, match="not a PDF") as caught:
        check_upload("paper.pdf", 11, b"hello world", max_bytes=MB)
    assert http_status(caught.value) == 415


# --- safe_filename ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../x.pdf", "x.pdf"),
        ("a\\b.txt", "b.txt"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("/etc/passwd", "passwd"),
        ("bad\x00na\x1bme\n.txt", "badname.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("  spaced.md  ", "spaced.md"),
        ("..", "upload"),
        ("dir/", "upload"),
        ("", "upload"),
        ("\x00\x01", "upload"),
    ],
)
def test_safe_filename(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


def test_safe_filename_caps_length_and_keeps_the_extension() -> None:
    name = safe_filename("a" * 500 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name) <= 200
