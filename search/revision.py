"""The collection's revision: a token that changes on every write made through the pipeline.

Results computed from the whole collection (clusters) are kept while the revision is the same.
The token lives in the payload of the collection point (the one that records the model), so
reading it is a single retrieve on either engine, it adds no point to any count, and a store
written by another process (a CLI ingest next to a server) is seen changed too.
"""

from __future__ import annotations

import uuid

from search.points import COLLECTION_POINT_ID, revision_of, with_revision
from search.store import VectorStore


def current_revision(store: VectorStore) -> str | None:
    """The revision token; None for a new collection, or one last written by an older version."""
    records = store.retrieve([COLLECTION_POINT_ID])
    return revision_of(records[0]) if records else None


def bump_revision(store: VectorStore) -> None:
    """Mark the collection changed (called after the writes, within the same flush)."""
    records = store.retrieve([COLLECTION_POINT_ID])
    if not records:  # no collection yet: nothing was written
        return
    store.upsert([with_revision(records[0], uuid.uuid4().hex)])
