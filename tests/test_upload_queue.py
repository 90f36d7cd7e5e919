"""Back-pressure: queued uploads wait on disk only, and a full queue says so at once.

Before, every queued upload was held in memory until its run (N queued 200 MB uploads cost N x
200 MB) and the queue had no bound. Now a job keeps only the file's name, size and digest, the
run reads the bytes back from the spool, and past ``SEMSEARCH_MAX_QUEUED_FILES`` or
``SEMSEARCH_MAX_QUEUED_MB`` an upload is a 503 with ``Retry-After`` that leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.models import CheckedFile, SourceFile
from ingest.spool import UploadSpool
from search.labels import Labels
from tests.apphelpers import assert_error_shape, wait_for_job
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.slow

MIB = 1024 * 1024


@pytest.fixture
def client(tmp_path: Path, local_provider: object) -> Iterator[TestClient]:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_MAX_QUEUED_MB=1)
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with TestClient(app) as test_client:
        yield test_client


def test_an_upload_the_queue_has_no_room_for_is_a_503_that_keeps_nothing(
    client: TestClient, tmp_path: Path
) -> None:
    big = ("big.txt", b"words of a long report " * (MIB // 20))  # over the 1 MB queue
    refused = client.post("/api/documents", files=[("files", big)])
    assert refused.status_code == 503
    body = assert_error_shape(refused.json(), 503)
    assert body["code"] == "queue_full"
    assert "queue is full" in body["message"]
    assert refused.headers["retry-after"] == "30"
    assert not list((tmp_path / "data" / "incoming").glob("*"))  # nothing spooled
    assert client.get("/api/jobs").json()["jobs"] == []
    small = client.post("/api/documents", files=[("files", ("small.txt", b"a short note"))])
    assert small.status_code == 202
    job = wait_for_job(client, small.json()["jobs"][0]["id"])
    assert job["status"] == "done", job


def test_in_a_mixed_request_the_files_without_room_are_listed_with_their_wait(
    client: TestClient,
) -> None:
    files = [
        ("files", ("first.txt", b"the first note fits")),
        ("files", ("huge.txt", b"x " * MIB)),
    ]
    response = client.post("/api/documents", files=files)
    assert response.status_code == 202
    result = response.json()
    assert [job["filename"] for job in result["jobs"]] == ["first.txt"]
    assert [(r["filename"], r["status"]) for r in result["rejected"]] == [("huge.txt", 503)]
    assert result["retry_after"] == 30


def test_the_spool_gives_what_a_job_needs_without_the_bytes(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path / "incoming")
    upload = CheckedFile("a.txt", b"alpha bytes", Labels(("finance",), {}))
    spooled = spool.put("job1", upload)
    assert (spooled.name, spooled.size) == ("a.txt", 11)
    assert [(job_id, entry) for job_id, entry in spool.entries()] == [("job1", spooled)]
    assert spool.load("job1") == upload


def test_a_manifest_an_older_version_wrote_gets_its_size_and_digest_from_the_file(
    tmp_path: Path,
) -> None:
    root = tmp_path / "incoming"
    spool = UploadSpool(root)
    fresh = spool.put("new", SourceFile("b.txt", b"beta bytes"))
    manifest = json.loads((root / "new.json").read_text())
    del manifest["size"], manifest["sha256"], manifest["checked"]
    (root / "new.json").write_text(json.dumps(manifest))
    ((job_id, entry),) = spool.entries()
    assert (job_id, entry) == ("new", fresh)
    assert isinstance(spool.load("new"), SourceFile)  # judged again by its run


def test_an_upload_that_cannot_be_read_back_fails_alone(
    tmp_path: Path, local_provider: object
) -> None:
    """A spooled upload whose bytes are gone (a disk error, a hand-deleted file) fails with the
    reason; the uploads queued with it are ingested, not failed and dropped with it."""
    data = tmp_path / "data"
    spool = UploadSpool(data / "incoming")
    for job_id, name in (("a1", "first.txt"), ("b2", "gone.txt"), ("c3", "third.txt")):
        spool.put(job_id, SourceFile(name, f"Notes about {name} and copper prices.".encode()))
    (data / "incoming" / "b2.bin").unlink()
    settings = Settings(SEMSEARCH_DATA_DIR=data)
    with TestClient(create_app(settings, embedder=local_provider)) as client:  # type: ignore[arg-type]
        jobs = {job["filename"]: job for job in client.get("/api/jobs").json()["jobs"]}
        assert set(jobs) == {"first.txt", "gone.txt", "third.txt"}
        finished = {name: wait_for_job(client, job["id"]) for name, job in jobs.items()}
    assert finished["first.txt"]["status"] == "done"
    assert finished["third.txt"]["status"] == "done"
    assert finished["gone.txt"]["status"] == "failed"
    assert "could not be read back" in finished["gone.txt"]["error"]
    assert list((data / "incoming").iterdir()) == []
