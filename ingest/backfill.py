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

from search.file_types import mime_of
from search.points import (
    COLLECTION_ONLY,
    COLLECTION_POINT_ID,
    chunk_point_id,
    chunks_of,
    doc_id_of,
    document_info,
    documents_where,
    filter_fields_of,
    is_backfilled,
    lacks_filter_fields,
    mark_backfilled,
)
from search.store import VectorStore

log = logging.getLogger(__name__)


def backfill_chunk_fields(store: VectorStore) -> int:
    """Copy ``mime``/``ingested_at`` onto older chunks; returns the documents updated."""
    collection = store.retrieve([COLLECTION_POINT_ID])
    if not collection or is_backfilled(collection[0]):
        return 0
    updated = 0
    for record in store.scroll(documents_where(status="done")):
        doc_id = doc_id_of(record.payload)
        first = store.retrieve([chunk_point_id(doc_id, 0)])
        if not first or not lacks_filter_fields(first[0]):
            continue
        mime = mime_of(document_info(record).filename)
        store.set_payload(chunks_of(doc_id), filter_fields_of(record, mime))
        updated += 1
    store.set_payload(COLLECTION_ONLY, mark_backfilled())
    if updated:
        log.info("gave %d older documents' passages their file type and ingestion date", updated)
    return updated
