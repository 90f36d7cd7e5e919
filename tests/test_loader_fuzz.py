"""Property-based fuzzing of every loader through ``load_document``.

Whatever the bytes, a file is a Document or an ``IngestError`` with a reason, never another
exception, and it is read within ``DEADLINE_MS``. An ``UnreadableFileError`` (what
``load_document`` makes of an exception a loader did not foresee) fails the property too: it
would be a crash the loader should have turned into a reason. Inputs: arbitrary bytes under
each supported extension, and text built from the pieces hostile files are made of (unclosed
tags and quotes, brackets, long runs of one character), so that a quadratic path shows as a
missed deadline. The examples are few and small enough for the file to run in well under 30 s
on a loaded 2-core machine; no example database is written.
"""

from __future__ import annotations

import contextlib
import io
import zipfile

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import IngestError, UnreadableFileError
from ingest.loaders import load_document
from ingest.models import Document
from ingest.textnorm import TITLE_MAX_CHARS
from search.file_types import SUPPORTED_EXTENSIONS
from tests.hostile_inputs import docx_with_body

DEADLINE_MS = 2_000
EXTENSIONS = sorted(SUPPORTED_EXTENSIONS)
TEXT_EXTENSIONS = [ext for ext in EXTENSIONS if ext not in (".pdf", ".docx")]
FUZZ = settings(
    max_examples=60,
    deadline=DEADLINE_MS,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# What hostile text is made of: markup openers without their closers, quotes, delimiters,
# whitespace of every kind, control characters and non-ASCII text.
PIECES = [
    "<", ">", "</", "<a ", "<a b='", '<a b="', "'", '"', "<!--", "-->", "<![", "<![CDATA[",
    "]]>", "<?", "<!doctype", "&#", "&#x", "&amp;", "&", "<span>", "</span>", "<p>", "<td>",
    "<article>", "<div hidden>", "<script>", "<pre>", "<h1>", "<br>", "<title>", "<meta ",
    "[", "]", "![", "(", ")", "*", "_", "`", "```", "#", "# ", "> ", "- ", "1. ", "    ", "\t",
    " ", "\xa0", "\n", "\r", "\r\n", "\f", "\x00", "\x0b", "\x85", "---\n", "title:", ",", ";",
    "|", ",\"", "\"\n", "\\", "=", "word", "é", "日本語", "\u2028", "\ufeff", "\U0001f600",
]  # fmt: skip
# Short runs, and runs long enough that a quadratic path misses the deadline (the old
# loaders took seconds on 8,000 repeats of "<a '" or of a space before "x").
run_lengths = st.one_of(st.integers(min_value=1, max_value=40), st.sampled_from([1_000, 8_000]))
hostile_text = st.lists(
    st.tuples(st.sampled_from(PIECES), run_lengths), min_size=1, max_size=4
).map(lambda runs: "".join(piece * count for piece, count in runs))
encodings = st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])


@pytest.fixture(scope="module", autouse=True)
def _loaders_warmed() -> None:
    """Each loader read once before the properties: a first read may import its parser and
    build its tables, a one-time cost that a loaded machine can stretch past the deadline (an
    empty text once took 3.1 s in a full run), and the deadline is there for slow paths."""
    for ext in EXTENSIONS:
        # A PDF or DOCX of plain text is refused; its parser was still imported.
        with contextlib.suppress(IngestError):
            load_document(f"warm{ext}", b"warm up")


def assert_read_or_refused(name: str, data: bytes) -> None:
    try:
        document = load_document(name, data)
    except UnreadableFileError:
        raise  # a loader crashed: it should have said why instead
    except IngestError as error:
        assert error.filename == name and error.reason
        return
    assert isinstance(document, Document)
    assert document.sections and all(section.text.strip() for section in document.sections)
    assert document.title and len(document.title) <= TITLE_MAX_CHARS


@FUZZ
@given(ext=st.sampled_from(EXTENSIONS), data=st.binary(max_size=4_096))
def test_arbitrary_bytes(ext: str, data: bytes) -> None:
    assert_read_or_refused(f"fuzz{ext}", data)


@FUZZ
@given(ext=st.sampled_from(TEXT_EXTENSIONS), text=hostile_text, encoding=encodings)
def test_hostile_text(ext: str, text: str, encoding: str) -> None:
    assert_read_or_refused(f"hostile{ext}", text.encode(encoding, errors="ignore"))


@FUZZ
@given(text=st.text(max_size=2_000), ext=st.sampled_from(TEXT_EXTENSIONS))
def test_any_unicode_text(text: str, ext: str) -> None:
    assert_read_or_refused(f"text{ext}", text.encode("utf-8", errors="surrogatepass"))


# --- DOCX: valid packages with hostile bodies, and damaged packages --------------------------

words = st.sampled_from(["", "a", "Heading", " ", "x y", "<&>", "é", "\t"])


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


