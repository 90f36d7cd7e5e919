"""The documents of a collection, read from the store's document points (``search.points``).

The store is the single source of truth, so app replicas need no database of their own. The
routes and the CLI ask a ``DocumentCatalog``; the pipeline uses the same class to find what a new
file replaces and to delete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from search.errors import DocumentNotFoundError
from search.points import (
    CHUNKS_ONLY,
    DOCUMENTS_ONLY,
    all_points_of,
    document_info,
    document_point_id,
    documents_where,
)
from search.results import DocumentInfo
from search.store import VectorStore


@dataclass(frozen=True)
class CollectionStats:
    """What the settings page shows about the collection."""

    engine: str
    documents: int
    chunks: int
    stored_bytes: int
    pages: int
    types: list[tuple[str, int]]
    dimension: int | None


class DocumentCatalog:
    """Reads (and deletes) documents of one store."""

    def __init__(self, store: VectorStore) -> None:
        self._store = store

    @property
    def engine(self) -> str:
        return self._store.engine

    def documents(self) -> list[DocumentInfo]:
        """All documents, newest first."""
        documents = [document_info(p) for p in self._store.scroll(DOCUMENTS_ONLY)]
        return sorted(documents, key=lambda d: d.ingested_at or "", reverse=True)

    def find(self, doc_id: str) -> DocumentInfo | None:
        records = self._store.retrieve([document_point_id(doc_id)])
        return document_info(records[0]) if records else None

    def get(self, doc_id: str) -> DocumentInfo:
        """Raises ``DocumentNotFoundError`` for an unknown id."""
        document = self.find(doc_id)
        if document is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r}")
        return document

    def named(self, filename: str | Sequence[str]) -> list[DocumentInfo]:
        """The documents stored under this name, or under any of these (normally one a name;
        more while a version replaces another, or when two different files of that name came
        in one run)."""
        return [document_info(p) for p in self._store.scroll(documents_where(filename=filename))]

    def delete(self, doc_id: str) -> DocumentInfo:
        """Remove the document point and every chunk of the document (not its original: the
        pipeline, which stores originals, deletes through ``IngestPipeline.delete``)."""
        document = self.get(doc_id)
        self._store.delete(all_points_of(doc_id))
        return document

    def count_documents(self) -> int:
        return self._store.count(DOCUMENTS_ONLY)

    def stats(self) -> CollectionStats:
        """Counts from the document points, the single source of truth."""
        stored = self.documents()
        info = self._store.collection_info()
        return CollectionStats(
            engine=self._store.engine,
            documents=self.count_documents(),
            chunks=self._store.count(CHUNKS_ONLY),
            stored_bytes=sum(d.bytes for d in stored),
            pages=sum(d.pages for d in stored),
            types=Counter(d.mime or "unknown" for d in stored).most_common(),
            dimension=info.dimension if info else None,
        )
