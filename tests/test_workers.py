"""Several replicas and `semsearch worker` processes on one queue, with real Redis.

Two `semsearch serve` replicas and the workers are real processes on loopback. They share a
Qdrant server (tests/fake_qdrant.py: qdrant-client's local mode behind Qdrant's REST API, since
no Qdrant server can run here), a Redis (Debian's redis-server), and a shared folder for the
spooled uploads and the originals. The embeddings come from the loopback fake of Hugging Face's
router (hashes: keyword searches only), so that no process loads the model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from qdrant_client import models

from tests.fake_hf import FakeHuggingFace
from tests.fake_qdrant import FakeQdrant, Recorded
from tests.processes import ChildProcess, ServerProcess, child_env
from tests.redis_server import RedisServer, require_redis
from tests.test_crash_safety import MODEL, TOKEN, report

pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    qdrant: FakeQdrant
    hf: FakeHuggingFace
    redis_url: str
    shared: Path
    root: Path
    started: list[ChildProcess] = field(default_factory=list)

    def env(self, name: str, **extra: str) -> dict[str, str]:
        shared = {
            "QDRANT_URL": self.qdrant.url,
            "SEMSEARCH_REDIS_URL": self.redis_url,
            "SEMSEARCH_INCOMING_DIR": str(self.shared / "incoming"),
            "SEMSEARCH_FILES_DIR": str(self.shared / "files"),
            "SEMSEARCH_WORKER_HEARTBEAT_S": "3",
            "HF_TOKEN": TOKEN,
            "EMBEDDINGS_MODEL": MODEL,
            "HF_INFERENCE_BASE_URL": self.hf.base_url,
            "EMBEDDINGS_CACHE": "off",
        }
        return child_env(self.root / name, **{**shared, **extra})

    def replica(self, name: str) -> ServerProcess:
        server = ServerProcess(self.env(name))
        self.started.append(server)  # stopped by the fixture, whatever the test did
        server.wait_ready()
        return server

    def worker(self, name: str, **extra: str) -> ChildProcess:
        worker = ChildProcess(["worker"], self.env(name, **extra))
        self.started.append(worker)
        return worker

    def count(self, **match: str) -> int:
        conditions: list[models.Condition] = [
            models.FieldCondition(key=key, match=models.MatchValue(value=value))
            for key, value in match.items()
        ]
        with self.qdrant.lock:
            return self.qdrant.engine.count(
                "documents", count_filter=models.Filter(must=conditions), exact=True
            ).count


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    require_redis()
    with (
        FakeQdrant() as qdrant,
        FakeHuggingFace(token=TOKEN) as hf,
        RedisServer(tmp_path / "redis") as redis_server,
    ):
        cluster = Cluster(qdrant, hf, redis_server.url, tmp_path / "shared", tmp_path)
        try:
            yield cluster
        finally:
            for process in reversed(cluster.started):
                process.stop()


def upload(server: ServerProcess, name: str, data: bytes) -> str:
    response = httpx.post(
        f"{server.url}/api/documents", files={"files": (name, data, "text/plain")}, timeout=30
    )
    assert response.status_code == 202, response.text
    (job,) = response.json()["jobs"]
    return str(job["id"])


def job_on(server: ServerProcess, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/jobs/{job_id}", timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_finished(server: ServerProcess, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_on(server, job_id)
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_any_replica_accepts_an_upload_and_answers_for_its_job(cluster: Cluster) -> None:
    first, second = cluster.replica("first"), cluster.replica("second")
    cluster.worker("worker")
    job_id = upload(first, "copper.txt", report("copper"))
    queued = job_on(second, job_id)  # the other replica knows it at once
    assert queued["filename"] == "copper.txt"
    job = wait_finished(second, job_id)
    assert job["status"] == "done", job
    assert job["chunks"] > 0
    assert job_on(first, job_id) == job

    hits = httpx.get(
        f"{second.url}/api/search", params={"q": "copper market", "mode": "keyword"}
    ).json()
    assert hits["results"][0]["filename"] == "copper.txt"
    # The original is on the shared volume: the replica that did not take it serves it.
    doc_id = hits["results"][0]["doc_id"]
    original = httpx.get(f"{second.url}/api/documents/{doc_id}/file", timeout=10)
    assert original.status_code == 200, original.text
    assert original.content == report("copper")
    listed = httpx.get(f"{first.url}/api/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]
    # Neither replica ingested anything itself: only the worker wrote chunks.
    assert "ingestion: by semsearch worker processes" in first.stop()


def is_chunk_write(request: Recorded) -> bool:
    points = (request.body or {}).get("points") or []
    return (
        request.method == "PUT"
        and request.path.endswith("/points")
        and any((p.get("payload") or {}).get("kind") == "chunk" for p in points)
    )


def test_a_worker_killed_mid_file_leaves_it_to_another_with_no_duplicate(cluster: Cluster) -> None:
    replica = cluster.replica("replica")
    doomed = cluster.worker("doomed")
    # The doomed worker's first chunk write is carried out, and its answer held back.
    cluster.qdrant.stall_when = is_chunk_write
    job_id = upload(replica, "wheat.txt", report("wheat"))
    assert cluster.qdrant.stalled.wait(60), "the worker never wrote chunks"
    doomed.kill()
    cluster.qdrant.release.set()
    doc_id = job_on(replica, job_id)["doc_id"]
    # What it left: the document "processing", and its chunks.
    assert cluster.count(kind="document", doc_id=doc_id, status="processing") == 1
    left = cluster.count(kind="chunk", doc_id=doc_id)
    assert left > 0
    assert job_on(replica, job_id)["status"] == "processing"

    rescuer = cluster.worker("rescuer")
    job = wait_finished(replica, job_id, timeout=180)
    assert "removed the chunks an interrupted worker had written" in rescuer.stop()

    assert job["status"] == "done", job
    assert cluster.count(kind="document", doc_id=doc_id) == 1
    assert cluster.count(kind="document", doc_id=doc_id, status="done") == 1
    assert cluster.count(kind="chunk", doc_id=doc_id) == job["chunks"]
    assert not list((cluster.shared / "incoming").glob("*.json")), "the upload was not released"


def test_a_refused_token_pauses_the_queue_with_one_request_and_says_why(cluster: Cluster) -> None:
    """A setting at fault stops the files, not fails them: the first one's refusal pauses the
    queue for every worker, and the others wait untried, "paused" with the reason, which every
    replica reports. (Resuming waits 30 s doubling, and is not run here.)"""
    first, second = cluster.replica("first"), cluster.replica("second")
    cluster.worker("worker", HF_TOKEN="hf_wrong_token_for_the_tests")
    jobs = [upload(first, f"{topic}.txt", report(topic)) for topic in ("tin", "zinc", "lead")]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        states = [job_on(second, job_id) for job_id in jobs]
        if all(job["status"] == "paused" for job in states):
            break
        time.sleep(0.2)
    assert all(job["status"] == "paused" and "HF_TOKEN" in job["error"] for job in states)
    assert len(cluster.hf.requests) == 1, "one refused request, not one per file"
    health = httpx.get(f"{second.url}/api/health").json()
    assert health["status"] == "degraded" and "HF_TOKEN" in health["ingestion_paused"]
    assert len(list((cluster.shared / "incoming").glob("*.bin"))) == 3  # kept, not failed
