"""Uploaded originals, kept under `$SEMSEARCH_DATA_DIR/files/` and named by their sha256.

Keeping originals outside the app's memory keeps replicas stateless and lets a hit link to the
file at its page. Writes and removals go through ``ingest.atomic``: a saved original is whole and
on disk (file and folder synced) before the write stage marks its document "done"
(``ingest.stages``), so a document listed as done always has its file.
"""

from __future__ import annotations

from pathlib import Path

from ingest.atomic import remove_durably, write_atomically


class OriginalFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, doc_id: str, filename: str) -> Path:
        return self.root / f"{doc_id}{Path(filename).suffix.lower()}"

    def save(self, doc_id: str, filename: str, data: bytes) -> Path:
        """Write atomically and durably unless it is there already (its name is its digest);
        raises ``StorageFullError`` when the disk is full, other ``OSError`` as they come."""
        target = self.path(doc_id, filename)
        if not target.exists():
            write_atomically(target, data, name=filename)
        return target

    def delete(self, doc_id: str, filename: str) -> None:
        remove_durably(self.path(doc_id, filename))
