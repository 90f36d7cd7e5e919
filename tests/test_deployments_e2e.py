"""The same app pointed elsewhere by settings alone: a Qdrant server (QDRANT_URL), the Hugging
Face serverless API (HF_TOKEN + EMBEDDINGS_MODEL) and a dedicated endpoint (EMBEDDINGS_ENDPOINT).

The Hugging Face cloud is the real loopback server in tests/fake_hf.py; `QDRANT_URL=:memory:`
drives the exact qdrant-client calls a server receives.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.apphelpers import assert_error_shape, ingest, upload, wait_for_job
from tests.fake_hf import FakeHuggingFace
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.slow

TOKEN = "hf_test_secret_token_value"
MODEL = "BAAI/bge-small-en-v1.5"
NOTE = b"# Vectors\n\nQdrant keeps dense and sparse vectors side by side for hybrid search.\n"


@pytest.fixture
def hf() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace(token=TOKEN) as server:
        yield server


def test_hf_inference_by_token_and_model_name(tmp_path: Path, hf: FakeHuggingFace) -> None:
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path,
        HF_TOKEN=TOKEN,
        EMBEDDINGS_MODEL=MODEL,
        HF_INFERENCE_BASE_URL=hf.base_url,
    )
    with TestClient(create_app(settings)) as client:
        config = client.get("/api/settings/embeddings").json()
        assert config["provider"] == "hf-inference"
        assert TOKEN not in str(config) and config["token"] != "not set"
        (job,) = ingest(client, _write(tmp_path, "vectors.md", NOTE))
        assert job["status"] == "done", job
        hits = client.get("/api/search", params={"q": "hybrid search vectors"}).json()["results"]
        assert [h["filename"] for h in hits] == ["vectors.md"]
        assert TOKEN not in client.get("/settings").text
    paths = {r.path for r in hf.requests}
    assert paths == {f"/hf-inference/models/{MODEL}/pipeline/feature-extraction"}
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in hf.requests)
    assert any(NOTE.decode().split("\n")[2] in " ".join(r.inputs) for r in hf.requests)


def test_endpoint_url_with_blank_model(tmp_path: Path, hf: FakeHuggingFace) -> None:
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path,
        HF_TOKEN=TOKEN,
        EMBEDDINGS_ENDPOINT=f"{hf.url}/embed",
        EMBEDDINGS_MODEL="",
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/health").json()["provider"] == "endpoint"
        (job,) = ingest(client, _write(tmp_path, "vectors.md", NOTE))
        assert job["status"] == "done", job
        hits = client.get("/api/search", params={"q": "sparse vectors"}).json()["results"]
        assert hits and hits[0]["filename"] == "vectors.md"
        check = client.post("/api/embeddings/check").json()
        assert check["ok"] is True and check["dimension"] == 384
    assert {r.path for r in hf.requests} == {"/embed"}


def test_rejected_token_pauses_the_job_and_says_which_setting(
    tmp_path: Path, hf: FakeHuggingFace
) -> None:
    """The file is not at fault: its job waits, paused, instead of failing
    (tests/test_ingest_stops.py follows it until the token is fixed)."""
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path,
        HF_TOKEN="hf_wrong_token",
        EMBEDDINGS_MODEL=MODEL,
        HF_INFERENCE_BASE_URL=hf.base_url,
    )
    with TestClient(create_app(settings)) as client:
        (job,) = upload(client, _write(tmp_path, "vectors.md", NOTE)).json()["jobs"]
        job = wait_for_job(client, job["id"], 60, until=("paused", "done", "failed"))
        assert job["status"] == "paused", job
        assert "HF_TOKEN" in job["error"] and "hf_wrong_token" not in job["error"]
        assert client.get("/api/documents").json()["documents"][0]["status"] == "paused"
        check = client.post("/api/embeddings/check").json()
        assert check["ok"] is False and "HF_TOKEN" in check["error"]


def test_qdrant_server_engine_runs_the_whole_app(tmp_path: Path, local_provider: object) -> None:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path, QDRANT_URL=":memory:")
    with TestClient(create_app(settings, embedder=local_provider)) as client:  # type: ignore[arg-type]
        assert client.get("/api/health").json()["engine"] == "server"
        (job,) = ingest(client, _write(tmp_path, "vectors.md", NOTE))
        assert job["status"] == "done", job
        for mode in ("hybrid", "dense", "keyword"):
            body = client.get("/api/search", params={"q": "sparse vectors", "mode": mode}).json()
            assert [h["filename"] for h in body["results"]] == ["vectors.md"], mode
        services = client.app.state.services  # type: ignore[attr-defined]
        assert services.store.count({"doc_id": job["doc_id"]}) > 0
        assert client.delete(f"/api/documents/{job['doc_id']}").status_code == 200
        # No orphan vectors: the chunks and the document point are gone from the engine itself.
        assert services.store.count({"doc_id": job["doc_id"]}) == 0
        assert client.get("/api/documents").json()["documents"] == []
    assert not (tmp_path / "qdrant").exists()  # nothing written to the embedded engine


def test_a_collection_refuses_another_model(
    tmp_path: Path, hf: FakeHuggingFace, local_provider: object
) -> None:
    local = Settings(SEMSEARCH_DATA_DIR=tmp_path)
    with TestClient(create_app(local, embedder=local_provider)) as client:  # type: ignore[arg-type]
        assert ingest(client, _write(tmp_path, "vectors.md", NOTE))[0]["status"] == "done"
    other = Settings(
        SEMSEARCH_DATA_DIR=tmp_path,
        HF_TOKEN=TOKEN,
        EMBEDDINGS_MODEL=MODEL,
        HF_INFERENCE_BASE_URL=hf.base_url,
    )
    with TestClient(create_app(other)) as client:
        response = client.get("/api/search", params={"q": "vectors"})
        error = assert_error_shape(response.json(), 409)
        assert (
            "sentence-transformers/all-MiniLM-L6-v2" in error["message"]
            and MODEL in error["message"]
        )
        (job,) = ingest(
            client, _write(tmp_path, "other.md", b"# Other\n\nAnother note about vectors.\n")
        )
        assert job["status"] == "failed" and MODEL in job["error"]


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / "inputs" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path
