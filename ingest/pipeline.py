"""The ingestion facade the app and the CLI use: accept, ingest one file or many, delete.

``IngestPipeline`` builds the stages (``ingest.stages``: load → chunk → embed → write) and the
one runner that calls them (``ingest.runner``), and holds no ingestion logic of its own. Its
``accept`` is the one place an upload is judged: the API calls it to answer at once, and the
``CheckedFile`` it returns travels through the job and the upload spool to the runner, which
does not judge it again (a ``SourceFile`` handed in directly, as the CLI does, is judged there).

Its ``delete`` and the write stage share one lock per document (``ingest.doc_locks``): a delete
that comes while its document is being written waits for the write, then deletes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ingest.doc_locks import DocumentLocks
from ingest.loaders import load_document
from ingest.models import (
    CheckedFile,
    FilesProgress,
    IngestFile,
    IngestOutcome,
    ProgressCallback,
    ReadFile,
    SourceFile,
)
from ingest.runner import EMBED_SLICE, IngestRunner
from ingest.stages import ChunkStage, EmbedStage, LoadStage, WriteStage
from search.catalog import DocumentCatalog
from search.labels import Labels
from search.revision import bump_revision

if TYPE_CHECKING:
    from embeddings.base import EmbeddingProvider
    from ingest.chunking import ChunkingSettings, Tokenizer
    from ingest.originals import OriginalFiles
    from search.collection import CollectionGuard
    from search.results import DocumentInfo
    from search.sparse import Bm25Encoder
    from search.store import VectorStore

__all__ = ["IngestPipeline"]


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
        read: ReadFile = load_document,
        read_ahead: int = 0,
    ) -> None:
        """``read_ahead``: threads that load and chunk the next files while the current ones
        embed (``ingest.read_ahead``); worth it when ``read`` waits on another process, as
        ``IsolatedReader.load`` does, so the services pass one per reader process."""
        self._store = store
        self._catalog = DocumentCatalog(store)
        self._originals = originals
        self._locks = DocumentLocks()
        write = WriteStage(store, sparse, originals, chunking=chunking, locks=self._locks)
        self._load = LoadStage(
            store,
            chunking=chunking,
            max_upload_bytes=max_upload_bytes,
            restore_original=write.restore_original,
            read=read,
        )
        self._runner = IngestRunner(
            load=self._load,
            chunk=ChunkStage(tokenizer, chunking),
            embed=EmbedStage(embedder, guard),
            write=write,
            read_ahead=read_ahead,
        )

    def accept(self, source: SourceFile) -> CheckedFile:
        """Judge a file before any work, under its safe name; raises ``RejectedFileError`` (its
        subclass says why: empty, too large, unsupported)."""
        return self._load.check(source)

    def ingest(
        self,
        filename: str,
        data: bytes,
        *,
        labels: Labels | None = None,
        progress: ProgressCallback | None = None,
    ) -> IngestOutcome:
        """Run every stage for one file; file problems become a failed outcome, not an exception."""
        source = SourceFile(filename, data, labels or Labels())
        report = progress or (lambda stage, done, total: None)
        outcomes = self._runner.run(
            [source], progress=lambda _, stage, done, total: report(stage, done, total)
        )
        return next(outcomes)

    def ingest_many(
        self,
        files: Iterable[IngestFile],
        *,
        progress: FilesProgress | None = None,
        slice_size: int = EMBED_SLICE,
    ) -> Iterator[IngestOutcome]:
        """Ingest ``files`` (read lazily) with their chunks embedded together in slices of
        ``slice_size`` texts across files; one outcome per file, in input order, each yielded
        only once the file is durably stored (``ingest.runner``). ``progress`` gets the file's
        position in ``files`` first."""
        return self._runner.run(files, slice_size=slice_size, progress=progress)

    def delete(self, doc_id: str) -> DocumentInfo:
        """Remove the document's points and its stored original; raises
        ``DocumentNotFoundError``. Waits for a write of the same document in progress, then
        deletes what it wrote, so the document does not come back."""
        with self._locks.hold(doc_id):
            document = self._catalog.delete(doc_id)
            bump_revision(self._store)
            self._originals.delete(doc_id, document.filename)
        return document
