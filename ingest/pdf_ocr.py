"""The pages of a PDF that need OCR, read by it: a mixed PDF keeps its text layer where it has
one.

``SEMSEARCH_OCR=auto`` reads a page when its text layer is missing or holds less than
``MIN_LETTERS_PER_SQUARE_INCH`` letters (under a line of text on a letter page: a scan with a
scanner's stamp, "Scanned with …", counts as a scan), and the page draws something; an empty
page is skipped. On the eval PDFs only the six pages of ``tracemonkey-scan.pdf`` qualify: the
sparsest page with a real text layer (a diagram in the GeoBase report) has 0.66 letters per
square inch. ``force`` reads every page and keeps OCR's text in place of the layer's.

A page OCR could not read fails alone, as a page pypdf could not read does: it is logged and
the file keeps its other pages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ingest.errors import DocumentParseError, describe_exception
from ingest.models import Section
from ingest.ocr import OcrError, OcrJob
from ingest.page_images import PDFIUM_LOCK, render_pdf_page
from ingest.textnorm import clean_page_text

log = logging.getLogger(__name__)

MIN_LETTERS_PER_SQUARE_INCH = 0.5


def with_ocr(
    filename: str,
    data: bytes,
    sections: Sequence[Section],
    page_count: int,
    job: OcrJob,
    failures: dict[int, str],
) -> list[Section]:
    """``sections`` (one per page with text) with OCR's text for the pages that need it, in
    page order. Pages read are taken out of ``failures``; a page OCR failed on is put in."""
    import pypdfium2 as pdfium

    by_page = {section.page: section for section in sections}
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as error:
            if by_page:  # the text layer is all there is
                log.warning("%s: not rendered for OCR: %s", filename, error)
                return list(sections)
            raise DocumentParseError(
                filename, f"corrupt PDF: it could not be rendered for OCR ({error})"
            ) from error
        try:
            wanted = [
                number
                for number in range(1, min(page_count, len(document)) + 1)
                if _needs_ocr(document, number, by_page.get(number), job)
            ]
            job.start(len(wanted))
            dpi = job.engine().dpi if wanted else 0
            for number in wanted:
                text = _read_page(document, number, dpi, job, failures)
                if text:
                    by_page[number] = Section(text=text, page=number, ocr=True)
                    failures.pop(number, None)
        finally:
            document.close()
    return [by_page[number] for number in sorted(by_page)]


def _needs_ocr(document: Any, number: int, section: Section | None, job: OcrJob) -> bool:
    if job.settings.mode == "force":
        return True
    page = document[number - 1]
    try:
        import pypdfium2 as pdfium

        if pdfium.raw.FPDFPage_CountObjects(page.raw) == 0:
            return False  # an empty page: nothing to read
        if section is None:
            return True
        width, height = page.get_size()
        square_inches = max(1.0, float(width) * float(height) / 72 / 72)
        letters = sum(char.isalpha() for char in section.text)
        return letters < MIN_LETTERS_PER_SQUARE_INCH * square_inches
    finally:
        page.close()


def _read_page(document: Any, number: int, dpi: int, job: OcrJob, failures: dict[int, str]) -> str:
    page = document[number - 1]
    try:
        image = render_pdf_page(page, dpi)
    except Exception as error:  # PDFium could not draw this page
        failures[number] = f"page {number}: not rendered for OCR: {describe_exception(error)}"
        job.skip()
        return ""
    finally:
        page.close()
    try:
        return clean_page_text(job.read(image))
    except OcrError as error:
        failures[number] = f"page {number}: OCR failed: {error}"
        return ""
