"""DOCX and CSV loaders, on files generated in the test (python-docx writes the DOCX)."""

from __future__ import annotations

import io
import os
import zipfile

import docx
import pytest

from ingest.chunking import ChunkingSettings, Tokenizer, chunk_document
from ingest.csv_format import MAX_ROWS
from ingest.errors import DocumentParseError, RejectedFileError
from ingest.loaders import check_upload, load_document
from search.file_types import DOCX_MIME
from web.errors import http_status

MB = 1024 * 1024


# --- DOCX ------------------------------------------------------------------------------------


def _docx(*, core_title: str = "", body: bool = True) -> bytes:
    """A title, two headings with paragraphs and a table; what a Word user typically writes."""
    document = docx.Document()
    document.core_properties.title = core_title
    if body:
        document.add_paragraph("Annual Garden Report", style="Title")
        document.add_paragraph("A year of growing vegetables.")
        document.add_heading("Tomatoes", level=1)
        document.add_paragraph("The tomatoes ripened early in July.")
        table = document.add_table(rows=3, cols=3)
        for row, values in enumerate(
            [("Variety", "Yield (kg)", "Notes"), ("Roma", "12", "good sauce"), ("Cherry", "8", "")]
        ):
            for column, value in enumerate(values):
                table.cell(row, column).text = value
        document.add_heading("Beans", level=2)
        document.add_paragraph("Runner beans climbed the fence.")
        document.add_paragraph("They needed water daily.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _rezip(data: bytes, *, drop: str) -> bytes:
    """The same package with one member left out."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name in source.namelist():
            if name != drop:
                target.writestr(name, source.read(name))
    return buffer.getvalue()


def test_docx_sections_follow_headings_with_table_text() -> None:
    data = _docx()
    check_upload("garden.docx", len(data), data[:4096], max_bytes=MB)
    document = load_document("garden.docx", data)
    assert document.mime == DOCX_MIME
    assert document.pages == 1
    assert document.title == "Annual Garden Report"  # no core title: the first heading
    headings = [section.heading for section in document.sections]
    assert headings == ["Annual Garden Report", "Tomatoes", "Beans"]
    assert {section.page for section in document.sections} == {1}
    tomatoes = document.sections[1].text
    assert tomatoes.startswith("Tomatoes\n\nThe tomatoes ripened early in July.")
    assert tomatoes.endswith("Variety | Yield (kg) | Notes\nRoma | 12 | good sauce\nCherry | 8")
    assert document.sections[2].text == (
        "Beans\n\nRunner beans climbed the fence.\n\nThey needed water daily."
    )


def test_docx_title_from_core_properties_unless_it_is_a_default() -> None:
    assert load_document("g.docx", _docx(core_title="Garden 2024")).title == "Garden 2024"
    assert load_document("g.docx", _docx(core_title="Document1")).title == "Annual Garden Report"
    document = docx.Document()
    document.add_paragraph("Only a paragraph, no heading.")
    buffer = io.BytesIO()
    document.save(buffer)
    assert load_document("dir/notes-2024.docx", buffer.getvalue()).title == "notes-2024"


def test_docx_without_text_says_so() -> None:
    with pytest.raises(DocumentParseError, match="no text found"):
        load_document("blank.docx", _docx(body=False))


def test_corrupt_docx_names_the_cause() -> None:
    with pytest.raises(DocumentParseError, match="corrupt DOCX: not a readable ZIP") as caught:
        load_document("broken.docx", b"PK\x03\x04" + os.urandom(2000))
    assert caught.value.filename == "broken.docx"
    missing = _rezip(_docx(), drop="word/document.xml")
    with pytest.raises(DocumentParseError, match="not a Word document") as caught:
        load_document("hollow.docx", missing)
    assert "word/document.xml" in caught.value.reason
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "just a zip")
    with pytest.raises(DocumentParseError, match=r"not a Word document.*Content_Types"):
        load_document("plain-zip.docx", buffer.getvalue())


def test_docx_that_is_not_a_zip_is_rejected_at_upload() -> None:
    for head in (b"Hello, this is text", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50):
        with pytest.raises(RejectedFileError, match="not a DOCX") as caught:
            check_upload("letter.docx", len(head), head, max_bytes=MB)
        assert http_status(caught.value) == 415
    with pytest.raises(RejectedFileError, match=r"old \.doc"):
        check_upload("old.docx", 8, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", max_bytes=MB)


# --- CSV -------------------------------------------------------------------------------------


def test_csv_rows_become_header_value_paragraphs() -> None:
    data = b'name,born,note\r\nAda Lovelace,1815,"analyst, poet"\r\nAlan Turing,1912,\r\n'
    check_upload("people.csv", len(data), data, max_bytes=MB)
    document = load_document("dir/people.csv", data)
    assert document.mime == "text/csv"
    assert document.title == "people"
    assert document.text == (
        "name: Ada Lovelace; born: 1815; note: analyst, poet\n\nname: Alan Turing; born: 1912"
    )


def test_semicolon_csv_is_sniffed() -> None:
    data = b"city;country;population\nLyon;France;522,250\nGhent;Belgium;265,086\n"
    document = load_document("cities.csv", data)
    assert document.text == (
        "city: Lyon; country: France; population: 522,250\n\n"
        "city: Ghent; country: Belgium; population: 265,086"
    )


def test_latin1_csv_is_decoded() -> None:
    data = "plat,ville\nCrème brûlée,Besançon\nGâteau,Orléans\n".encode("latin-1")
    document = load_document("plats.csv", data)
    assert document.text == "plat: Crème brûlée; ville: Besançon\n\nplat: Gâteau; ville: Orléans"


def test_empty_csv_has_no_text() -> None:
    for data in (b"", b"\n\n", b"name,born\n"):
        with pytest.raises(DocumentParseError, match="no text found"):
            load_document("empty.csv", data)


def test_binary_csv_is_rejected_at_upload() -> None:
    with pytest.raises(RejectedFileError, match="binary content") as caught:
        check_upload("data.csv", 6, b"PK\x03\x04\x00\x00", max_bytes=MB)
    assert http_status(caught.value) == 415


def test_csv_row_cap() -> None:
    assert len(load_document("ok.csv", b"n\n" + b"1\n" * MAX_ROWS).sections) == 1
    with pytest.raises(DocumentParseError, match="too many rows: over 200,000"):
        load_document("big.csv", b"n\n" + b"1\n" * (MAX_ROWS + 1))


def test_csv_rows_stay_whole_in_a_chunk(tokenizer: Tokenizer) -> None:
    rows = [f"{n},Person {n},City {n % 7},likes gardening and long walks" for n in range(60)]
    data = ("id,name,city,hobby\n" + "\n".join(rows)).encode()
    document = load_document("people.csv", data)
    chunks = chunk_document(document, tokenizer, ChunkingSettings(chunk_tokens=100))
    assert len(chunks) > 1
    for n in range(60):
        row = (
            f"id: {n}; name: Person {n}; city: City {n % 7}; hobby: likes gardening and long walks"
        )
        assert any(row in chunk.text for chunk in chunks), row
