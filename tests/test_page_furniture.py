"""Running headers and footers leave PDF pages: real PDFs, and pages built to probe the rule."""

from __future__ import annotations

import random
import re
from pathlib import Path

from pypdf import PdfReader

from ingest.loaders import load_document
from ingest.models import Section
from ingest.page_furniture import strip_running_lines


def _load(folder: Path, name: str):  # type: ignore[no-untyped-def]
    return load_document(name, (folder / name).read_bytes())


def _pages(*texts: str) -> list[Section]:
    return [Section(text=text, page=number) for number, text in enumerate(texts, start=1)]


_WORDS = [
    "otter",
    "river",
    "quarterly",
    "revenue",
    "pump",
    "committee",
    "budget",
    "library",
    "granite",
    "cliff",
    "harbour",
    "oak",
    "sapling",
    "valve",
    "launch",
    "geese",
    "lake",
    "rainfall",
    "gauge",
    "bakery",
    "rye",
    "bridge",
    "cable",
    "fog",
    "mountain",
    "pass",
    "marsh",
    "drone",
    "lantern",
    "copper",
    "violin",
    "meadow",
    "tariff",
    "glacier",
    "orchard",
    "satellite",
    "ferry",
]


def _body(page: int) -> str:
    """Three lines of words drawn for this page alone, unlike any other page's."""
    draw = random.Random(page)
    return "\n".join(" ".join(draw.sample(_WORDS, 7)).capitalize() + "." for _ in range(3))


# --- real PDFs -------------------------------------------------------------------------------


def test_a_reports_header_and_numbered_footer_leave_every_page(eval_pdfs: Path) -> None:
    document = _load(eval_pdfs, "GeoBase_NHNC1_Data_Model_UML_EN.pdf")
    assert document.title == "National Hydro Network, Canada, Level 1"
    assert [s.page for s in document.sections] == list(range(1, 20))
    text = document.text
    assert "Data Model \N{EN DASH} Edition 1.0 2004-06" not in text
    # "GeoBase® 7", and the front matter's roman numbers ("GeoBase® iii") too.
    assert not re.search(r"^GeoBase® *([0-9]+|[ivx]+)?$", text, re.MULTILINE)
    # The page's own words stay, including the ones the header shares.
    page7 = next(s for s in document.sections if s.page == 7)
    assert "The Hydro Event package contains attributive information" in " ".join(
        page7.text.split()
    )


def test_a_scanned_books_running_title_leaves_every_page_ocr_errors_and_all(
    eval_pdfs: Path,
) -> None:
    document = _load(eval_pdfs, "Seige_of_Vicksburg_Sample_OCR.pdf")
    assert [s.page for s in document.sections] == list(range(1, 7))
    # "THE SIEGE OF VICKSBURG. 49", "50 THE SIEGE OF VICKSBUEG.", "THE SIEGE OP VICKSBURG. 53"
    assert not re.search(r"SIEGE +O[FP] +VICKSBU", document.text)
    # The title was the running title before it went, and stays.
    assert document.title == "THE SIEGE OF VICKSBURG. 49"
    assert "Johnston is coming with fifty" in " ".join(document.text.split())


def test_a_journals_citation_footer_leaves_its_pages(eval_pdfs: Path) -> None:
    document = _load(eval_pdfs, "solar-cell-paper.pdf")
    # "Y. Özen et al. / Solar Energy Materials & Solar Cells 137 (2015) 1-5 3" on pages 2-5;
    # page 1 names the journal in its own words, and keeps them.
    footers = [s.page for s in document.sections if "Özen et al. / Solar Energy" in s.text]
    assert footers == []
    assert "Solar Energy Materials & Solar Cells 137 (2015)" in document.sections[0].text
    assert document.title.startswith("Performance evaluation of a GaInP/GaAs solar cell")


def test_a_paper_without_running_lines_keeps_every_line(eval_pdfs: Path) -> None:
    reader = PdfReader(eval_pdfs / "tracemonkey-pldi09.pdf")
    pages = _pages(*(page.extract_text() for page in reader.pages))
    assert strip_running_lines(pages) == pages


# --- the rule --------------------------------------------------------------------------------


def test_headers_alternating_between_pages_and_their_numbers_go() -> None:
    pages = _pages(
        *(
            (f"{n} ANNUAL REPORT 2024\n" if n % 2 == 0 else f"Acme Corporation {n}\n")
            + _body(n)
            + f"\nPage {n} of 8"
            for n in range(1, 9)
        )
    )
    stripped = strip_running_lines(pages)
    assert [s.text for s in stripped] == [_body(n) for n in range(1, 9)]
    assert [s.page for s in stripped] == list(range(1, 9))


def test_one_letter_misread_by_ocr_is_still_the_header() -> None:
    headers = ["THE SIEGE OF VICKSBURG", "THE SIEGE OF VICKSBUEG", "THE SIEGE OP VICKSBURG"]
    pages = _pages(*(f"{headers[n % 3]} {40 + n}\n{_body(n)}" for n in range(6)))
    assert [s.text for s in strip_running_lines(pages)] == [_body(n) for n in range(6)]


def test_each_chapters_own_running_title_goes() -> None:
    pages = _pages(
        *(f"Chapter {'One' if n < 6 else 'Two'}: The Voyage\n{_body(n)}" for n in range(12))
    )
    assert [s.text for s in strip_running_lines(pages)] == [_body(n) for n in range(12)]


def test_a_line_a_few_pages_share_stays() -> None:
    # A table's heading row at the top of two of ten pages, and a line that recurs mid-page.
    pages = _pages(
        *(
            ("Region Sales Margin\n" if n in (4, 5) else "")
            + f"{_body(n)}\nRepeated in the middle of every page\n{_body(n + 100)}"
            for n in range(10)
        )
    )
    assert strip_running_lines(pages) == pages


def test_a_short_document_keeps_its_repeated_lines() -> None:
    pages = _pages(*(f"Minutes of the board\n{_body(n)}" for n in range(2)))
    assert strip_running_lines(pages) == pages


def test_a_page_of_nothing_but_its_header_is_dropped_and_a_document_of_it_kept() -> None:
    pages = _pages(*(f"Field Notes {n}\n" + ("" if n == 3 else _body(n)) for n in range(1, 7)))
    stripped = strip_running_lines(pages)
    assert [s.page for s in stripped] == [1, 2, 4, 5, 6]
    only_headers = _pages(*(f"Field Notes {n}" for n in range(1, 7)))
    assert strip_running_lines(only_headers) == only_headers


def test_a_short_line_is_never_furniture() -> None:
    # "A." and "ii" open every page here, as list markers do; they are too short to judge.
    pages = _pages(*(f"A.\nii\n{_body(n)}" for n in range(6)))
    assert strip_running_lines(pages) == pages


def test_a_long_line_is_never_furniture() -> None:
    # A header is short; comparing long lines would cost the product of their lengths.
    opening = "A paragraph printed at the top of every page, " * 20
    pages = _pages(*(f"{opening}\n{_body(n)}" for n in range(6)))
    assert strip_running_lines(pages) == pages
