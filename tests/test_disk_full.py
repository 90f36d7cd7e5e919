"""A full disk is a clear refusal that leaves nothing half-written and loses nothing accepted.

The spool or the originals folder is a real tmpfs of a few pages (``tests.durability_support``),
so a write past its size fails in the kernel with ``ENOSPC``, as on a full data disk. Before,
that ``OSError`` escaped: an upload request was a 500 (the files it had already queued went on
without the client knowing), and an original that did not fit crashed the whole ingestion run
after its document was marked "done".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.errors import StorageFullError
from ingest.models import SourceFile
from ingest.spool import UploadSpool
from tests.apphelpers import assert_error_shape, wait_for_job
from tests.durability_support import (
    PAGE,
    fake_hf_settings,
    fake_services,
    fill,
    leftovers,
    tiny_filesystem,
)
from web.app import create_app

# Larger than the whole tiny filesystem (8 pages).
TOO_BIG = " ".join(f"Line {n} of the long shipping ledger, copper and tin." for n in range(800))
PAGES = 8


@pytest.fixture
def full_spool(tmp_path: Path) -> Iterator[Path]:
    with tiny_filesystem(tmp_path / "incoming", pages=PAGES) as folder:
        yield folder


def test_an_upload_the_disk_has_no_room_for_leaves_nothing(full_spool: Path) -> None:
    assert len(TOO_BIG) > PAGES * PAGE
    spool = UploadSpool(full_spool)
    kept = spool.put("kept", SourceFile("kept.txt", b"an upload that fits"))
    with pytest.raises(StorageFullError) as refused:
        spool.put("big", SourceFile("big.txt", TOO_BIG.encode()))
    assert refused.value.filename == "big.txt"
    assert "disk is full" in str(refused.value)
    assert str(full_spool) in str(refused.value)
    assert leftovers(full_spool) == []
    assert [(job_id, entry) for job_id, entry in spool.entries()] == [("kept", kept)]


def test_bytes_whose_manifest_does_not_fit_are_removed(full_spool: Path) -> None:
    """The ``.bin`` takes the last free page; its manifest finds none."""
    fill(full_spool, free_pages=1)
    with pytest.raises(StorageFullError):
        UploadSpool(full_spool).put("job", SourceFile("note.txt", b"a short note"))
    assert sorted(p.name for p in full_spool.iterdir()) == ["filler"]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    data = tmp_path / "data"
    with (
        tiny_filesystem(data / "incoming", pages=PAGES),
        fake_hf_settings(data) as settings,
        TestClient(create_app(settings)) as test_client,
    ):
        yield test_client


def test_a_full_disk_is_a_507_for_that_file_and_keeps_the_others(
    client: TestClient, tmp_path: Path
) -> None:
    incoming = tmp_path / "data" / "incoming"
    files = [
        ("files", ("first.txt", b"The first note fits on the disk.")),
        ("files", ("big.txt", TOO_BIG.encode())),
        ("files", ("third.txt", b"The third note fits on the disk too.")),
    ]
    response = client.post("/api/documents", files=files)
    assert response.status_code == 202, response.text
    result = response.json()
    assert [job["filename"] for job in result["jobs"]] == ["first.txt", "third.txt"]
    ((rejected),) = result["rejected"]
    assert (rejected["filename"], rejected["status"]) == ("big.txt", 507)
    assert rejected["message"].startswith("big.txt: the disk is full")
    assert str(incoming) in rejected["message"]
    assert leftovers(incoming) == []
    for job in result["jobs"]:
        assert wait_for_job(client, job["id"])["status"] == "done"
    listed = client.get("/api/documents").json()["documents"]
    assert sorted(d["filename"] for d in listed) == ["first.txt", "third.txt"]

    alone = client.post("/api/documents", files=[("files", ("big.txt", TOO_BIG.encode()))])
    error = assert_error_shape(alone.json(), 507)
    assert alone.status_code == 507
    assert error["code"] == "storage_full"
    assert error["filename"] == "big.txt"
    assert "the disk is full" in error["message"]
    assert leftovers(incoming) == []


def test_an_original_the_disk_has_no_room_for_fails_that_file_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    files = [
        SourceFile("copper.txt", b"Copper prices rose after the mine in the north closed."),
        SourceFile("ledger.txt", TOO_BIG.encode()),
        SourceFile("wheat.txt", b"Wheat shipments left the harbour before the storms."),
    ]
    with tiny_filesystem(data / "files", pages=PAGES) as folder, fake_services(data) as services:
        outcomes = list(services.pipeline.ingest_many(files))
        assert [o.status for o in outcomes] == ["done", "failed", "done"]
        failed = outcomes[1]
        assert failed.error is not None and failed.error.startswith("the disk is full")
        assert failed.doc_id is not None
        stored = services.catalog.get(failed.doc_id)
        assert (stored.status, stored.error) == ("failed", failed.error)
        assert services.store.count({"doc_id": failed.doc_id, "kind": "chunk"}) == 0
        assert leftovers(folder) == []
        for outcome in (outcomes[0], outcomes[2]):
            assert outcome.doc_id is not None
            assert services.originals.path(outcome.doc_id, outcome.filename).is_file()

        # Already indexed, its original gone and no room to put it back: that file fails.
        copper = outcomes[0]
        assert copper.doc_id is not None
        services.originals.path(copper.doc_id, copper.filename).unlink()
        fill(folder)
        (again,) = services.pipeline.ingest_many([files[0]])
        assert again.status == "failed"
        assert again.error is not None and "the disk is full" in again.error
        assert services.catalog.get(copper.doc_id).status == "done"  # still searchable
        assert leftovers(folder) == []