run_xml = st.lists(
    st.one_of(
        words.map(lambda t: f'<w:t xml:space="preserve">{_escaped(t)}</w:t>'),
        st.sampled_from(["<w:tab/>", "<w:br/>", '<w:br w:type="page"/>', "<w:cr/>"]),
    ),
    max_size=3,
).map(lambda items: "<w:r>" + "".join(items) + "</w:r>")
style_ids = st.sampled_from(["", "Heading1", "Title", "Normal", "Bogus", '"quoted"', "ListBullet"])


def _paragraph(style: str, runs: list[str], linked: bool) -> str:
    style_xml = f'<w:pPr><w:pStyle w:val="{_escaped(style)}"/></w:pPr>' if style else ""
    content = "".join(runs)
    return f"<w:p>{style_xml}{f'<w:hyperlink>{content}</w:hyperlink>' if linked else content}</w:p>"


def _cell(merge: str | None, span: int | None, paragraphs: list[str]) -> str:
    span_xml = "" if span is None else f'<w:gridSpan w:val="{span}"/>'
    merge_xml = "" if merge is None else f'<w:vMerge w:val="{merge}"/>' if merge else "<w:vMerge/>"
    return f"<w:tc><w:tcPr>{span_xml}{merge_xml}</w:tcPr>{''.join(paragraphs) or '<w:p/>'}</w:tc>"


def _table(rows: list[list[str]]) -> str:
    return "<w:tbl>" + "".join("<w:tr>" + "".join(row) + "</w:tr>" for row in rows) + "</w:tbl>"


paragraph_xml = st.builds(_paragraph, style_ids, st.lists(run_xml, max_size=3), st.booleans())
# Vertical merges in any row (a "continue" with nothing above), spans of 0, -1 and 300 million.
cell_xml = st.builds(
    _cell,
    st.sampled_from([None, "continue", "restart", ""]),
    st.sampled_from([None, 0, 1, 2, 300_000_000, -1]),
    st.lists(paragraph_xml, max_size=2),
)
table_xml = st.builds(
    _table, st.lists(st.lists(cell_xml, min_size=1, max_size=4), min_size=1, max_size=6)
)
body_xml = st.lists(
    st.one_of(
        paragraph_xml,
        table_xml,
        st.integers(min_value=1, max_value=5_000).map(lambda n: "<w:p/>" * n),
    ),
    max_size=8,
)


@FUZZ
@given(blocks=body_xml)
def test_docx_with_hostile_bodies(blocks: list[str]) -> None:
    assert_read_or_refused("fuzz.docx", docx_with_body("".join(blocks).encode()))


def _valid_docx() -> bytes:
    document = docx.Document()
    document.add_heading("A heading", level=1)
    document.add_paragraph("Some text under it.")
    document.add_table(rows=2, cols=2).cell(0, 0).text = "cell"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


VALID_DOCX = _valid_docx()


byte_flips = st.lists(st.tuples(st.integers(0, len(VALID_DOCX) - 1), st.integers(0, 255)))


@FUZZ
@given(flips=byte_flips, cut=st.integers(min_value=4, max_value=len(VALID_DOCX)))
def test_damaged_docx(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(VALID_DOCX)
    for position, value in flips:
        data[position] = value
    assert_read_or_refused("damaged.docx", bytes(data[:cut]))


@FUZZ
@given(member=st.sampled_from(["word/document.xml", "word/styles.xml"]), text=hostile_text)
def test_docx_with_hostile_xml_parts(member: str, text: str) -> None:
    """A part replaced by hostile text: broken XML, or XML of the wrong shape."""
    source = zipfile.ZipFile(io.BytesIO(VALID_DOCX))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            part = text.encode() if info.filename == member else source.read(info.filename)
            target.writestr(info, part)
    assert_read_or_refused("parts.docx", buffer.getvalue())


# --- PDF: the header, then pieces of PDF syntax ----------------------------------------------

PDF_PIECES = [
    "1 0 obj", "endobj", "<<", ">>", "/Type", "/Page", "/Pages", "/Kids", "[", "]", "R", " ",
    "\n", "stream\n", "\nendstream", "xref", "trailer", "startxref", "%%EOF", "0", "9", "(",
    ")", "\\", "/Length", "/Root", "/Filter /FlateDecode", "BT", "ET", "Tj", "/F1",
]  # fmt: skip
pdf_text = st.lists(
    st.tuples(st.sampled_from(PDF_PIECES), st.integers(min_value=1, max_value=200)), max_size=12
).map(lambda runs: "".join(piece * count for piece, count in runs))


@FUZZ
@given(body=pdf_text)
def test_pdf_syntax(body: str) -> None:
    assert_read_or_refused("fuzz.pdf", b"%PDF-1.7\n" + body.encode())
