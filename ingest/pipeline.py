"""Ingestion as small typed stages: load → chunk → embed → store.

Writes happen only after every stage that can fail on the file itself has passed, and the
document point (what lists the document) is written after its chunks, so a failure never leaves
a half-ingested document in the list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from embeddings.base import EmbeddingProvider, Vector
from embeddings.errors import EmbeddingError
from ingest.chunking import ChunkingSettings, Tokenizer, chunk_document
from ingest.errors import IngestError
from ingest.loaders import check_upload, load_document, safe_filename
from ingest.models import Chunk, Document
from ingest.originals import OriginalFiles
from search.catalog import delete_document, find_document
from search.collection import CollectionGuard
from search.results import DocumentInfo
from search.sparse import Bm25Encoder
from search.store import StoredPoint, VectorStore, chunk_point_id, document_point_id

log = logging.getLogger(__name__)

# stage ("parsing", "embedding", "storing"), done, total
ProgressCallback = Callable[[str, int, int], None]
EMBED_SLICE = 64
UPSERT_BATCH = 256


@dataclass
class IngestOutcome:
    """What happened to one file. ``status`` "unchanged" means it was already indexed."""

    filename: str
    status: Literal["done", "failed", "unchanged"]
    doc_id: str | None = None
    title: str = ""
    pages: int = 0
    chunks: int = 0
    error: str | None = None


class IngestPipeline:
    def __init__(
        self,
        *,
        store: VectorStore,
        embedder: EmbeddingProvider,
        tokenizer: Tokenizer,
        sparse: Bm25Encoder,
        chunking: ChunkingSettings,
        originals: OriginalFiles,
        guard: CollectionGuard,
        max_upload_bytes: int,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._tokenizer = tokenizer
        self._sparse = sparse
        self._chunking = chunking
        self._originals = originals
        self._guard = guard
        self._max_upload_bytes = max_upload_bytes

    def check(self, filename: str, data: bytes) -> str:
        """Judge a file before any work (raises ``RejectedFileError``); returns its safe name."""
        name = safe_filename(filename)
        check_upload(name, len(data), data[:4096], max_bytes=self._max_upload_bytes)
        return name

    def ingest(
        self, filename: str, data: bytes, *, progress: ProgressCallback | None = None
    ) -> IngestOutcome:
        """Run every stage for one file; file problems become a failed outcome, not an exception."""
        report = progress or (lambda stage, done, total: None)
        name = safe_filename(filename)
        try:
            self.check(name, data)
            report("parsing", 0, 1)
            document = load_document(name, data)
            existing = find_document(self._store, document.doc_id)
            if existing is not None and existing.status == "done":
                return _outcome(document, "unchanged", existing.chunks)
            chunks = chunk_document(document, self._tokenizer, self._chunking)
            self._guard.ensure()
            vectors = self._embed(chunks, report)
            report("storing", 0, len(chunks))
            self._write(document, chunks, vectors)
            self._originals.save(document.doc_id, name, data)
        except (IngestError, EmbeddingError) as error:
            reason = error.reason if isinstance(error, IngestError) else error.message
            log.warning("ingestion of %s failed: %s", name, reason)
            return IngestOutcome(filename=name, status="failed", error=reason)
        report("storing", len(chunks), len(chunks))
        return _outcome(document, "done", len(chunks))

    def delete(self, doc_id: str) -> DocumentInfo:
        """Remove the document's points and its stored original."""
        document = delete_document(self._store, doc_id)
        self._originals.delete(doc_id, document.filename)
        return document

    def _embed(self, chunks: Sequence[Chunk], report: ProgressCallback) -> list[Vector]:
        vectors: list[Vector] = []
        report("embedding", 0, len(chunks))
        for start in range(0, len(chunks), EMBED_SLICE):
            batch = chunks[start : start + EMBED_SLICE]
            vectors.extend(self._embedder.embed_documents([c.text for c in batch]))
            report("embedding", len(vectors), len(chunks))
        return vectors

    def _write(self, document: Document, chunks: Sequence[Chunk], vectors: list[Vector]) -> None:
        # Chunks left over from an earlier, differently chunked version of the same bytes.
        self._store.delete({"doc_id": document.doc_id})
        common = {"doc_id": document.doc_id, "filename": document.filename, "title": document.title}
        points = [
            StoredPoint(
                id=chunk_point_id(document.doc_id, chunk.index),
                dense=vector,
                sparse=self._sparse.embed_document(chunk.text),
                payload={
                    **common,
                    "kind": "chunk",
                    "chunk_index": chunk.index,
                    "text": chunk.text,
                    "page": chunk.page,
                    "start": chunk.start,
                    "end": chunk.end,
                    "heading": chunk.heading,
                },
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        for start in range(0, len(points), UPSERT_BATCH):
            self._store.upsert(points[start : start + UPSERT_BATCH])
        self._store.upsert([_document_point(document, chunks, vectors)])


def _document_point(
    document: Document, chunks: Sequence[Chunk], vectors: list[Vector]
) -> StoredPoint:
    """The normalised mean of the chunk vectors plus the metadata the document list shows."""
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return StoredPoint(
        id=document_point_id(document.doc_id),
        dense=(mean / norm).tolist() if norm > 0 else None,
        payload={
            "kind": "document",
            "doc_id": document.doc_id,
            "filename": document.filename,
            "title": document.title,
            "pages": document.pages,
            "chunks": len(chunks),
            "bytes": document.size,
            "mime": document.mime,
            "status": "done",
            "error": None,
            "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def _outcome(
    document: Document, status: Literal["done", "unchanged"], chunks: int
) -> IngestOutcome:
    return IngestOutcome(
        filename=document.filename,
        status=status,
        doc_id=document.doc_id,
        title=document.title,
        pages=document.pages,
        chunks=chunks,
    )
