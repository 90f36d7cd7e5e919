"""The write stage: the files one embedding slice completed, written in few store calls.

The write order, per file, each step durable before a later one can be: its document point
marked "processing", the removal of chunks an earlier, differently chunked version of the same
bytes left, its chunks, its original file (``ingest.originals``: atomic, file and folder
synced), its document point marked "done", and only then the removal of the older documents of
the same name that it replaces; their originals are deleted last, after the store's flush. So a
search never finds a document missing while its new version is written, a document is never
"done" without its chunks or its original (a crash before the "done" point leaves a
"processing" marker that ``ingest.recovery`` finds on the next start), and a removed older
version's file goes only once nothing points to it.

The files of one ``WriteStage.run`` take each step together: one upsert of all their markers,
one delete of their leftover chunks, their chunks in upserts of ``UPSERT_BATCH``, their
originals with one sync of the folder, one upsert of their "done" points, one lookup of the
older documents of their names, and one store flush for all. A short document has two or three
chunks, so written one by one each file cost four store calls and two folder syncs, about a
tenth of the time the model took to embed it (``docs/benchmarks.md``). The engine applies writes
in order, so a "done" point is never on disk before the chunks it follows.

The files are written holding their documents' locks (``ingest.doc_locks``), which
``IngestPipeline.delete`` holds too: a delete that comes while a file is written waits for the
write to end and then deletes it, so nothing of it comes back.

An original that cannot be saved (the disk is full: ``StorageFullError``; or any other
``OSError``) fails that file alone: its chunks are removed, its document point is left "failed"
with the reason, as ``ingest.recovery`` leaves an interrupted write, and the others are written.
A file found already indexed whose original is missing on disk (an older version's crash, a
file removed by hand) gets it back (``WriteStage.restore_original``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from ingest.chunking import ChunkingSettings
from ingest.doc_locks import DocumentLocks
from ingest.errors import IngestError, StorageFullError, describe_exception
from ingest.models import CheckedFile, Chunk, Document, Embedded, Stored, ToWrite
from search.catalog import DocumentCatalog
from search.points import (
    DocumentFields,
    all_points_of,
    chunk_point,
    chunking_record,
    chunks_of,
    document_point,
    failed_document,
    processing_marker,
)
from search.revision import bump_revision
from search.store import PointRecord, StoredPoint, deferred_flush

if TYPE_CHECKING:
    from embeddings.base import Vector
    from ingest.originals import OriginalFiles
    from search.results import DocumentInfo
    from search.sparse import Bm25Encoder
    from search.store import VectorStore

log = logging.getLogger(__name__)

# Chunk points per store upsert.
UPSERT_BATCH = 256


class WriteStage:
    """Write embedded files in the order of the module docstring; one store flush for all."""

    def __init__(
        self,
        store: VectorStore,
        sparse: Bm25Encoder,
        originals: OriginalFiles,
        *,
        chunking: ChunkingSettings,
        locks: DocumentLocks,
    ) -> None:
        """``locks``: the pipeline's, which its ``delete`` holds too (``ingest.doc_locks``)."""
        self._store = store
        self._catalog = DocumentCatalog(store)
        self._sparse = sparse
        self._originals = originals
        self._chunking = chunking
        self._locks = locks

    def run(self, files: Sequence[ToWrite]) -> list[Stored]:
        """Write ``files``, durable on return; one ``Stored`` per file, in order (with its
        ``error`` when its original could not be saved: that file alone failed).

        The files' locks are held while they are written; the revision is bumped inside the
        flush, and the originals of the documents replaced are deleted last."""
        if not files:
            return []
        documents = [item.embedded.document for item in files]
        with deferred_flush(self._store):
            with self._locks.hold_all(document.doc_id for document in documents):
                errors = self._write([item.embedded for item in files])
            replacing = [
                item.embedded.document
                for item, error in zip(files, errors, strict=True)
                if error is None and item.replaces_older
            ]
            older = self._replace_older(replacing, written={d.doc_id for d in documents})
            bump_revision(self._store)
        for stale in (stale for replaced in older.values() for stale in replaced):
            with self._locks.hold(stale.doc_id):
                if self._catalog.find(stale.doc_id) is None:  # not written again since
                    self._originals.delete(stale.doc_id, stale.filename)
        return [
            Stored(
                document=item.embedded.document,
                chunks=0 if error else len(item.embedded.chunks),
                replaced=tuple(d.doc_id for d in older.get(item.embedded.document.doc_id, [])),
                error=error,
            )
            for item, error in zip(files, errors, strict=True)
        ]

    def restore_original(self, file: CheckedFile, existing: DocumentInfo) -> None:
        """Save the original of a document found already indexed (``existing``, as the load
        stage found it) when it is missing on disk, under the name it is stored with. Only then
        does it take the document's lock and look again, doing nothing once the document is
        gone, so a delete in between wins; raises ``IngestError`` (``StorageFullError`` for a
        full disk) when the file cannot be saved."""
        if self._originals.path(existing.doc_id, existing.filename).exists():
            return  # the common case: no lock, no second lookup
        with self._locks.hold(existing.doc_id):
            stored = self._catalog.find(existing.doc_id)
            if stored is None or stored.status != "done":
                return  # deleted, or failed by a write that came first
            if self._originals.path(stored.doc_id, stored.filename).exists():
                return
            log.warning("%s: its original was missing on disk; saving it again", file.name)
            try:
                self._originals.save(stored.doc_id, stored.filename, file.data)
            except (StorageFullError, OSError) as error:
                raise self._original_failure(file.name, error) from error

    def _write(self, files: Sequence[Embedded]) -> list[str | None]:
        """Write these files (their locks held), each step for all of them at once; for each,
        why it failed, or None once it is "done"."""
        owners = [self._owner(file) for file in files]
        finals = [self._document_point(o, f) for o, f in zip(owners, files, strict=True)]
        markers = [processing_marker(final) for final in finals]
        self._store.upsert(markers)
        # Chunks left over from an earlier, differently chunked version of the same bytes.
        self._store.delete(chunks_of([file.document.doc_id for file in files]))
        points = [
            point
            for owner, file in zip(owners, files, strict=True)
            for point in self._chunk_points(owner, file)
        ]
        for start in range(0, len(points), UPSERT_BATCH):
            self._store.upsert(points[start : start + UPSERT_BATCH])
        errors = [self._save_original(file) for file in files]
        self._originals.sync()  # before any "done" point: each original is on disk first
        failed = [
            (file, marker, error)
            for file, marker, error in zip(files, markers, errors, strict=True)
            if error is not None
        ]
        if failed:
            self._store.delete(chunks_of([file.document.doc_id for file, _, _ in failed]))
            self._store.upsert(
                [failed_document(PointRecord(m.id, m.payload), error) for _, m, error in failed]
            )
        self._store.upsert(
            [final for final, error in zip(finals, errors, strict=True) if error is None]
        )
        return errors

    def _document_point(self, owner: DocumentFields, file: Embedded) -> StoredPoint:
        """The file's document point as it is once "done"."""
        return document_point(
            owner,
            pages=file.document.pages,
            chunks=len(file.chunks),
            size=file.document.size,
            dense=document_vector(file.chunks, file.vectors),
            chunking=chunking_of(self._chunking),
        )

    def _chunk_points(self, owner: DocumentFields, file: Embedded) -> list[StoredPoint]:
        return [
            chunk_point(
                owner,
                index=chunk.index,
                text=chunk.text,
                page=chunk.page,
                start=chunk.start,
                end=chunk.end,
                heading=chunk.heading,
                dense=vector,
                sparse=self._sparse.embed_document(chunk.text),
                ocr=chunk.ocr,
            )
            for chunk, vector in zip(file.chunks, file.vectors, strict=True)
        ]

    @staticmethod
    def _owner(file: Embedded) -> DocumentFields:
        """What every point of the file carries."""
        document, labels = file.document, file.file.labels
        return DocumentFields(
            doc_id=document.doc_id,
            filename=document.filename,
            title=document.title,
            mime=document.mime,
            ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
            tags=labels.tags,
            metadata=labels.metadata,
        )

    def _save_original(self, file: Embedded) -> str | None:
        """Save the file's original, its folder's sync left to the caller; why it could not be
        (the file then fails alone), or None."""
        try:
            self._originals.save(file.document.doc_id, file.file.name, file.file.data, sync=False)
        except (StorageFullError, OSError) as error:
            failure = self._original_failure(file.file.name, error)
            log.warning("ingestion of %s failed: %s", failure.filename, failure.reason)
            return failure.reason
        return None

    def _original_failure(self, name: str, error: StorageFullError | OSError) -> IngestError:
        if isinstance(error, StorageFullError):
            return error
        return IngestError(
            name,
            f"its original could not be saved in {self._originals.root}: "
            f"{describe_exception(error)}",
        )

    def _replace_older(
        self, documents: Sequence[Document], *, written: set[str]
    ) -> dict[str, list[DocumentInfo]]:
        """Delete the other documents stored under these files' names (older versions of them),
        each holding its own lock: one being written again now is waited for, then replaced.
        None of ``written`` (this run's files: two different files of one name are both kept)
        is deleted. The documents each file replaced, by its ``doc_id``."""
        if not documents:
            return {}
        by_name = {document.filename: document.doc_id for document in documents}
        older: dict[str, list[DocumentInfo]] = {}
        for stale in self._catalog.named(list(by_name)):
            if stale.doc_id in written:
                continue
            with self._locks.hold(stale.doc_id):
                newer = by_name[stale.filename]
                log.info("%s replaces its older version %s", stale.filename, stale.doc_id[:12])
                self._store.delete(all_points_of(stale.doc_id))
            older.setdefault(newer, []).append(stale)
        return older


def document_vector(chunks: Sequence[Chunk], vectors: Sequence[Vector]) -> list[float] | None:
    """The chunk vectors' mean weighted by each chunk's tokens, normalised (None for a zero
    mean).

    Weighted so that a short last chunk (a signature, a closing line) counts for its length,
    not as much as a full one. On the 20newsgroups sample of ``bench/quality.py`` (about two
    chunks per post), k-means at k = labels scored V-measure 0.628 on chunk vectors weighted by
    their length in characters against 0.619 on the plain mean (mean of 3 seeds; whole-post
    vectors 0.628); docs/quality.md has the harness's own figures.
    """
    weights = np.asarray([max(chunk.tokens, 1) for chunk in chunks], dtype=np.float32)
    mean = (np.asarray(vectors, dtype=np.float32) * weights[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).tolist() if norm > 0 else None


def chunking_of(chunking: ChunkingSettings) -> dict[str, int]:
    """The settings a document was chunked with, as its document point records them: the same
    bytes ingested after the settings changed are chunked again (``LoadStage`` compares)."""
    return chunking_record(chunking.chunk_tokens, chunking.overlap_tokens)
