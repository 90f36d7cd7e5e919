"""Uploaded originals, kept under `$SEMSEARCH_DATA_DIR/files/` and named by their sha256.

Keeping originals outside the app's memory keeps replicas stateless and lets a hit link to the
file at its page. Writes and removals go through ``ingest.atomic``: a saved original is whole and
on disk (file and folder synced) before the write stage marks its document "done"
(``ingest.write_stage``), so a document listed as done always has its file.
"""

from __future__ import annotations

from pathlib import Path

from ingest.atomic import remove_durably, sync_folder, write_atomically


class OriginalFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, doc_id: str, filename: str) -> Path:
        return self.root / f"{doc_id}{Path(filename).suffix.lower()}"

    def save(self, doc_id: str, filename: str, data: bytes, *, sync: bool = True) -> Path:
        """Write atomically and durably unless it is there already (its name is its digest);
        raises ``StorageFullError`` when the disk is full, other ``OSError`` as they come.

        ``sync=False`` for one of several saved together: the caller then calls ``sync`` once
        for all of them before relying on any (``ingest.write_stage``)."""
        target = self.path(doc_id, filename)
        if not target.is_file():  # a folder in its place is no original: the rename fails
            write_atomically(target, data, name=filename, sync=sync)
        return target

    def sync(self) -> None:
        """Make the files saved with ``sync=False`` durable: one sync of their folder."""
        if self.root.is_dir():
            sync_folder(self.root)

    def delete(self, doc_id: str, filename: str) -> None:
        remove_durably(self.path(doc_id, filename))
