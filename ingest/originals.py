"""Uploaded originals, kept under `$SEMSEARCH_DATA_DIR/files/` and named by their sha256.

Keeping originals outside the app's memory keeps replicas stateless and lets a hit link to the
file at its page.
"""

from __future__ import annotations

from pathlib import Path

from ingest.atomic import write_atomically


class OriginalFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, doc_id: str, filename: str) -> Path:
        return self.root / f"{doc_id}{Path(filename).suffix.lower()}"

    def save(self, doc_id: str, filename: str, data: bytes) -> Path:
        """Write atomically (temporary file + rename), so a crash never leaves half a file."""
        target = self.path(doc_id, filename)
        if not target.exists():
            write_atomically(target, data)
        return target

    def delete(self, doc_id: str, filename: str) -> None:
        self.path(doc_id, filename).unlink(missing_ok=True)
