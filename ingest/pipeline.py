"""Ingestion as small typed stages: load → chunk → embed → store.

Writes happen only after every stage that can fail on the file itself has passed. A file is
written in a fixed order, each step durable before a later one can be: its document point
marked "processing", its chunks, its document point marked "done", and only then the removal
of an older document of the same name that it replaces. So a search never finds a document
missing while its new version is written, and a process killed mid-write leaves a
"processing" marker that ``ingest.recovery`` finds on the next start. ``ingest_many`` runs the
stages over many files and embeds their chunks together (``ingest.batched``); ``ingest`` is
that with one file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

import numpy as np

from embeddings.base import EmbeddingProvider, Vector
from embeddings.errors import EmbeddingError
from ingest.batched import (
    FilesProgress,
    IngestOutcome,
    Prepared,
    ProgressCallback,
    document_outcome,
    ingest_batched,
)
from ingest.chunking import ChunkingSettings, Tokenizer, chunk_document
from ingest.errors import IngestError
from ingest.loaders import check_upload, load_document, safe_filename
from ingest.models import Chunk, Document, Labels, SourceFile
from ingest.originals import OriginalFiles
from search.catalog import delete_document, find_by_filename, find_document
from search.collection import CollectionGuard
from search.results import DocumentInfo
from search.revision import bump_revision
from search.sparse import Bm25Encoder
from search.store import (
    StoredPoint,
    VectorStore,
    chunk_point_id,
    deferred_flush,
    document_point_id,
)

log = logging.getLogger(__name__)

# Texts per embedding call, across files. The model sorts each call's texts by length before
# batching them, so larger calls pad less: on Reuters chunks, calls of 64 ran about 20% slower
# than calls of 256 (docs/benchmarks.md). Progress advances once per call.
EMBED_SLICE = 256
UPSERT_BATCH = 256

__all__ = ["EMBED_SLICE", "FilesProgress", "IngestOutcome", "IngestPipeline", "ProgressCallback"]


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
        self,
        filename: str,
        data: bytes,
        *,
        labels: Labels | None = None,
        progress: ProgressCallback | None = None,
    ) -> IngestOutcome:
        """Run every stage for one file; file problems become a failed outcome, not an exception."""
        report = progress or (lambda stage, done, total: None)
        source = SourceFile(filename, data, labels or Labels())
        outcomes = self.ingest_many(
            [source], progress=lambda _, stage, done, total: report(stage, done, total)
        )
        return next(iter(outcomes))

    def ingest_many(
        self, files: Iterable[SourceFile], *, progress: FilesProgress | None = None
    ) -> Iterator[IngestOutcome]:
        """Ingest ``files`` (read lazily) with their chunks embedded together in batches of
        ``EMBED_SLICE`` texts across files; one outcome per file, in input order, each yielded
        only once the file is durably stored (see ``ingest.batched``). ``progress`` gets the
        file's position in ``files`` first."""
        return ingest_batched(self, files, slice_size=EMBED_SLICE, progress=progress)

    # -- stages, as ``ingest.batched.Stages`` ----------------------------------------------------

    def prepare(self, source: SourceFile, report: ProgressCallback) -> Prepared | IngestOutcome:
        """Check, load and chunk one file; an outcome instead when it failed or is indexed.

        The same bytes with other labels are written again (their vectors come from the
        cache), so that a re-upload can correct a document's tags."""
        name, data, labels = safe_filename(source.name), source.data, source.labels
        try:
            self.check(name, data)
            report("parsing", 0, 1)
            document = load_document(name, data)
            existing = find_document(self._store, document.doc_id)
            if (
                existing is not None
                and existing.status == "done"
                and existing.tags == list(labels.tags)
                and existing.metadata == dict(labels.metadata)
                and existing.chunking in (None, self._chunking_record())
            ):
                return document_outcome(document, "unchanged", existing.chunks)
            chunks = chunk_document(document, self._tokenizer, self._chunking)
            self._guard.ensure()  # may ask a remote provider its dimension: EmbeddingError
        except (IngestError, EmbeddingError) as error:
            reason = error.reason if isinstance(error, IngestError) else error.message
            log.warning("ingestion of %s failed: %s", name, reason)
            return IngestOutcome(filename=name, status="failed", error=reason)
        report("embedding", 0, len(chunks))
        return Prepared(name=name, data=data, document=document, chunks=list(chunks), labels=labels)

    def embed_texts(self, texts: list[str]) -> list[Vector]:
        return self._embedder.embed_documents(texts)

    def commit(self, files: Sequence[Prepared]) -> None:
        """Write each file (see the module docstring for the order) with a single store flush
        for all of them, then save the originals: a file is never listed as done before its
        chunks exist."""
        if not files:
            return
        replaced: list[DocumentInfo] = []
        with deferred_flush(self._store):
            for item in files:
                self._write(item)
                if item.replaces_older:
                    older = self._replace_older(item.document)
                    item.replaced = [d.doc_id for d in older]
                    replaced.extend(older)
            bump_revision(self._store)
        for item in files:
            self._originals.save(item.document.doc_id, item.name, item.data)
        for document in replaced:
            self._originals.delete(document.doc_id, document.filename)

    def delete(self, doc_id: str) -> DocumentInfo:
        """Remove the document's points and its stored original."""
        document = delete_document(self._store, doc_id)
        bump_revision(self._store)
        self._originals.delete(doc_id, document.filename)
        return document

    def _chunking_record(self) -> dict[str, int]:
        """The settings a document was chunked with, kept on its document point: the same bytes
        ingested after the settings changed are chunked again."""
        return {"tokens": self._chunking.chunk_tokens, "overlap": self._chunking.overlap_tokens}

    def _replace_older(self, document: Document) -> list[DocumentInfo]:
        """Delete the other documents stored under this file's name (older versions of it)."""
        older = [
            d
            for d in find_by_filename(self._store, document.filename)
            if d.doc_id != document.doc_id
        ]
        for stale in older:
            log.info("%s replaces its older version %s", document.filename, stale.doc_id[:12])
            delete_document(self._store, stale.doc_id)
        return older

    def _write(self, item: Prepared) -> None:
        document, chunks, vectors = item.document, item.chunks, item.vectors
        final = _document_point(document, chunks, vectors, item.labels)
        final.payload["chunking"] = self._chunking_record()
        marker = StoredPoint(id=final.id, payload={**final.payload, "status": "processing"})
        self._store.upsert([marker])
        # Chunks left over from an earlier, differently chunked version of the same bytes.
        self._store.delete({"doc_id": document.doc_id, "kind": "chunk"})
        common = {
            "doc_id": document.doc_id,
            "filename": document.filename,
            "title": document.title,
            "mime": document.mime,  # for file-type filters on passages
            "ingested_at": final.payload["ingested_at"],  # for date-range filters
            **item.labels.payload(),
        }
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
        self._store.upsert([final])


def _document_point(
    document: Document, chunks: Sequence[Chunk], vectors: list[Vector], labels: Labels
) -> StoredPoint:
    """The chunk vectors' mean weighted by each chunk's tokens, normalised, plus the metadata
    the document list shows.

    Weighted so that a short last chunk (a signature, a closing line) counts for its length,
    not as much as a full one. On the 20newsgroups sample of ``bench/quality.py`` (about two
    chunks per post), k-means at k = labels scored V-measure 0.628 on chunk vectors weighted by
    their length in characters against 0.619 on the plain mean (mean of 3 seeds; whole-post
    vectors 0.628); docs/quality.md has the harness's own figures.
    """
    weights = np.asarray([max(chunk.tokens, 1) for chunk in chunks], dtype=np.float32)
    mean = (np.asarray(vectors, dtype=np.float32) * weights[:, None]).sum(axis=0)
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
            **labels.payload(),
        },
    )
