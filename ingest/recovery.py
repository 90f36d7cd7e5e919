"""Finding what a killed process left half-written, on the next start.

``IngestPipeline`` marks a document point "processing" before it writes the document's chunks
and marks it "done" after them (the engine applies writes in order, so a chunk on disk means
its marker is on disk too). A marker still "processing" when a process starts is a file whose
writing was cut short: its chunks are removed, so search never shows part of a document, and
the document is kept as "failed" with the reason, so the list says which file to ingest again.
A queued upload is not lost either way: the server's upload spool queues it again.

A process killed mid-write also leaves the ``.partial-*`` temporary file of a spooled upload or
a stored original (``ingest.atomic``); ``remove_partial_files`` sweeps those folders on start.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.atomic import sweep_partials
from search.points import (
    DOC_ID,
    chunks_of,
    doc_id_of,
    document_info,
    documents_where,
    failed_document,
    ingested_at_of,
)
from search.results import DocumentInfo
from search.revision import bump_revision
from search.store import VectorStore

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: semsearch stopped while writing this file; ingest it again"
# With a Qdrant server, other app replicas may be writing right now: only a marker this old is
# taken for an interrupted write (one file's chunks are written in seconds).
SHARED_STORE_GRACE = timedelta(minutes=15)


def recover_interrupted(store: VectorStore) -> list[DocumentInfo]:
    """Remove the chunks of every interrupted write and mark its document failed."""
    cutoff = (datetime.now(UTC) - _grace(store)).isoformat(timespec="seconds")
    recovered: list[DocumentInfo] = []
    for record in store.scroll(documents_where(status="processing")):
        if ingested_at_of(record) > cutoff:
            continue
        doc_id = doc_id_of(record.payload)
        store.delete(chunks_of(doc_id))
        failed = failed_document(record, INTERRUPTED)
        store.upsert([failed])
        log.warning("%s was interrupted while being written; removed its chunks", doc_id[:12])
        recovered.append(document_info(failed))
    if recovered:
        bump_revision(store)
    return recovered


def discard_unfinished_write(store: VectorStore, doc_id: str) -> bool:
    """Remove the chunks a killed worker wrote of one document, if its point is still
    "processing": the worker that takes the file next calls this before reading it, so that
    what the first one left is not searchable while the file is read and embedded again.
    True when there was such a write."""
    where = {**documents_where(status="processing"), DOC_ID: doc_id}
    if not store.count(where):
        return False
    store.delete(chunks_of(doc_id))
    bump_revision(store)
    log.warning("%s: removed the chunks an interrupted worker had written", doc_id[:12])
    return True


def remove_partial_files(store: VectorStore, *folders: Path) -> int:
    """Remove the temporary files of writes cut short in ``folders``; how many, logged.

    With an embedded store the data folder is this process's alone, so every one is stale; with
    a Qdrant server, replicas may share the folders and one may be writing now, so only those
    older than ``SHARED_STORE_GRACE`` are."""
    grace = _grace(store).total_seconds()
    removed = sum(sweep_partials(f, older_than_s=grace) for f in folders)
    if removed:
        log.warning("removed %d partial files that writes cut short had left", removed)
    return removed


def _grace(store: VectorStore) -> timedelta:
    """How old a marker or a partial file must be to be taken as left by a stopped write: an
    embedded store is this process's alone (its folder is locked), so any is; with a Qdrant
    server, other replicas may be writing right now."""
    return timedelta(0) if store.engine == "edge" else SHARED_STORE_GRACE
