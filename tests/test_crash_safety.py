"""Crash safety: a process killed with SIGKILL (`kill -9`) half-way through ingestion.

The server runs as a real `semsearch serve` child, embedding through a loopback fake of the
Hugging Face router that answers slowly, so the kill lands while some uploads are done and
others are still being embedded. The next start must show no half-written document, and must
finish the uploads it had accepted.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from ingest.models import SourceFile
from ingest.recovery import INTERRUPTED
from search.edge_store import EdgeStore
from search.factory import edge_shard_folder
from search.points import chunk_point_id, document_point_id
from search.request import SearchRequest
from search.store import StoredPoint
from tests.fake_hf import FakeHuggingFace
from tests.processes import ServerProcess, child_env
from web.services import open_services
from web.settings import Settings

TOKEN = "hf_crash_test_token"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TOPICS = ["copper", "wheat", "tin", "cocoa", "zinc", "coffee", "rubber", "sugar", "lead", "oil"]

pytestmark = pytest.mark.slow


def report(topic: str) -> bytes:
    """A few chunks of text, different for each topic."""
    return "\n\n".join(
        f"Paragraph {n} of the {topic} market report: {topic} prices moved as traders in "
        f"{topic} weighed supply, demand, shipping and the weather in the growing regions. " * 4
        for n in range(6)
    ).encode()


def store_state(data_dir: Path) -> tuple[dict[str, dict[str, object]], dict[str, int]]:
    """Document points by doc id, and chunk counts by doc id, read from the folder itself."""
    store = EdgeStore(edge_shard_folder(data_dir, "documents"))
    try:
        documents = {
            str(r.payload["doc_id"]): r.payload for r in store.scroll({"kind": "document"})
        }
        chunks: dict[str, int] = {}
        for record in store.scroll({"kind": "chunk"}):
            doc_id = str(record.payload["doc_id"])
            chunks[doc_id] = chunks.get(doc_id, 0) + 1
    finally:
        store.close()
    return documents, chunks


def wait_until_taken(client: httpx.Client, job_id: str) -> None:
    deadline = time.monotonic() + 30
    while client.get(f"/api/jobs/{job_id}").json()["status"] == "queued":
        assert time.monotonic() < deadline, "the upload was never taken by a worker"
        time.sleep(0.02)


def assert_nothing_half_written(
    documents: dict[str, dict[str, object]], chunks: dict[str, int]
) -> None:
    for doc_id, count in chunks.items():
        assert doc_id in documents, f"chunks of {doc_id[:12]} without a document point"
        assert documents[doc_id]["status"] == "done", documents[doc_id]
        assert count == documents[doc_id]["chunks"]


def test_a_killed_server_leaves_nothing_half_written_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with FakeHuggingFace(token=TOKEN) as hf:
        env = child_env(
            data,
            HF_TOKEN=TOKEN,
            EMBEDDINGS_MODEL=MODEL,
            HF_INFERENCE_BASE_URL=hf.base_url,
            EMBEDDINGS_CACHE="off",
        )
        hf.latency_s = 1.5
        server = ServerProcess(env)
        try:
            server.wait_ready()
            with httpx.Client(base_url=server.url, timeout=30) as client:
                jobs = []
                for topic in TOPICS:
                    files = {"files": (f"{topic}.txt", report(topic), "text/plain")}
                    response = client.post("/api/documents", files=files)
                    assert response.status_code == 202, response.text
                    jobs.extend(job["id"] for job in response.json()["jobs"])
                    if len(jobs) == 1:  # let a worker take it alone, so it finishes first
                        wait_until_taken(client, jobs[0])
                # Kill as soon as the first uploads are stored and others are not.
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    states = [client.get(f"/api/jobs/{job}").json()["status"] for job in jobs]
                    if "done" in states and any(s != "done" for s in states):
                        break
                    time.sleep(0.05)
                else:
                    pytest.fail(f"never saw some uploads done and others not: {states}")
            server.kill()
        finally:
            server.stop()

        documents, chunks = store_state(data)
        assert_nothing_half_written(documents, chunks)
        done_before = {d for d, p in documents.items() if p["status"] == "done"}
        assert 0 < len(done_before) < len(TOPICS)
        assert list((data / "incoming").glob("*.json")), "the unfinished uploads were not kept"

        hf.latency_s = 0.0
        server = ServerProcess(env)
        try:
            server.wait_ready()
            with httpx.Client(base_url=server.url, timeout=30) as client:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    listed = client.get("/api/documents").json()["documents"]
                    if sum(d["status"] == "done" for d in listed) == len(TOPICS):
                        break
                    time.sleep(0.2)
                assert sorted(d["filename"] for d in listed) == sorted(f"{t}.txt" for t in TOPICS)
                assert {d["status"] for d in listed} == {"done"}
                # Keyword mode: the fake's vectors are hashes, with no meaning to rank by.
                query = {"q": "cocoa market report", "mode": "keyword"}
                hits = client.get("/api/search", params=query).json()
                assert hits["results"][0]["filename"] == "cocoa.txt"
        finally:
            output = server.stop()
        assert "resuming" in output

    documents, chunks = store_state(data)
    assert_nothing_half_written(documents, chunks)
    assert len(documents) == len(TOPICS) and set(chunks) == set(documents)
    assert not list((data / "incoming").iterdir())


def test_a_write_cut_short_is_removed_and_reported_on_the_next_start(
    tmp_path: Path, local_provider: object
) -> None:
    """The state a kill between a file's first and last write leaves: its "processing" marker
    and part of its chunks (written here through the store, as the pipeline writes them)."""
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path)
    kept = SourceFile("kept.txt", b"The central bank held interest rates steady this quarter.")
    cut = SourceFile("cut.txt", b"Cocoa shipments from the harbour were delayed by the storm.")
    with open_services(settings, embedder=local_provider) as services:  # type: ignore[arg-type]
        assert services.pipeline.ingest(kept.name, kept.data).status == "done"
        outcome = services.pipeline.ingest(cut.name, cut.data)
        assert outcome.doc_id is not None
        cut_id = outcome.doc_id
        marker = services.store.retrieve([document_point_id(cut_id)])[0]
        chunk = services.store.retrieve([chunk_point_id(cut_id, 0)], with_vectors=True)[0]
        # Rewind to the moment after its marker and first chunk were written.
        services.store.delete({"doc_id": cut_id})
        services.store.upsert(
            [
                StoredPoint(marker.id, {**marker.payload, "status": "processing"}),
                StoredPoint(chunk.id, chunk.payload, dense=chunk.dense),
            ]
        )

    with open_services(settings, embedder=local_provider) as services:  # type: ignore[arg-type]
        assert [d.filename for d in services.interrupted] == ["cut.txt"]
        assert services.store.count({"doc_id": cut_id, "kind": "chunk"}) == 0
        results = services.search.search(
            SearchRequest("cocoa shipments delayed by the storm", group=False)
        )
        assert {hit.filename for hit in results.results} == {"kept.txt"}
        info = services.store.retrieve([document_point_id(cut_id)])[0].payload
        assert (info["status"], info["error"]) == ("failed", INTERRUPTED)
        # Ingesting it again finishes it.
        assert services.pipeline.ingest(cut.name, cut.data).status == "done"
        assert services.store.count({"doc_id": cut_id, "kind": "chunk"}) == 1

    with open_services(settings, embedder=local_provider) as services:  # type: ignore[arg-type]
        assert services.interrupted == []
