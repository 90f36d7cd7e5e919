"""The chunking preview: `POST /api/documents/preview` and `semsearch ingest --dry-run`.

What matters to a user tuning chunk settings: the preview shows exactly what ingesting would
store (same count, same pages, same text), it stores nothing, its overrides take effect, and a
file that would fail to ingest fails the preview with the same reason.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfWriter

from ingest.chunking import ChunkingSettings
from ingest.preview import preview_file
from search.points import chunk_point_id
from tests.apphelpers import TRACEMONKEY, assert_error_shape, ingest, wait_for_job
from tests.processes import SEMSEARCH, child_env
from web.app import create_app
from web.settings import Settings

PREVIEW = "/api/documents/preview"


@pytest.fixture
def client(tmp_path: Path, local_provider: object) -> Iterator[TestClient]:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_MAX_UPLOAD_MB=5)
    with TestClient(create_app(settings, embedder=local_provider)) as test_client:  # type: ignore[arg-type]
        yield test_client


def preview(client: TestClient, name: str, data: bytes, **params: Any) -> Any:
    return client.post(PREVIEW, files={"file": (name, data)}, params=params)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def blank_pdf() -> bytes:
    """A valid one-page PDF with no text at all, as a scan without OCR is."""
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.mark.slow
def test_preview_shows_what_ingesting_stores_and_stores_nothing(
    client: TestClient, eval_pdfs: Path, tmp_path: Path
) -> None:
    store = client.app.state.services.store  # type: ignore[attr-defined]
    data = (eval_pdfs / TRACEMONKEY).read_bytes()

    response = preview(client, TRACEMONKEY, data, chunks=8)
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["filename"] == TRACEMONKEY and shown["mime"] == "application/pdf"
    assert shown["pages"] == 14
    assert shown["chunking"] == {"chunk_tokens": 200, "overlap_tokens": 30}
    assert 0 < shown["tokens"]["min"] <= shown["tokens"]["mean"] <= shown["tokens"]["max"] <= 200
    assert sum(p["chunks"] for p in shown["per_page"]) == shown["chunks"]
    assert len(shown["first_chunks"]) == 8
    assert store.count() == 0  # nothing stored, and no original or spooled upload kept
    assert store.collection_info() is None
    assert not files_under(tmp_path / "data" / "files")
    assert not files_under(tmp_path / "data" / "incoming")

    (job,) = ingest(client, eval_pdfs / TRACEMONKEY)
    assert job["status"] == "done", job
    assert job["doc_id"] == shown["doc_id"]
    (listed,) = client.get("/api/documents").json()["documents"]
    assert (listed["chunks"], listed["pages"]) == (shown["chunks"], shown["pages"])
    stored = store.scroll({"doc_id": shown["doc_id"], "kind": "chunk"})
    per_page = Counter(point.payload["page"] for point in stored)
    assert [{"page": p, "chunks": n} for p, n in sorted(per_page.items())] == shown["per_page"]
    first = store.retrieve(
        [chunk_point_id(shown["doc_id"], c["index"]) for c in shown["first_chunks"]]
    )
    by_index = {point.payload["chunk_index"]: point.payload for point in first}
    for chunk in shown["first_chunks"]:
        payload = by_index[chunk["index"]]
        for key in ("text", "page", "start", "end", "heading"):
            assert payload[key] == chunk[key], key


@pytest.mark.slow
def test_overrides_change_the_chunks_and_are_checked(client: TestClient, eval_pdfs: Path) -> None:
    data = (eval_pdfs / TRACEMONKEY).read_bytes()
    default = preview(client, TRACEMONKEY, data).json()
    small = preview(client, TRACEMONKEY, data, chunk_size=100, chunk_overlap=0, chunks=50).json()
    assert small["chunking"] == {"chunk_tokens": 100, "overlap_tokens": 0}
    assert small["chunks"] > default["chunks"]
    assert small["tokens"]["max"] <= 100 < default["tokens"]["max"]
    assert len(small["first_chunks"]) == 50
    # Without overlap, consecutive chunks of a page do not share text.
    pairs = zip(small["first_chunks"], small["first_chunks"][1:], strict=False)
    assert all(b["start"] >= a["end"] for a, b in pairs if a["page"] == b["page"])

    for params, named in [
        ({"chunk_size": 20}, "overlap_tokens"),  # the server's overlap of 30 no longer fits
        ({"chunk_size": 100, "chunk_overlap": 100}, "overlap_tokens"),
        ({"chunk_size": 255}, "chunk_size"),
        ({"chunk_overlap": -1}, "chunk_overlap"),
        ({"chunks": 51}, "chunks"),
        ({"chunks": 0}, "chunks"),
    ]:
        response = preview(client, TRACEMONKEY, data, **params)
        error = assert_error_shape(response.json(), 422)
        assert response.status_code == 422 and named in error["message"], params


@pytest.mark.slow
def test_a_file_that_would_fail_to_ingest_fails_the_preview_with_the_same_reason(
    client: TestClient, eval_pdfs: Path
) -> None:
    store = client.app.state.services.store  # type: ignore[attr-defined]
    cases = [
        ("encrypted-user-password.pdf", (eval_pdfs / "encrypted-user-password.pdf").read_bytes()),
        ("scan.pdf", blank_pdf()),
    ]
    for name, data in cases:
        response = preview(client, name, data)
        error = assert_error_shape(response.json(), 422)
        assert error["filename"] == name
        (job,) = ingest_bytes(client, name, data)
        assert job["status"] == "failed"
        assert error["message"] == f"{name}: {job['error']}"
    assert "encrypted" in preview(client, cases[0][0], cases[0][1]).json()["error"]["message"]
    assert "no extractable text" in preview(client, "scan.pdf", blank_pdf()).text
    # Refused at once: the same status and message as an upload gets.
    for name, data in [("empty.txt", b""), ("image.pdf", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)]:
        previewed, uploaded = preview(client, name, data), upload_bytes(client, name, data)
        assert previewed.status_code == uploaded.status_code in (400, 415)
        assert previewed.json()["error"]["message"] == uploaded.json()["error"]["message"]
    assert store.count() == 0


@pytest.mark.slow
def test_preview_needs_the_api_key(tmp_path: Path, local_provider: object) -> None:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_API_KEY="k3y")
    with TestClient(create_app(settings, embedder=local_provider)) as client:  # type: ignore[arg-type]
        refused = preview(client, "a.txt", b"hello")
        assert refused.status_code == 401
        assert_error_shape(refused.json(), 401)
        allowed = client.post(
            PREVIEW, files={"file": ("a.txt", b"hello")}, headers={"Authorization": "Bearer k3y"}
        )
        assert allowed.status_code == 200 and allowed.json()["chunks"] == 1


def test_preview_file_chunks_as_the_pipeline_does(tokenizer: Any) -> None:
    text = ("Qdrant stores vectors. " * 400).encode()
    shown = preview_file(
        "../../notes\x1b.txt",
        text,
        tokenizer,
        ChunkingSettings(chunk_tokens=50, overlap_tokens=5),
        max_bytes=1_000_000,
        shown=3,
    )
    assert shown.filename == "notes.txt"  # the upload's own safe name
    assert shown.chunks > 3 and len(shown.first_chunks) == 3
    assert shown.tokens.max <= 50
    assert [c.index for c in shown.first_chunks] == [0, 1, 2]


@pytest.mark.slow
def test_dry_run_prints_the_chunks_and_opens_no_store(
    tmp_path: Path, eval_pdfs: Path, tokenizer: Any
) -> None:
    """It works while another process holds the data folder, and writes nothing there."""
    from search.factory import open_store
    from search.store import CollectionInfo

    data = tmp_path / "data"
    store = open_store(data_dir=data, qdrant_url=None, qdrant_api_key=None, collection="documents")
    store.ensure_collection(
        CollectionInfo(model="sentence-transformers/all-MiniLM-L6-v2", dimension=384)
    )
    before = {p: p.stat().st_mtime_ns for p in files_under(data)}
    pdf, broken = str(eval_pdfs / TRACEMONKEY), str(eval_pdfs / "broken.pdf")
    env = child_env(data, COLUMNS="200")
    try:
        table = subprocess.run(
            [str(SEMSEARCH), "ingest", "--dry-run", pdf],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        as_json = subprocess.run(
            [str(SEMSEARCH), "ingest", "--dry-run", "--json", pdf, broken],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        after = {p: p.stat().st_mtime_ns for p in files_under(data)}  # before our own close
    finally:
        store.close()
    expected = preview_file(
        TRACEMONKEY,
        (eval_pdfs / TRACEMONKEY).read_bytes(),
        tokenizer,
        Settings().chunking(),
        max_bytes=Settings().max_upload_bytes,
    )
    assert table.returncode == 0, table.stderr
    assert f"{TRACEMONKEY}: 14 page(s), {expected.chunks} chunks" in table.stdout
    assert "nothing was stored" in table.stdout
    assert as_json.returncode == 1  # broken.pdf failed
    shown, failed = json.loads(as_json.stdout)
    assert shown == expected.model_dump(mode="json")
    error = assert_error_shape(failed, 422)
    assert error["filename"] == "broken.pdf" and "corrupt" in error["message"]
    assert after == before


def upload_bytes(client: TestClient, name: str, data: bytes) -> Any:
    return client.post("/api/documents", files=[("files", (name, data))])


def ingest_bytes(client: TestClient, name: str, data: bytes) -> list[dict[str, Any]]:
    response = upload_bytes(client, name, data)
    assert response.status_code == 202, response.text
    return [wait_for_job(client, job["id"]) for job in response.json()["jobs"]]
