"""The upload spool keeps accepted uploads on disk until their job ends."""

from __future__ import annotations

from pathlib import Path

from ingest.models import Labels, SourceFile
from ingest.spool import UploadSpool


def test_pending_uploads_come_back_with_their_labels_oldest_first(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path / "incoming")
    first = SourceFile("a.txt", b"alpha", Labels(("finance",), {"year": "2024"}))
    second = SourceFile("b.txt", b"\x00binary\xff")
    spool.put("job1", first)
    spool.put("job2", second)
    assert UploadSpool(tmp_path / "incoming").pending() == [("job1", first), ("job2", second)]
    spool.remove("job1")
    assert spool.pending() == [("job2", second)]
    assert sorted(p.name for p in (tmp_path / "incoming").iterdir()) == ["job2.bin", "job2.json"]


def test_leftovers_of_a_write_cut_short_are_dropped(tmp_path: Path) -> None:
    root = tmp_path / "incoming"
    root.mkdir()
    (root / "never-acknowledged.bin").write_bytes(b"half an upload")
    (root / "garbled.json").write_text("{not json")
    (root / "garbled.bin").write_bytes(b"x")
    assert UploadSpool(root).pending() == []
    assert list(root.iterdir()) == []


def test_an_absent_folder_has_nothing_pending(tmp_path: Path) -> None:
    assert UploadSpool(tmp_path / "nowhere").pending() == []
