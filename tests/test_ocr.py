"""OCR inside the loaders, with the real engines: images, multi-page TIFFs, image-only and
mixed PDFs, pages too large to read as they are, the limits, and the reading order."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from ingest.errors import DocumentParseError, UnsupportedFileError
from ingest.image_format import OCR_OFF_MESSAGE
from ingest.isolation import IsolatedReader
from ingest.loaders import check_upload, load_document
from ingest.ocr import OcrSettings
from ingest.page_images import MAX_IMAGE_PIXELS
from ingest.pdf import NO_TEXT_MESSAGE
from ingest.reading_order import OcrLine, page_text
from tests.scans import (
    BEES,
    OTTERS,
    OWLS,
    image_bytes,
    image_pdf,
    joined_pdfs,
    page_image,
    text_pdf,
    tiff_pages,
)

OFF = OcrSettings(mode="off")
SMALL = (1100, 300)  # a strip of a page: quick to read, as wide as a letter page at 130 DPI


def words(text: str) -> str:
    return " ".join(text.lower().split())


def strip(*lines: str) -> Image.Image:
    return page_image(list(lines), size=SMALL, font_px=36)


def test_a_png_is_read_by_ocr_as_page_one() -> None:
    document = load_document("note.png", image_bytes(strip(OTTERS), "PNG"))
    (section,) = document.sections
    assert section.ocr and section.page == 1 and document.pages == 1
    assert words(OTTERS) in words(section.text)
    assert document.mime == "image/png" and document.title == "note"


def test_each_page_of_a_tiff_keeps_its_number() -> None:
    data = tiff_pages(strip(OTTERS), strip(OWLS), strip(BEES))
    document = load_document("fax.tiff", data)
    assert [section.page for section in document.sections] == [1, 2, 3]
    for section, phrase in zip(document.sections, (OTTERS, OWLS, BEES), strict=True):
        assert words(phrase) in words(section.text), section.text


def test_a_jpeg_photo_is_turned_upright_by_its_exif_orientation() -> None:
    # Stored on its side, as a phone writes it, with the tag that says so (6: turn 90° right).
    sideways = strip(OWLS).convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    document = load_document("photo.jpg", image_bytes(sideways, "JPEG", exif=exif.tobytes()))
    assert words(OWLS) in words(document.text)


def test_an_image_only_pdf_is_read_page_by_page() -> None:
    data = joined_pdfs(image_pdf(strip(OTTERS)), image_pdf(strip(OWLS)))
    document = load_document("scan.pdf", data)
    assert [(s.page, s.ocr) for s in document.sections] == [(1, True), (2, True)]
    assert words(OWLS) in words(document.sections[1].text)


def test_a_mixed_pdf_keeps_its_text_layer_and_reads_only_the_scanned_page() -> None:
    layer = "The text layer of this page says giraffes sleep standing up"
    data = joined_pdfs(text_pdf(layer), image_pdf(strip(OWLS)))
    document = load_document("mixed.pdf", data)
    first, second = document.sections
    assert (first.page, first.ocr, first.text) == (1, False, layer)
    assert (second.page, second.ocr) == (2, True)
    assert words(OWLS) in words(second.text)
    forced = load_document("mixed.pdf", data, ocr=OcrSettings(mode="force"))
    assert [s.ocr for s in forced.sections] == [True, True]
    assert "giraffes" in forced.sections[0].text


def test_with_ocr_off_a_scan_and_an_image_say_why_they_have_no_text() -> None:
    with pytest.raises(DocumentParseError, match="SEMSEARCH_OCR=auto") as scan:
        load_document("scan.pdf", image_pdf(strip(OTTERS)), ocr=OFF)
    assert scan.value.reason == NO_TEXT_MESSAGE
    with pytest.raises(DocumentParseError) as image:
        load_document("note.png", image_bytes(strip(OTTERS), "PNG"), ocr=OFF)
    assert image.value.reason == OCR_OFF_MESSAGE


def test_an_80_megapixel_image_is_scaled_down_and_still_read() -> None:
    # 10,000 x 8,000: over three times the pixel cap; the text is big enough to survive.
    image = page_image([OTTERS], size=(10_000, 8_000), font_px=420)
    document = load_document("poster.png", image_bytes(image, "PNG"))
    assert "otters" in words(document.text)


def test_an_80_megapixel_pdf_page_is_rendered_within_the_cap() -> None:
    # A 3,000 x 2,000 image placed on a 200 x 133 inch page (15 DPI): rendered at 150 DPI it
    # would be 600 megapixels.
    image = page_image([OWLS], size=(3_000, 2_000), font_px=130)
    document = load_document("banner.pdf", image_pdf(image, dpi=15))
    assert "owls" in words(document.text)


def test_an_image_over_the_pixel_limit_is_refused_before_it_is_decoded() -> None:
    side = int(MAX_IMAGE_PIXELS**0.5) + 100
    data = image_bytes(Image.new("1", (side, side), 1), "PNG")  # a few KB on disk
    refused = "image too large: page 1 is 102 megapixels, over the limit of 100"
    with pytest.raises(DocumentParseError, match=refused):
        load_document("huge.png", data)


def test_a_file_needing_more_ocr_pages_than_the_limit_is_refused_before_any() -> None:
    pages: list[tuple[int, int]] = []
    data = tiff_pages(strip(OTTERS), strip(OWLS), strip(BEES))
    with pytest.raises(DocumentParseError, match=r"needs OCR on 3 pages, over the limit of 2"):
        load_document(
            "fax.tiff",
            data,
            lambda done, total: pages.append((done, total)),
            ocr=OcrSettings(max_pages=2),
        )
    assert pages == []


def test_images_are_judged_by_content_as_well_as_by_name() -> None:
    png = image_bytes(strip(OTTERS), "PNG")
    check_upload("note.png", len(png), png[:4096], max_bytes=10**7)
    with pytest.raises(UnsupportedFileError, match="not a PNG image"):
        check_upload("note.png", 100, b"MZ\x90\x00" + b"\0" * 96, max_bytes=10**7)
    with pytest.raises(UnsupportedFileError, match="not a JPG image"):
        check_upload("photo.jpg", len(png), png[:4096], max_bytes=10**7)


def test_a_corrupt_image_fails_alone_with_its_reason() -> None:
    data = image_bytes(strip(OTTERS), "PNG")[:200]  # cut short: the header and little else
    with pytest.raises(DocumentParseError) as error:
        load_document("cut.png", data)
    assert error.value.filename == "cut.png" and "page 1" in error.value.reason


def test_the_reader_process_reports_each_page_as_it_is_read(tmp_path: Path) -> None:
    data = tiff_pages(strip(OTTERS), strip(OWLS))
    reader = IsolatedReader(timeout_s=120)
    pages: list[tuple[int, int]] = []
    try:
        document = reader.load("fax.tif", data, lambda done, total: pages.append((done, total)))
    finally:
        reader.close()
    assert pages == [(0, 2), (1, 2), (2, 2)]
    assert [s.page for s in document.sections] == [1, 2]


needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="Debian's tesseract-ocr is not installed (make test installs it where CI=true)",
)


@needs_tesseract
def test_tesseract_reads_a_page_when_chosen() -> None:
    settings = OcrSettings(engine="tesseract", languages="eng")
    document = load_document("note.png", image_bytes(strip(OTTERS, OWLS), "PNG"), ocr=settings)
    assert words(OTTERS) in words(document.text) and words(OWLS) in words(document.text)


@needs_tesseract
def test_a_tesseract_language_not_installed_is_named_with_its_package() -> None:
    settings = OcrSettings(engine="tesseract", languages="eng+qqq")
    with pytest.raises(DocumentParseError, match=r"no language data for qqq .*tesseract-ocr-qqq"):
        load_document("note.png", image_bytes(strip(OTTERS), "PNG"), ocr=settings)


# -- reading order -----------------------------------------------------------------------------


def box(text: str, x0: float, y0: float, width: float = 400, height: float = 20) -> OcrLine:
    return OcrLine(text, x0, y0, x0 + width, y0 + height)


def test_two_columns_are_read_one_after_the_other_under_a_full_width_title() -> None:
    lines = [box("A Title Across Both Columns", 100, 50, width=900)]
    for row in range(5):
        y = 120 + row * 30
        lines += [box(f"left {row}", 100, y), box(f"right {row}", 600, y)]
    text = page_text(lines)
    assert text.split("\n\n")[0] == "A Title Across Both Columns"
    assert text.index("left 4") < text.index("right 0")
    assert [line for line in text.split() if line.isdigit()] == ["0", "1", "2", "3", "4"] * 2


def test_boxes_on_one_row_are_joined_and_a_wide_gap_starts_a_paragraph() -> None:
    lines = [box("beta", 300, 100, width=100), box("alpha", 100, 102, width=100)]
    lines += [box("next line", 100, 130), box("new paragraph", 100, 200)]
    assert page_text(lines) == "alpha beta\nnext line\n\nnew paragraph"


def test_thousands_of_boxes_are_ordered_without_deep_recursion() -> None:
    lines = [box(f"w{i}", (i % 2) * 600.0, i * 25.0, width=500) for i in range(4000)]
    text = page_text(lines)
    assert text.split()[:2] == ["w0", "w2"]  # the left column first
    assert len(text.split()) == 4000
