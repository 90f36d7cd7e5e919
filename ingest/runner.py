"""Ingesting many files in one run: the chunks of several files share embedding batches.

Embedded file by file, a short document (one or two chunks, as most news articles or notes are)
gives the model a batch of one or two texts, and each file pays its own store flush; profiling
put half of the ingestion time there (``docs/benchmarks.md``). Here the chunks of consecutive
files are queued and embedded in slices of ``slice_size`` texts *across* files; a file is
written once its last chunk has a vector, the files completed by one slice are flushed to the
store together, and only then is each reported done.

The guarantees of single-file ingestion hold per file: nothing of a file is written before it
is loaded, chunked and embedded; its chunks go first and its document point last; a file that
fails to load or chunk fails alone; an embedding error fails only the files with a chunk in the
slice that failed. Outcomes come back in input order.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from embeddings.base import Vector
from embeddings.errors import EmbeddingError
from ingest.models import Chunk, Document, Labels, SourceFile

log = logging.getLogger(__name__)

# stage ("parsing", "embedding", "storing"), done, total
ProgressCallback = Callable[[str, int, int], None]
# the file's position in the input, then as ProgressCallback
FilesProgress = Callable[[int, str, int, int], None]


@dataclass
class IngestOutcome:
    """What happened to one file. ``status`` "unchanged" means it was already indexed;
    ``replaced`` lists the ids of older documents of the same name that it replaced."""

    filename: str
    status: Literal["done", "failed", "unchanged"]
    doc_id: str | None = None
    title: str = ""
    pages: int = 0
    chunks: int = 0
    error: str | None = None
    replaced: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """A file that is loaded and chunked and waits for its vectors (``data`` is kept for the
    stored original, which is written after the points).

    ``replaces_older`` is cleared for the second of two different files with the same name in
    one run (two ``report.pdf`` from different folders): the run keeps both rather than let one
    silently replace the other.
    """

    name: str
    data: bytes
    document: Document
    chunks: list[Chunk]
    labels: Labels = field(default_factory=Labels)
    vectors: list[Vector] = field(default_factory=list)
    replaces_older: bool = True
    replaced: list[str] = field(default_factory=list)

    @property
    def embedded(self) -> bool:
        return len(self.vectors) == len(self.chunks)


class Stages(Protocol):
    """What the batched run needs from the pipeline (``IngestPipeline`` provides it)."""

    def prepare(self, source: SourceFile, report: ProgressCallback) -> Prepared | IngestOutcome:
        """Check, load and chunk; an outcome when the file failed or is already indexed."""
        ...

    def embed_texts(self, texts: list[str]) -> list[Vector]: ...

    def commit(self, files: Sequence[Prepared]) -> None:
        """Write each file's chunks then its document point, durable on return, then remove
        the older documents it replaces, then save the stored originals."""
        ...


@dataclass
class _Slot:
    index: int
    item: Prepared | IngestOutcome


def ingest_batched(
    stages: Stages,
    files: Iterable[SourceFile],
    *,
    slice_size: int,
    progress: FilesProgress | None = None,
) -> Iterator[IngestOutcome]:
    """Run every stage over ``files`` (read lazily), yielding one outcome per file in order."""
    report = progress or (lambda index, stage, done, total: None)
    slots: deque[_Slot] = deque()  # files not yet yielded, in input order
    waiting: deque[tuple[_Slot, Chunk]] = deque()  # chunks without a vector yet
    written = _Written()
    for index, source in enumerate(files):
        slot = _Slot(index, stages.prepare(source, _for_file(report, index)))
        slots.append(slot)
        if isinstance(slot.item, Prepared):
            waiting.extend((slot, chunk) for chunk in slot.item.chunks)
        while len(waiting) >= slice_size:
            _embed_slice(stages, waiting, slice_size, report)
        yield from _finish_ready(stages, slots, written, report)
    while waiting:
        _embed_slice(stages, waiting, slice_size, report)
    yield from _finish_ready(stages, slots, written, report)


def _for_file(report: FilesProgress, index: int) -> ProgressCallback:
    return lambda stage, done, total: report(index, stage, done, total)


def _embed_slice(
    stages: Stages,
    waiting: deque[tuple[_Slot, Chunk]],
    slice_size: int,
    report: FilesProgress,
) -> None:
    """Embed the next ``slice_size`` waiting chunks; on an embedding error, fail their files
    and drop those files' other waiting chunks."""
    taken = [waiting.popleft() for _ in range(min(slice_size, len(waiting)))]
    live = [(slot, chunk) for slot, chunk in taken if isinstance(slot.item, Prepared)]
    if not live:
        return
    try:
        vectors = stages.embed_texts([chunk.text for _, chunk in live])
    except EmbeddingError as error:
        failed = {id(slot) for slot, _ in live}
        for slot, _ in live:
            if isinstance(slot.item, Prepared):
                log.warning("ingestion of %s failed: %s", slot.item.name, error.message)
                slot.item = IngestOutcome(
                    filename=slot.item.name, status="failed", error=error.message
                )
        kept = [(slot, chunk) for slot, chunk in waiting if id(slot) not in failed]
        waiting.clear()
        waiting.extend(kept)
        return
    touched: dict[int, _Slot] = {}
    for (slot, _), vector in zip(live, vectors, strict=True):
        assert isinstance(slot.item, Prepared)
        slot.item.vectors.append(vector)
        touched[id(slot)] = slot
    for slot in touched.values():
        assert isinstance(slot.item, Prepared)
        report(slot.index, "embedding", len(slot.item.vectors), len(slot.item.chunks))


@dataclass
class _Written:
    """What this run has written: a repeat of the same bytes is "unchanged", and a second file
    with a name already written does not replace the first."""

    doc_ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)


def _finish_ready(
    stages: Stages, slots: deque[_Slot], written: _Written, report: FilesProgress
) -> Iterator[IngestOutcome]:
    """Write the embedded files at the head of the queue with one flush, then yield outcomes
    up to the first file still waiting for vectors."""
    ready: list[_Slot] = []
    for slot in slots:
        if isinstance(slot.item, Prepared) and not slot.item.embedded:
            break
        ready.append(slot)
    if not ready:
        return
    to_write: list[_Slot] = []
    for slot in ready:
        item = slot.item
        if not isinstance(item, Prepared):
            continue
        if item.document.doc_id in written.doc_ids:  # the same bytes twice in one run
            slot.item = _outcome(item, "unchanged")
            continue
        written.doc_ids.add(item.document.doc_id)
        item.replaces_older = item.name not in written.names
        written.names.add(item.name)
        to_write.append(slot)
        report(slot.index, "storing", 0, len(item.chunks))
    stages.commit([s.item for s in to_write if isinstance(s.item, Prepared)])
    for slot in ready:
        slots.popleft()
        item = slot.item
        if isinstance(item, Prepared):
            report(slot.index, "storing", len(item.chunks), len(item.chunks))
            outcome = _outcome(item, "done")
            outcome.replaced = item.replaced
            yield outcome
        else:
            yield item


def _outcome(item: Prepared, status: Literal["done", "unchanged"]) -> IngestOutcome:
    return document_outcome(item.document, status, len(item.chunks))


def document_outcome(
    document: Document, status: Literal["done", "unchanged"], chunks: int
) -> IngestOutcome:
    """The outcome of a file that loaded: written now, or found already indexed."""
    return IngestOutcome(
        filename=document.filename,
        status=status,
        doc_id=document.doc_id,
        title=document.title,
        pages=document.pages,
        chunks=chunks,
    )
