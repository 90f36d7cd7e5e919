"""The ingestion stages: load → chunk → embed → write, each a small object with a ``run``.

Each takes and returns the frozen values of ``ingest.models`` and raises what went wrong
(``IngestError``, ``EmbeddingError``) rather than deciding what a failure means for a run: that
is the runner's (``ingest.runner``), as is the order they are called in. The stages never call
back into the runner or the pipeline.

- ``LoadStage``: judge a file from its name, size and first bytes (``check``, once per file:
  ``IngestPipeline.accept`` does it for an upload), parse it, and decide whether it is indexed
  already as it is;
- ``ChunkStage``: cut the document into passages;
- ``EmbedStage``: vectors for a slice of texts, which may hold the chunks of several files;
- ``WriteStage``: write files to the store in the one order that keeps a search and a crash
  safe, and return what each replaced.

The write order, per file, each step durable before a later one can be: its document point
marked "processing", the removal of chunks an earlier, differently chunked version of the same
bytes left, its chunks, its original file (``ingest.originals``: atomic, file and folder
synced), its document point marked "done", and only then the removal of the older documents of
the same name that it replaces; their originals are deleted last, after the store's flush. So a
search never finds a document missing while its new version is written, a document is never
"done" without its chunks or its original (a crash before the "done" point leaves a
"processing" marker that ``ingest.recovery`` finds on the next start), and a removed older
version's file goes only once nothing points to it. The files of one ``WriteStage.run`` share one
store flush; the engine applies writes in order, so the "done" point is never on disk before
the chunks it follows.

Each file is written holding its document's lock (``ingest.doc_locks``), which
``IngestPipeline.delete`` holds too: a delete that comes while a file is written waits for it
and then deletes it, so nothing of it comes back.

An original that cannot be saved (the disk is full: ``StorageFullError``; or any other
``OSError``) fails that file alone: its chunks are removed, its document point is left "failed"
with the reason, as ``ingest.recovery`` leaves an interrupted write, and the run goes on with
the next file. A file found already indexed whose original is missing on disk (an older
version's crash, a file removed by hand) gets it back (``WriteStage.restore_original``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from ingest.chunking import ChunkingSettings, Tokenizer, chunk_document
from ingest.doc_locks import DocumentLocks
from ingest.errors import IngestError, StorageFullError, describe_exception
from ingest.loaders import check_upload, load_document, safe_filename
from ingest.models import (
    AlreadyIndexed,
    CheckedFile,
    Chunk,
    Chunked,
    Document,
    Embedded,
    Loaded,
    ReadFile,
    SourceFile,
    Stored,
    ToWrite,
)
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
    from embeddings.base import EmbeddingProvider, Vector
    from ingest.originals import OriginalFiles
    from search.collection import CollectionGuard
    from search.results import DocumentInfo
    from search.sparse import Bm25Encoder
    from search.store import VectorStore

log = logging.getLogger(__name__)

# The first bytes that judge a file's type (``check_upload``).
HEAD_BYTES = 4096
# Chunk points per store upsert.
UPSERT_BATCH = 256
#: What the load stage calls for a file found already indexed (``WriteStage.restore_original``).
RestoreOriginal = Callable[[CheckedFile, "DocumentInfo"], None]


def check_file(source: SourceFile, *, max_bytes: int) -> CheckedFile:
    """Judge a file before any work, under its safe name; raises ``RejectedFileError`` (or a
    subclass saying why). The one check of a file, shared by ingestion and the preview."""
    name = safe_filename(source.name)
    check_upload(name, len(source.data), source.data[:HEAD_BYTES], max_bytes=max_bytes)
    return CheckedFile(name, source.data, source.labels)


class LoadStage:
    """Check and parse a file, and tell a file already indexed as it is from one to write."""

    def __init__(
        self,
        store: VectorStore,
        *,
        chunking: ChunkingSettings,
        max_upload_bytes: int,
        restore_original: RestoreOriginal,
        read: ReadFile = load_document,
    ) -> None:
        """``read``: how bytes become a Document; the services pass ``IsolatedReader.load``,
        which reads in a worker process under a time and a memory limit.
        ``restore_original``: called for a file found already indexed, to put back its original
        when it is missing on disk (``WriteStage.restore_original``)."""
        self._catalog = DocumentCatalog(store)
        self._chunking = chunking
        self._max_upload_bytes = max_upload_bytes
        self._restore_original = restore_original
        self._read = read

    def check(self, source: SourceFile) -> CheckedFile:
        """Raises ``RejectedFileError``: empty, too large, a type semsearch does not read."""
        return check_file(source, max_bytes=self._max_upload_bytes)

    def run(self, file: CheckedFile) -> Loaded | AlreadyIndexed:
        """Parse the file (raises ``DocumentParseError``); ``AlreadyIndexed`` when its bytes are
        stored and done with the same labels and chunking.

        The same bytes with other labels are written again (their vectors come from the
        cache), so that a re-upload can correct a document's tags. An already indexed file's
        missing original is saved again (``StorageFullError`` when there is no room for it)."""
        document = self._read(file.name, file.data)
        existing = self._catalog.find(document.doc_id)
        if (
            existing is not None
            and existing.status == "done"
            and existing.tags == list(file.labels.tags)
            and existing.metadata == dict(file.labels.metadata)
            and existing.chunking in (None, _chunking_of(self._chunking))
        ):
            self._restore_original(file, existing)
            return AlreadyIndexed(document, existing.chunks)
        return Loaded(file, document)


class ChunkStage:
    """Cut a loaded document into passages sized in the model's tokens (``ingest.chunking``)."""

    def __init__(self, tokenizer: Tokenizer, chunking: ChunkingSettings) -> None:
        self._tokenizer = tokenizer
        self._chunking = chunking

    def run(self, loaded: Loaded) -> Chunked:
        chunks = chunk_document(loaded.document, self._tokenizer, self._chunking)
        return Chunked(loaded.file, loaded.document, tuple(chunks))


