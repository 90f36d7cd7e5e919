"""A real scan through the real app: ``tracemonkey-scan.pdf`` (the first six pages of
``tracemonkey-pldi09.pdf`` rendered and degraded as a scan) is read by OCR in the reader
process, its job shows "OCR page N/M", and a phrase from page N of the original finds page N,
marked as OCR'd and kept by the OCR filter."""

from __future__ import annotations

import io
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.apphelpers import ingest_texts, upload, wait_for_job
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.slow

SCAN = "tracemonkey-scan.pdf"
ORIGINAL = "tracemonkey-pldi09.pdf"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, local_provider: object) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("ocr-app") / "data"
    settings = Settings(SEMSEARCH_DATA_DIR=data_dir)
    with TestClient(create_app(settings, embedder=local_provider)) as test_client:  # type: ignore[arg-type]
        yield test_client


@pytest.fixture(scope="module")
def scan_job(client: TestClient, eval_pdfs: Path) -> dict[str, Any]:
    """The scan ingested, and the stages its job was seen in on the way."""
    response = upload(client, eval_pdfs / SCAN)
    assert response.status_code == 202, response.text
    (job,) = response.json()["jobs"]
    seen: set[str] = set()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        state = client.get(f"/api/jobs/{job['id']}").json()
        if state["stage"] == "OCR page":
            seen.add(f"OCR page {state['done']}/{state['total']}")
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    final = wait_for_job(client, job["id"], timeout=5)
    ingest_texts(client, {"owls.txt": "Barn owls hunt at night over open fields."})
    return {"job": final, "seen": seen}


def phrase_of_page(eval_pdfs: Path, page: int) -> str:
    """Twelve words from the middle of the original page's text layer."""
    reader = PdfReader(io.BytesIO((eval_pdfs / ORIGINAL).read_bytes()))
    text = unicodedata.normalize("NFKC", reader.pages[page - 1].extract_text())
    words = [word for word in text.split() if word.isalpha() and len(word) > 2]
    middle = len(words) // 2
    return " ".join(words[middle : middle + 12])


def test_the_scan_is_ingested_with_ocr_progress_on_its_job(scan_job: dict[str, Any]) -> None:
    job = scan_job["job"]
    assert job["status"] == "done", job
    assert job["chunks"] > 6
    assert {f"OCR page {n}/6" for n in range(1, 6)} & scan_job["seen"], scan_job["seen"]


@pytest.mark.parametrize("page", [1, 2, 3, 4, 5, 6])
def test_a_phrase_from_page_n_finds_page_n_of_the_scan(
    client: TestClient, scan_job: dict[str, Any], eval_pdfs: Path, page: int
) -> None:
    phrase = phrase_of_page(eval_pdfs, page)
    response = client.get("/api/search", params={"q": phrase, "k": 1})
    assert response.status_code == 200, response.text
    (hit,) = response.json()["results"]
    assert (hit["filename"], hit["page"], hit["ocr"]) == (SCAN, page, True), (phrase, hit)


def test_the_ocr_filter_keeps_only_ocr_text_and_the_page_marks_it(
    client: TestClient, scan_job: dict[str, Any]
) -> None:
    query = {"q": "barn owls hunt at night", "k": 5}
    everything = client.get("/api/search", params=query).json()["results"]
    assert everything[0]["filename"] == "owls.txt" and not everything[0]["ocr"]
    only_ocr = client.get("/api/search", params={**query, "ocr": "true"}).json()["results"]
    assert only_ocr and all(hit["ocr"] and hit["filename"] == SCAN for hit in only_ocr)
    page = client.get("/", params={"q": "nested trace trees", "ocr": "true"}).text
    assert '<abbr class="ocr"' in page and "owls.txt" not in page
