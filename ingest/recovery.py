"""Finding what a killed process left half-written, on the next start.

``IngestPipeline`` marks a document point "processing" before it writes the document's chunks
and marks it "done" after them (the engine applies writes in order, so a chunk on disk means
its marker is on disk too). A marker still "processing" when a process starts is a file whose
writing was cut short: its chunks are removed, so search never shows part of a document, and
the document is kept as "failed" with the reason, so the list says which file to ingest again.
A queued upload is not lost either way: the server's upload spool queues it again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from search.catalog import document_info
from search.results import DocumentInfo
from search.revision import bump_revision
from search.store import PointRecord, StoredPoint, VectorStore

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: semsearch stopped while writing this file; ingest it again"
# With a Qdrant server, other app replicas may be writing right now: only a marker this old is
# taken for an interrupted write (one file's chunks are written in seconds).
SHARED_STORE_GRACE = timedelta(minutes=15)


def recover_interrupted(store: VectorStore) -> list[DocumentInfo]:
    """Remove the chunks of every interrupted write and mark its document failed."""
    # An embedded store is this process's alone (its folder is locked): any marker is stale.
    grace = timedelta(0) if store.engine == "edge" else SHARED_STORE_GRACE
    cutoff = (datetime.now(UTC) - grace).isoformat(timespec="seconds")
    recovered: list[DocumentInfo] = []
    for record in store.scroll({"kind": "document", "status": "processing"}):
        payload = record.payload
        if str(payload.get("ingested_at", "")) > cutoff:
            continue
        doc_id = str(payload.get("doc_id", ""))
        store.delete({"doc_id": doc_id, "kind": "chunk"})
        failed = {**payload, "status": "failed", "error": INTERRUPTED, "chunks": 0}
        store.upsert([StoredPoint(id=record.id, payload=failed)])
        log.warning("%s was interrupted while being written; removed its chunks", doc_id[:12])
        recovered.append(document_info(PointRecord(record.id, failed)))
    if recovered:
        bump_revision(store)
    return recovered
