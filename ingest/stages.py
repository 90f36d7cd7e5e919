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
- ``WriteStage`` (``ingest.write_stage``): write the files one slice completed to the store in
  the one order that keeps a search and a crash safe, and return what each replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ingest.chunking import ChunkingSettings, Tokenizer, chunk_document, title_line
from ingest.loaders import check_upload, load_document, safe_filename
from ingest.models import (
    AlreadyIndexed,
    CheckedFile,
    Chunked,
    Loaded,
    PageProgress,
    ReadFile,
    SourceFile,
)
from ingest.write_stage import WriteStage, chunking_of
from search.catalog import DocumentCatalog

if TYPE_CHECKING:
    from embeddings.base import EmbeddingProvider, Vector
    from search.collection import CollectionGuard
    from search.results import DocumentInfo
    from search.store import VectorStore

__all__ = ["ChunkStage", "EmbedStage", "LoadStage", "WriteStage", "check_file"]

# The first bytes that judge a file's type (``check_upload``).
HEAD_BYTES = 4096
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

    def run(
        self, file: CheckedFile, progress: PageProgress | None = None
    ) -> Loaded | AlreadyIndexed:
        """Parse the file (raises ``DocumentParseError``); ``AlreadyIndexed`` when its bytes are
        stored and done with the same labels and chunking.

        The same bytes with other labels are written again (their vectors come from the
        cache), so that a re-upload can correct a document's tags. An already indexed file's
        missing original is saved again (``StorageFullError`` when there is no room for it).
        ``progress`` hears of each page read by OCR."""
        document = self._read(file.name, file.data, progress)
        existing = self._catalog.find(document.doc_id)
        if (
            existing is not None
            and existing.status == "done"
            and existing.tags == list(file.labels.tags)
            and existing.metadata == dict(file.labels.metadata)
            and existing.chunking in (None, chunking_of(self._chunking))
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
        title = title_line(loaded.document.title, self._tokenizer, self._chunking)
        return Chunked(loaded.file, loaded.document, tuple(chunks), title)


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
