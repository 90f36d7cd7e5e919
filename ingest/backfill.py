"""Once per collection: give chunks stored before the file-type and date filters their fields.

Chunks carry ``mime`` and ``ingested_at`` so that search can filter passages by file type and
ingestion date on payload indexes. Chunks written by earlier versions lack them, so those
filters skipped such documents until they were ingested again. At open, each done document's
values are copied from its document point onto its chunks (one ``set_payload`` by filter per
document whose first chunk lacks them); the collection point then records that this was done,
so later opens cost one retrieve.
"""

from __future__ import annotations

import logging

from ingest.loaders import MIME_TYPES
from search.store import COLLECTION_POINT_ID, VectorStore, chunk_point_id

log = logging.getLogger(__name__)

#: The collection point's key recording that chunks have these fields.
MARKER = "chunk_filter_fields"
FIELDS = ("mime", "ingested_at")


def backfill_chunk_fields(store: VectorStore) -> int:
    """Copy ``mime``/``ingested_at`` onto older chunks; returns the documents updated."""
    collection = store.retrieve([COLLECTION_POINT_ID])
    if not collection or collection[0].payload.get(MARKER):
        return 0
    updated = 0
    for record in store.scroll({"kind": "document", "status": "done"}):
        doc_id = str(record.payload.get("doc_id", ""))
        first = store.retrieve([chunk_point_id(doc_id, 0)])
        if not first or all(field in first[0].payload for field in FIELDS):
            continue
        values = {
            "mime": record.payload.get("mime") or _mime_of(str(record.payload.get("filename"))),
            "ingested_at": record.payload.get("ingested_at"),
        }
        store.set_payload({"doc_id": doc_id, "kind": "chunk"}, values)
        updated += 1
    store.set_payload({"kind": "collection"}, {MARKER: 1})
    if updated:
        log.info("gave %d older documents' passages their file type and ingestion date", updated)
    return updated


def _mime_of(filename: str) -> str | None:
    suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
    return MIME_TYPES.get(suffix)
