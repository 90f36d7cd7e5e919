"""The shared queue's edges: its settings, a Redis that cannot be reached, and bounds counted
over every replica's jobs (real Redis, no worker: the jobs stay queued)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from ingest.errors import QueueFullError
from ingest.job_broker import open_broker
from ingest.job_records import JobRecords
from ingest.models import SourceFile
from ingest.queue_jobs import QueuedJobs
from ingest.spool import UploadSpool
from tests.apphelpers import assert_error_shape
from tests.redis_server import RedisServer
from web.app import create_app
from web.settings import Settings


def test_a_queue_without_a_shared_store_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="QDRANT_URL is not"):
        Settings(SEMSEARCH_REDIS_URL="redis://127.0.0.1:6379/0")


def test_an_unreachable_redis_refuses_the_upload_and_keeps_nothing(
    tmp_path: Path, local_provider: object
) -> None:
    # Port 9 (discard): nothing listens there.
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path,
        QDRANT_URL=":memory:",
        SEMSEARCH_REDIS_URL="redis://127.0.0.1:9/0",
    )
    with TestClient(create_app(settings, embedder=local_provider)) as client:  # type: ignore[arg-type]
        files = {"files": ("note.txt", b"A note about the harvest.", "text/plain")}
        response = client.post("/api/documents", files=files)
        assert response.status_code == 503, response.text
        error = assert_error_shape(response.json(), 503)
        assert "SEMSEARCH_REDIS_URL=redis://127.0.0.1:9/0" in error["message"]
        assert response.headers["Retry-After"] == "30"
        jobs = client.get("/api/jobs")
        assert jobs.status_code == 503 and "SEMSEARCH_REDIS_URL" in jobs.text
    assert not list((tmp_path / "incoming").glob("*")), "the refused upload was kept"


def test_the_bounds_count_every_replicas_unfinished_jobs(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis") as redis_server:
        spool = UploadSpool(tmp_path / "incoming")
        replicas = [
            QueuedJobs(
                JobRecords(redis_server.url, "documents"),
                open_broker(redis_server.url, "documents", heartbeat_timeout_s=60),
                spool,
                max_queued_files=2,
                max_queued_bytes=1024 * 1024,
            )
            for _ in range(2)
        ]
        try:
            first = replicas[0].submit(SourceFile("a.txt", b"first file"))
            second = replicas[1].submit(SourceFile("b.txt", b"second file"))
            with pytest.raises(QueueFullError, match="2 files"):
                replicas[0].submit(SourceFile("c.txt", b"third file"))
            assert replicas[1].get(first.id) == first
            assert [job.id for job in replicas[0].recent()] == [second.id, first.id]
            assert len(list((tmp_path / "incoming").glob("*.bin"))) == 2
        finally:
            for replica in replicas:
                replica.shutdown()
