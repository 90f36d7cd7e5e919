"""Uploads waiting for ingestion, kept on disk until their job ends.

Jobs live in the server's memory; the bytes of an accepted upload are also written here before
the 202 goes out, and removed when the job is done or has failed. A server that is stopped or
killed with uploads still queued or half-way finds them here on its next start and ingests them
again (``JobManager.resume``), so an accepted upload is never silently lost.

Each upload is two files named by its job id: ``{id}.bin`` (the bytes) and ``{id}.json`` (its
name, its labels, and whether it was checked), both written atomically; the manifest goes last,
so a manifest always has its bytes. A ``.bin`` without a manifest is a crash mid-write of an
upload that was never acknowledged, and is removed. Each write and each removal is synced (file
and folder, ``ingest.atomic``) before ``put`` or ``remove`` returns, so the 202 of an upload
means its bytes survive a power cut too. A full disk raises ``StorageFullError`` and leaves
nothing of that upload: the ``.bin`` goes when its manifest does not fit.

The server keeps no upload's bytes in memory while it waits: ``put`` returns what the job
list needs (name, size, digest), and a run reads the bytes back with ``load`` when it takes the
job. An upload comes back as it was put: a ``CheckedFile`` (``IngestPipeline.accept`` judged it
before the 202) resumes as one and is not judged again; a ``SourceFile``, or a manifest an
older version wrote, which has no ``checked``, resumes as a ``SourceFile``, judged by its run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.atomic import remove_durably, write_atomically
from ingest.models import CheckedFile, IngestFile, SourceFile
from search.labels import Labels

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spooled:
    """What the server keeps in memory of a queued upload: never its bytes."""

    name: str
    size: int
    sha256: str


class UploadSpool:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, job_id: str, source: IngestFile) -> Spooled:
        """Keep the upload on disk, durably, before it is acknowledged; raises
        ``StorageFullError`` (nothing of it left behind) when the disk is full."""
        digest = hashlib.sha256(source.data).hexdigest()
        manifest = {
            "name": source.name,
            "queued_ns": time.time_ns(),
            "tags": list(source.labels.tags),
            "metadata": dict(source.labels.metadata),
            "checked": isinstance(source, CheckedFile),
            "size": len(source.data),
            "sha256": digest,
        }
        data = self.root / f"{job_id}.bin"
        write_atomically(data, source.data, name=source.name)
        try:
            write_atomically(
                self.root / f"{job_id}.json", json.dumps(manifest).encode(), name=source.name
            )
        except BaseException:
            remove_durably(data)  # bytes without a manifest are an upload never acknowledged
            raise
        return Spooled(source.name, len(source.data), digest)

    def remove(self, job_id: str) -> None:
        """Manifest first: a crash between the two leaves an orphan ``.bin``, never a manifest
        without its bytes."""
        remove_durably(self.root / f"{job_id}.json", self.root / f"{job_id}.bin")

    def load(self, job_id: str) -> IngestFile:
        """The upload with its bytes, read when its run takes it; raises ``OSError``,
        ``ValueError`` or ``KeyError`` for an entry that cannot be read."""
        meta = json.loads((self.root / f"{job_id}.json").read_text())
        data = (self.root / f"{job_id}.bin").read_bytes()
        labels = Labels(tuple(meta.get("tags", ())), dict(meta.get("metadata", {})))
        name = str(meta["name"])
        return (
            CheckedFile(name, data, labels)
            if meta.get("checked") is True
            else (SourceFile(name, data, labels))
        )

    def entries(self) -> list[tuple[str, Spooled]]:
        """The uploads left by an earlier run, oldest first, without their bytes (an older
        version's manifest has no size or digest: they are read from its file, in pieces);
        unreadable leftovers are dropped."""
        if not self.root.is_dir():
            return []
        found: list[tuple[int, str, Spooled]] = []
        for manifest in self.root.glob("*.json"):
            job_id = manifest.stem
            try:
                meta = json.loads(manifest.read_text())
                found.append((int(meta.get("queued_ns", 0)), job_id, self._spooled(job_id, meta)))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("dropping unreadable queued upload %s: %s", job_id, error)
                self.remove(job_id)
        orphans = [o for o in self.root.glob("*.bin") if not o.with_suffix(".json").exists()]
        remove_durably(*orphans)
        return [(job_id, entry) for _, job_id, entry in sorted(found, key=lambda f: f[0])]

    def pending(self) -> list[tuple[str, IngestFile]]:
        """``entries`` with each upload's bytes: every queued upload in memory at once, so the
        server itself reads them one by one (``load``) as their runs take them."""
        return [(job_id, self.load(job_id)) for job_id, _ in self.entries()]

    def _spooled(self, job_id: str, meta: dict[str, object]) -> Spooled:
        name, size, digest = str(meta["name"]), meta.get("size"), meta.get("sha256")
        if isinstance(size, int) and isinstance(digest, str):
            return Spooled(name, size, digest)
        path = self.root / f"{job_id}.bin"
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for piece in iter(lambda: handle.read(1024 * 1024), b""):
                hasher.update(piece)
        return Spooled(name, path.stat().st_size, hasher.hexdigest())
