"""Uploads waiting for ingestion, kept on disk until their job ends.

Jobs live in the server's memory; the bytes of an accepted upload are also written here before
the 202 goes out, and removed when the job is done or has failed. A server that is stopped or
killed with uploads still queued or half-way finds them here on its next start and ingests them
again (``JobManager.resume``), so an accepted upload is never silently lost.

Each upload is two files named by its job id: ``{id}.bin`` (the bytes) and ``{id}.json`` (its
name, its labels, and whether it was checked), both written atomically; the manifest goes last,
so a manifest always has its bytes. A ``.bin`` without a manifest is a crash mid-write of an
upload that was never acknowledged, and is removed.

An upload comes back as it was put: a ``CheckedFile`` (``IngestPipeline.accept`` judged it
before the 202) resumes as one and is not judged again; a ``SourceFile``, or a manifest an
older version wrote, which has no ``checked``, resumes as a ``SourceFile``, judged by its run.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ingest.atomic import write_atomically
from ingest.models import CheckedFile, IngestFile, SourceFile
from search.labels import Labels

log = logging.getLogger(__name__)


class UploadSpool:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, job_id: str, source: IngestFile) -> None:
        manifest = {
            "name": source.name,
            "queued_ns": time.time_ns(),
            "tags": list(source.labels.tags),
            "metadata": dict(source.labels.metadata),
            "checked": isinstance(source, CheckedFile),
        }
        write_atomically(self.root / f"{job_id}.bin", source.data)
        write_atomically(self.root / f"{job_id}.json", json.dumps(manifest).encode())

    def remove(self, job_id: str) -> None:
        (self.root / f"{job_id}.json").unlink(missing_ok=True)
        (self.root / f"{job_id}.bin").unlink(missing_ok=True)

    def pending(self) -> list[tuple[str, IngestFile]]:
        """The uploads left by an earlier run, oldest first; unreadable leftovers are dropped."""
        if not self.root.is_dir():
            return []
        found: list[tuple[int, str, IngestFile]] = []
        for manifest in self.root.glob("*.json"):
            job_id = manifest.stem
            try:
                meta = json.loads(manifest.read_text())
                data = (self.root / f"{job_id}.bin").read_bytes()
                labels = Labels(tuple(meta.get("tags", ())), dict(meta.get("metadata", {})))
                name = str(meta["name"])
                checked = meta.get("checked") is True
                source: IngestFile = (
                    CheckedFile(name, data, labels) if checked else SourceFile(name, data, labels)
                )
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("dropping unreadable queued upload %s: %s", job_id, error)
                self.remove(job_id)
                continue
            found.append((int(meta.get("queued_ns", 0)), job_id, source))
        for orphan in self.root.glob("*.bin"):
            if not orphan.with_suffix(".json").exists():
                orphan.unlink(missing_ok=True)
        return [(job_id, source) for _, job_id, source in sorted(found, key=lambda f: f[0])]
