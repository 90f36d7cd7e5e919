"""Durability of what ingestion keeps on disk: synced writes and removals, temporaries swept at
start, and no document "done" without its original.

The sync tests watch ``os.fsync`` and ``os.replace`` (the OS's calls, each still made for real)
to see the order the kernel is asked in; nothing of semsearch is patched. The rest drive the
real services (Qdrant Edge, real files) with a real failure of the operating system.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.models import SourceFile
from ingest.originals import OriginalFiles
from ingest.recovery import SHARED_STORE_GRACE, remove_partial_files
from ingest.spool import UploadSpool
from search.points import document_point_id
from tests.durability_support import fake_services
from tests.store_support import make_store

Event = tuple[str, str, str]


@pytest.fixture
def os_calls(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """Every ``os.fsync`` (with the path its descriptor names) and ``os.replace`` made while the
    test runs, in order; each call still goes to the OS."""
    events: list[Event] = []
    real_fsync: Callable[[int], None] = os.fsync
    real_replace = os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"), ""))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append(("replace", str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def assert_synced_write(events: list[Event], target: Path) -> None:
    """``target`` came by a rename of a temporary synced before it, and its folder was synced
    after it."""
    renames = [i for i, e in enumerate(events) if e[0] == "replace" and e[2] == str(target)]
    assert len(renames) == 1, events
    at = renames[0]
    partial = events[at][1]
    assert Path(partial).name.startswith(".partial-")
    assert ("fsync", partial, "") in events[:at], f"{target.name}: bytes not synced before"
    assert ("fsync", str(target.parent), "") in events[at + 1 :], f"{target.name}: no folder sync"


def test_a_spooled_upload_is_synced_file_then_folder_and_so_is_its_removal(
    tmp_path: Path, os_calls: list[Event]
) -> None:
    root = tmp_path / "incoming"
    UploadSpool(root).put("job1", SourceFile("a.txt", b"alpha"))
    assert_synced_write(os_calls, root / "job1.bin")
    assert_synced_write(os_calls, root / "job1.json")
    bin_at = next(i for i, e in enumerate(os_calls) if e[2] == str(root / "job1.bin"))
    json_at = next(i for i, e in enumerate(os_calls) if e[2] == str(root / "job1.json"))
    assert bin_at < json_at  # the manifest goes last

    os_calls.clear()
    UploadSpool(root).remove("job1")
    assert not list(root.iterdir())
    assert os_calls == [("fsync", str(root), "")]


def test_an_original_is_synced_file_then_folder(tmp_path: Path, os_calls: list[Event]) -> None:
    originals = OriginalFiles(tmp_path / "files")
    target = originals.save("abc123", "Report.PDF", b"%PDF-1.7 bytes")
    assert target == tmp_path / "files" / "abc123.pdf"
    assert target.read_bytes() == b"%PDF-1.7 bytes"
    assert_synced_write(os_calls, target)
    # The folder was made by this write: its own entry is synced too.
    assert ("fsync", str(tmp_path), "") in os_calls

    os_calls.clear()
    originals.delete("abc123", "Report.PDF")
    assert not target.exists()
    assert os_calls == [("fsync", str(tmp_path / "files"), "")]


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def test_partial_files_a_kill_left_are_swept_when_the_services_open(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    incoming, files = data_dir / "incoming", data_dir / "files"
    incoming.mkdir(parents=True)
    files.mkdir()
    (incoming / ".partial-k1l2m3").write_bytes(b"half an upload")
    (files / ".partial-n4o5p6").write_bytes(b"half an original")
    (files / ".partial-q7r8s9").write_bytes(b"")
    kept = files / "0123abcd.txt"
    kept.write_bytes(b"a stored original")
    with caplog.at_level(logging.WARNING), fake_services(data_dir):
        assert list(incoming.iterdir()) == []
        assert list(files.iterdir()) == [kept]
    assert "removed 3 partial files" in caplog.text


def test_with_a_shared_store_only_old_partial_files_are_swept(tmp_path: Path) -> None:
    """Replicas sharing a Qdrant server may share the data folder: a recent temporary may be
    another replica's write in progress."""
    folder = tmp_path / "files"
    folder.mkdir()
    fresh, stale = folder / ".partial-fresh", folder / ".partial-stale"
    fresh.write_bytes(b"being written by another replica")
    stale.write_bytes(b"left by a kill")
    old = time.time() - SHARED_STORE_GRACE.total_seconds() - 60
    os.utime(stale, (old, old))
    store = make_store("server", tmp_path)  # the engine replicas share
    try:
        assert remove_partial_files(store, folder, tmp_path / "absent") == 1
    finally:
        store.close()
    assert list(folder.iterdir()) == [fresh]


def test_no_document_is_done_without_its_original(data_dir: Path) -> None:
    """The originals folder cannot be made (a file is in its place), so no original can be
    saved: each file fails alone, saying why, and none is ever marked "done"; before, the
    "done" point was written first and the run then crashed, leaving documents whose file
    was a 404 for good."""
    data_dir.mkdir(parents=True)
    (data_dir / "files").write_bytes(b"not a folder")
    files = [
        SourceFile("a.txt", b"Copper prices rose after the mine in the north was closed."),
        SourceFile("b.txt", b"Wheat shipments left the harbour before the winter storms."),
    ]
    with fake_services(data_dir) as services:
        outcomes = list(services.pipeline.ingest_many(files))
        assert [o.status for o in outcomes] == ["failed", "failed"]
        for outcome in outcomes:
            assert outcome.error is not None
            assert "its original could not be saved" in outcome.error
            assert outcome.doc_id is not None
            stored = services.catalog.get(outcome.doc_id)
            assert (stored.status, stored.error) == ("failed", outcome.error)
            assert services.store.count({"doc_id": outcome.doc_id, "kind": "chunk"}) == 0


def test_an_unchanged_file_gets_its_missing_original_back(data_dir: Path) -> None:
    """An older version could crash between "done" and the original; a user can remove a file
    by hand. Sending the same bytes again is "unchanged" and saves the original again, under
    the name the document is stored with."""
    data = b"Cocoa harvests were late this year because of the long dry season."
    with fake_services(data_dir) as services:
        first = services.pipeline.ingest("cocoa.txt", data)
        assert first.status == "done" and first.doc_id is not None
        original = services.originals.path(first.doc_id, "cocoa.txt")
        original.unlink()
        again = services.pipeline.ingest("cocoa.txt", data)
        assert again.status == "unchanged"
        assert original.read_bytes() == data
        original.unlink()
        renamed = services.pipeline.ingest("cocoa-copy.md", data)  # the same bytes
        assert renamed.status == "unchanged"
        assert original.read_bytes() == data
        assert not services.originals.path(first.doc_id, "cocoa-copy.md").exists()
        point = services.store.retrieve([document_point_id(first.doc_id)])[0]
        assert point.payload["status"] == "done"