class EmbedStage:
    """Vectors for a slice of chunk texts. A slice is not one file's: short files share calls
    to the model, which pads less the more texts a call holds (``docs/benchmarks.md``)."""

    def __init__(self, embedder: EmbeddingProvider, guard: CollectionGuard) -> None:
        self._embedder = embedder
        self._guard = guard

    def ready(self) -> None:
        """Make sure the collection takes this model's vectors, before a file's chunks wait for
        them. May ask a remote provider its dimension (``EmbeddingError``); raises
        ``ModelMismatchError`` for a collection another model filled."""
        self._guard.ensure()

    def run(self, texts: Sequence[str]) -> list[Vector]:
        """One vector per text, in order; raises ``EmbeddingError``."""
        return self._embedder.embed_documents(list(texts))


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

        Each file holds its document's lock while it is written; the revision is bumped inside
        the flush, and the originals of the documents replaced are deleted last."""
        if not files:
            return []
        stored: list[Stored] = []
        replaced: list[DocumentInfo] = []
        with deferred_flush(self._store):
            for item in files:
                document = item.embedded.document
                with self._locks.hold(document.doc_id):
                    error = self._write(item.embedded)
                if error is not None:
                    stored.append(Stored(document=document, chunks=0, error=error))
                    continue
                older = self._replace_older(document) if item.replaces_older else []
                replaced.extend(older)
                stored.append(
                    Stored(
                        document=document,
                        chunks=len(item.embedded.chunks),
                        replaced=tuple(d.doc_id for d in older),
                    )
                )
            bump_revision(self._store)
        for stale in replaced:
            with self._locks.hold(stale.doc_id):
                if self._catalog.find(stale.doc_id) is None:  # not written again since
                    self._originals.delete(stale.doc_id, stale.filename)
        return stored

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

    def _write(self, file: Embedded) -> str | None:
        """Write one file (its lock held); why it failed, or None once it is "done"."""
        document, labels = file.document, file.file.labels
        owner = DocumentFields(
            doc_id=document.doc_id,
            filename=document.filename,
            title=document.title,
            mime=document.mime,
            ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
            tags=labels.tags,
            metadata=labels.metadata,
        )
        final = document_point(
            owner,
            pages=document.pages,
            chunks=len(file.chunks),
            size=document.size,
            dense=document_vector(file.chunks, file.vectors),
            chunking=_chunking_of(self._chunking),
        )
        marker = processing_marker(final)
        self._store.upsert([marker])
        # Chunks left over from an earlier, differently chunked version of the same bytes.
        self._store.delete(chunks_of(document.doc_id))
        points = [
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
            )
            for chunk, vector in zip(file.chunks, file.vectors, strict=True)
        ]
        for start in range(0, len(points), UPSERT_BATCH):
            self._store.upsert(points[start : start + UPSERT_BATCH])
        try:
            self._originals.save(document.doc_id, file.file.name, file.file.data)
        except (StorageFullError, OSError) as error:
            return self._fail(
                document.doc_id, marker, self._original_failure(file.file.name, error)
            )
        self._store.upsert([final])
        return None

    def _fail(self, doc_id: str, marker: StoredPoint, error: IngestError) -> str:
        """The original could not be saved, so the document must not be "done": its chunks go
        and its point stays "failed" with the reason, as an interrupted write is left."""
        log.warning("ingestion of %s failed: %s", error.filename, error.reason)
        self._store.delete(chunks_of(doc_id))
        self._store.upsert([failed_document(PointRecord(marker.id, marker.payload), error.reason)])
        return error.reason

    def _original_failure(self, name: str, error: StorageFullError | OSError) -> IngestError:
        if isinstance(error, StorageFullError):
            return error
        return IngestError(
            name,
            f"its original could not be saved in {self._originals.root}: "
            f"{describe_exception(error)}",
        )

    def _replace_older(self, document: Document) -> list[DocumentInfo]:
        """Delete the other documents stored under this file's name (older versions of it),
        each holding its own lock: one being written again now is waited for, then replaced."""
        older = [d for d in self._catalog.named(document.filename) if d.doc_id != document.doc_id]
        for stale in older:
            with self._locks.hold(stale.doc_id):
                log.info("%s replaces its older version %s", document.filename, stale.doc_id[:12])
                self._store.delete(all_points_of(stale.doc_id))
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


def _chunking_of(chunking: ChunkingSettings) -> dict[str, int]:
    """The settings a document was chunked with, as its document point records them: the same
    bytes ingested after the settings changed are chunked again."""
    return chunking_record(chunking.chunk_tokens, chunking.overlap_tokens)
