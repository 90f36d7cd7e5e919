"""The whole product through its real API and pages: real Qdrant Edge, model and PDFs."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from search.results import SearchResponse
from tests.apphelpers import (
    TOPIC_TEXTS,
    TRACEMONKEY,
    TRACEMONKEY_PAGE,
    TRACEMONKEY_PHRASE,
    assert_error_shape,
    ingest,
    ingest_texts,
)
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def client(tmp_path: Path, local_provider: object) -> Iterator[TestClient]:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_MAX_UPLOAD_MB=5)
    with TestClient(create_app(settings, embedder=local_provider)) as test_client:  # type: ignore[arg-type]
        yield test_client


@pytest.fixture
def tracemonkey(client: TestClient, eval_pdfs: Path) -> dict:
    (job,) = ingest(client, eval_pdfs / TRACEMONKEY)
    assert job["status"] == "done", job
    return job


def test_phrase_from_a_page_finds_that_page_through_the_api(
    client: TestClient, tracemonkey: dict
) -> None:
    response = client.get("/api/search", params={"q": TRACEMONKEY_PHRASE, "group": "false", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(SearchResponse.model_fields)  # the documented shape, whole
    assert body["mode"] == "hybrid"
    top3 = body["results"][:3]
    assert all(hit["doc_id"] == tracemonkey["doc_id"] for hit in top3)
    assert TRACEMONKEY_PAGE in [hit["page"] for hit in top3]
    assert {
        "doc_id",
        "filename",
        "title",
        "page",
        "chunk_index",
        "text",
        "snippet",
        "score",
    } <= set(top3[0])


def test_phrase_from_a_page_finds_that_page_on_the_search_page(
    client: TestClient, tracemonkey: dict
) -> None:
    html = client.get("/", params={"q": TRACEMONKEY_PHRASE}).text
    first_hit = html.split('<li class="hit">')[1]
    assert TRACEMONKEY in first_hit
    pages = [int(p) for p in re.findall(r"page (\d+)", first_hit)][:3]
    assert TRACEMONKEY_PAGE in pages
    assert "<mark>" in first_hit  # query terms are highlighted


def test_grouped_search_gives_one_hit_per_document_with_more_passages(
    client: TestClient, tracemonkey: dict, eval_pdfs: Path
) -> None:
    (solar,) = ingest(client, eval_pdfs / "solar-cell-paper.pdf")
    assert solar["status"] == "done"
    for mode in ("hybrid", "dense", "keyword"):
        body = client.post(
            "/api/search", json={"q": "trace trees and type specialization", "mode": mode}
        ).json()
        doc_ids = [hit["doc_id"] for hit in body["results"]]
        assert len(doc_ids) == len(set(doc_ids)), mode
        assert doc_ids[0] == tracemonkey["doc_id"], mode
        assert len(body["results"][0]["more"]) == 2, mode
    # tracemonkey's 100+ passages outrank every solar-cell passage: grouping must look further.
    crowded = client.get("/api/search", params={"q": "trace trees", "k": 2, "mode": "dense"}).json()
    assert [h["filename"] for h in crowded["results"]] == [TRACEMONKEY, "solar-cell-paper.pdf"]


def test_reingesting_the_same_file_adds_nothing(
    client: TestClient, tracemonkey: dict, eval_pdfs: Path
) -> None:
    store = client.app.state.services.store  # type: ignore[attr-defined]
    before = store.count()
    (again,) = ingest(client, eval_pdfs / TRACEMONKEY)
    assert again["status"] == "done"
    assert again["already_indexed"] is True
    assert store.count() == before
    documents = client.get("/api/documents").json()["documents"]
    assert [d["filename"] for d in documents] == [TRACEMONKEY]
    assert documents[0]["pages"] == 14 and documents[0]["chunks"] > 14
    assert documents[0]["status"] == "done"


def test_original_file_is_served_back(
    client: TestClient, tracemonkey: dict, eval_pdfs: Path
) -> None:
    response = client.get(f"/api/documents/{tracemonkey['doc_id']}/file")
    assert response.status_code == 200
    assert response.content == (eval_pdfs / TRACEMONKEY).read_bytes()


def test_delete_removes_every_point_and_the_original(client: TestClient, tracemonkey: dict) -> None:
    doc_id = tracemonkey["doc_id"]
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.store.count({"doc_id": doc_id}) > 0
    assert client.delete(f"/api/documents/{doc_id}").status_code == 200
    assert services.store.count({"doc_id": doc_id}) == 0
    assert client.get("/api/search", params={"q": TRACEMONKEY_PHRASE}).json()["results"] == []
    assert_error_shape(client.get(f"/api/documents/{doc_id}").json(), 404)
    assert client.get(f"/api/documents/{doc_id}/file").status_code == 404
    assert not list(services.originals.root.glob(f"{doc_id}*"))


def test_pages_render(client: TestClient, tracemonkey: dict) -> None:
    for path in ("/upload", "/documents", "/clusters", "/settings"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "<nav" in response.text
    assert TRACEMONKEY in client.get("/documents").text
    settings_page = client.get("/settings").text
    assert (
        "local" in settings_page
        and "neither EMBEDDINGS_ENDPOINT nor HF_TOKEN is set" in settings_page
    )
    check = client.post("/settings/check").text
    assert "384-dimensional" in check


def test_upload_form_without_javascript(client: TestClient, eval_pdfs: Path) -> None:
    pdf = eval_pdfs / "solar-cell-paper.pdf"
    response = client.post("/upload", files=[("files", (pdf.name, pdf.read_bytes()))])
    assert response.status_code == 202
    assert "1 file queued" in response.text
    empty = client.post("/upload", files=[("files", ("empty.txt", b""))])
    assert empty.status_code == 400
    assert "empty.txt" in empty.text


@pytest.mark.parametrize(
    ("filename", "data", "status"),
    [
        ("empty.txt", b"", 400),
        ("program.exe", b"MZ\x90\x00binary", 415),
        ("fake.pdf", b"this is not a pdf at all", 415),
        ("huge.txt", b"word " * (5 * 1024 * 1024 // 5 + 1), 413),
    ],
)
def test_bad_uploads_are_rejected_at_once_naming_the_file(
    client: TestClient, filename: str, data: bytes, status: int
) -> None:
    response = client.post("/api/documents", files=[("files", (filename, data))])
    error = assert_error_shape(response.json(), status)
    assert response.status_code == status
    assert filename in error["message"]
    assert client.app.state.services.store.count() == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("pdf", "reason"),
    [("broken.pdf", "corrupt"), ("encrypted-user-password.pdf", "encrypted")],
)
def test_files_that_fail_while_parsing_fail_their_job(
    client: TestClient, tracemonkey: dict, eval_pdfs: Path, pdf: str, reason: str
) -> None:
    store = client.app.state.services.store  # type: ignore[attr-defined]
    before = store.count()
    (job,) = ingest(client, eval_pdfs / pdf)
    assert job["status"] == "failed"
    assert reason in job["error"].lower()
    assert store.count() == before
    listed = {d["filename"]: d for d in client.get("/api/documents").json()["documents"]}
    assert listed[pdf]["status"] == "failed" and reason in listed[pdf]["error"].lower()
    assert reason in client.get("/documents").text.lower()


def test_one_bad_file_does_not_stop_the_others(client: TestClient, eval_pdfs: Path) -> None:
    response = client.post(
        "/api/documents",
        files=[
            ("files", ("empty.md", b"")),
            ("files", ("notes.md", b"# Notes\n\nQdrant stores vectors for semantic search.\n")),
        ],
    )
    assert response.status_code == 202
    body = response.json()
    assert [j["filename"] for j in body["jobs"]] == ["notes.md"]
    assert [r["filename"] for r in body["rejected"]] == ["empty.md"]


def test_clusters_group_documents_with_labels(client: TestClient, eval_pdfs: Path) -> None:
    ingest_texts(client, TOPIC_TEXTS)
    body = client.get("/api/clusters", params={"k": "2"}).json()
    assert body["k"] == 2 and body["k_chosen_by"] == "user"
    groups = sorted(sorted(d["filename"] for d in c["documents"]) for c in body["clusters"])
    assert groups == [["football.txt", "tennis.txt"], ["pasta.txt", "risotto.txt"]]
    assert all(c["label"] and c["terms"] for c in body["clusters"])
    assert {p["doc_id"] for p in body["points"]} == {
        d["doc_id"] for c in body["clusters"] for d in c["documents"]
    }
    auto = client.get("/api/clusters").json()
    assert auto["k_chosen_by"] == "silhouette" and auto["k"] >= 2
    assert (
        "cooking" in client.get("/clusters", params={"k": "2"}).text
        or "italian" in client.get("/clusters", params={"k": "2"}).text
    )


def test_every_error_has_one_shape(client: TestClient) -> None:
    assert_error_shape(client.get("/api/nope").json(), 404)
    assert_error_shape(client.get("/api/search", params={"k": "0"}).json(), 422)
    assert_error_shape(client.get("/api/search", params={"mode": "fuzzy"}).json(), 422)
    assert_error_shape(client.get("/api/jobs/unknown").json(), 404)
    assert_error_shape(client.delete("/api/documents/unknown").json(), 404)
    assert_error_shape(client.get("/api/clusters", params={"k": "many"}).json(), 422)
    assert_error_shape(client.post("/api/documents").json(), 422)


def test_empty_collection_and_blank_query(client: TestClient) -> None:
    assert client.get("/api/search", params={"q": "anything"}).json()["results"] == []
    assert client.get("/api/search", params={"q": "   "}).json()["results"] == []
    assert client.get("/api/clusters").json()["clusters"] == []
    assert client.get("/api/health").json()["status"] == "ok"


def test_api_key_protects_the_api(tmp_path: Path, local_provider: object) -> None:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_API_KEY="s3cret-key")
    with TestClient(create_app(settings, embedder=local_provider)) as client:  # type: ignore[arg-type]
        response = client.get("/api/documents")
        assert response.status_code == 401
        assert_error_shape(response.json(), 401)
        ok = client.get("/api/documents", headers={"Authorization": "Bearer s3cret-key"})
        assert ok.status_code == 200
        assert (
            client.get("/api/documents", headers={"Authorization": "Bearer wrong"}).status_code
            == 401
        )
        assert client.get("/api/health").status_code == 200


def test_a_restart_builds_the_graph_in_the_background_and_changes_no_answer(
    tmp_path: Path, local_provider: object, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data")
    query = {"q": "parmesan cheese", "mode": "dense", "group": "false"}
    with TestClient(create_app(settings, embedder=local_provider)) as first:  # type: ignore[arg-type]
        ingest_texts(first, TOPIC_TEXTS)
        before = [hit["point_id"] for hit in _results(first, query)]
    caplog.set_level(logging.INFO, logger="search.edge_store")
    with TestClient(create_app(settings, embedder=local_provider)) as again:  # type: ignore[arg-type]
        assert [hit["point_id"] for hit in _results(again, query)] == before  # not waiting
        deadline = time.monotonic() + 120
        while "compaction done" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            assert _results(again, query)  # searches go on while it builds
            time.sleep(0.1)
        assert again.app.state.services.store.compact() is False  # type: ignore[attr-defined]
        after = [hit["point_id"] for hit in _results(again, query)]
    assert after == before and before


def _results(client: TestClient, params: dict[str, str]) -> list[dict]:
    response = client.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["results"])
