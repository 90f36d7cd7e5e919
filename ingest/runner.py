"""The one runner: the ingestion stages over one file or many, chunks embedded across files.

Embedded file by file, a short document (one or two chunks, as most news articles or notes are)
gives the model a batch of one or two texts, and each file pays its own store flush; profiling
put half of the ingestion time there (``docs/benchmarks.md``). So the runner loads and chunks
files as it reads them, queues their chunks, and embeds the queue in slices of ``slice_size``
texts *across* files; a file is written once its last chunk has a vector, the files completed by
one slice are written with one store flush, and only then is each reported done. One file is
the same run with a one-file input.

The guarantees of file-by-file ingestion hold per file: nothing of a file is written before it
is checked, loaded, chunked and embedded (``ingest.write_stage`` has the write order); a file that
fails to check, load or chunk fails alone, whatever it raised (short of ``MemoryError`` and the
store's or collection's own errors, which stop the run): an unforeseen exception becomes that
file's failure, "could not be read: RecursionError: ...", logged with its traceback; an
embedding error fails only the files with a chunk in the slice that failed, unless it is one no
file can get past (a refused token, an unknown model, an endpoint unreachable after its retries:
``embeddings.errors.STOPS_INGESTION``), which stops the run with ``IngestStoppedError`` at the
first request that got it: no file more is sent or failed for it. Outcomes come back
in input order, each once its file is durable. Within one run the same bytes twice are written
once (the second is "unchanged"), and a second file of a name already written does not replace
the first.

The stage values are frozen; what changes while a run goes (which files wait, the vectors each
has so far, which failed) is this module's own bookkeeping, in ``_Run``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field

from embeddings.base import Vector
from embeddings.errors import STOPS_INGESTION, EmbeddingError
from inference.errors import SemsearchError
from ingest.chunking import embedding_text
from ingest.errors import IngestError, IngestStoppedError, RejectedFileError, UnreadableFileError
from ingest.models import (
    AlreadyIndexed,
    CheckedFile,
    Chunked,
    Embedded,
    FilesProgress,
    IngestFile,
    IngestOutcome,
    ProgressCallback,
    ToWrite,
)
from ingest.ocr import OCR_STAGE
from ingest.read_ahead import read_ahead
from ingest.stages import ChunkStage, EmbedStage, LoadStage, WriteStage

log = logging.getLogger(__name__)

# Texts per embedding call, across files. The model sorts each call's texts by length before
# batching them, so larger calls pad less: on Reuters chunks, calls of 64 ran about 20% slower
# than calls of 256 (docs/benchmarks.md). Progress advances once per call.
EMBED_SLICE = 256


class IngestRunner:
    """Runs the four stages it is given over files; knows nothing of who asked.

    ``run`` reads ``files`` lazily and yields one ``IngestOutcome`` per file, in input order. A
    ``CheckedFile`` is not judged again; a ``SourceFile`` is, and a rejected one becomes a failed
    outcome in its place. ``progress`` gets the file's position in ``files``, the stage
    ("parsing"; "OCR page" done/total pages read by OCR; "embedding" done/total chunks, after
    each slice; "storing") and its counts.

    With ``read_ahead`` threads (``ingest.read_ahead``), the next files are checked, loaded and
    chunked while the current slice embeds, a bounded number ahead; with 0, each when its turn
    comes. Either way the outcomes, their order and what stops a run are the same.
    """

    def __init__(
        self,
        *,
        load: LoadStage,
        chunk: ChunkStage,
        embed: EmbedStage,
        write: WriteStage,
        read_ahead: int = 0,
    ) -> None:
        self._load = load
        self._chunk = chunk
        self._embed = embed
        self._write = write
        self._read_ahead = read_ahead

    def run(
        self,
        files: Iterable[IngestFile],
        *,
        slice_size: int = EMBED_SLICE,
        progress: FilesProgress | None = None,
    ) -> Iterator[IngestOutcome]:
        if slice_size < 1:
            raise ValueError(f"slice_size must be at least 1, got {slice_size}")
        run = _Run(report=progress or _silent)
        prepared = read_ahead(
            files,
            lambda index, file: self._prepare(file, run.for_file(index)),
            workers=self._read_ahead,
            size=lambda file: len(file.data),
        )
        with closing(prepared):
            for index, item in enumerate(prepared):
                run.add(index, item)
                while len(run.queue) >= slice_size:
                    self._embed_slice(run, slice_size)
                yield from self._finish_ready(run)
        while run.queue:
            self._embed_slice(run, slice_size)
        yield from self._finish_ready(run)

    def _prepare(self, file: IngestFile, report: ProgressCallback) -> Chunked | IngestOutcome:
        """Check (when not checked yet), load and chunk one file; an outcome instead when it
        failed or is indexed already."""
        if not isinstance(file, CheckedFile):
            try:
                file = self._load.check(file)
            except RejectedFileError as error:
                return _failed(error.filename, error.reason)
        report("parsing", 0, 1)
        try:
            loaded = self._load.run(file, lambda done, total: report(OCR_STAGE, done, total))
            if isinstance(loaded, AlreadyIndexed):
                return IngestOutcome.of(loaded.document, "unchanged", loaded.chunks)
            chunked = self._chunk.run(loaded)
        except IngestError as error:
            return _failed(file.name, error.reason)
        except (SemsearchError, MemoryError):
            raise  # the store's or the process's trouble, not this file's: the run stops
        except Exception as error:  # a bug a file can trigger: that file fails, the run goes on
            log.exception("reading %s failed unexpectedly", file.name)
            return _failed(file.name, UnreadableFileError(file.name, error).reason)
        try:
            self._embed.ready()
        except EmbeddingError as error:
            return _failed_or_stop(file.name, error)
        report("embedding", 0, len(chunked.chunks))
        return chunked

    def _embed_slice(self, run: _Run, slice_size: int) -> None:
        """Embed the next ``slice_size`` queued chunks; an error fails the files they are of."""
        taken = run.take(slice_size)
        try:
            vectors = self._embed.run([text for _, text in taken])
        except STOPS_INGESTION as error:
            raise IngestStoppedError(error) from error
        except EmbeddingError as error:
            run.fail(taken, error.message)
            return
        run.add_vectors(taken, vectors)

    def _finish_ready(self, run: _Run) -> Iterator[IngestOutcome]:
        """Write the embedded files at the head of the input with one flush, then yield the
        outcomes up to the first file still waiting for vectors."""
        ready = run.ready()
        if not ready:
            return
        to_write: list[tuple[int, ToWrite]] = []
        for index in ready:
            item = run.complete(index)
            if item is not None:
                to_write.append((index, item))
                run.report(index, "storing", 0, len(item.embedded.chunks))
        stored = self._write.run([item for _, item in to_write])
        done = {
            index: s.outcome()  # "done", or failed when its original could not be saved
            for (index, _), s in zip(to_write, stored, strict=True)
        }
        for index in ready:
            run.order.popleft()
            outcome = done.get(index)
            if outcome is None:
                yield run.decided.pop(index)
                continue
            run.report(index, "storing", outcome.chunks, outcome.chunks)
            yield outcome


@dataclass
class _Run:
    """One run's bookkeeping, each file keyed by its position in the input."""

    report: FilesProgress
    order: deque[int] = field(default_factory=deque)  # files not yet yielded, in input order
    queue: deque[tuple[int, str]] = field(default_factory=deque)  # chunk texts with no vector
    waiting: dict[int, Chunked] = field(default_factory=dict)  # files waiting for vectors
    vectors: dict[int, list[Vector]] = field(default_factory=dict)  # their vectors so far
    decided: dict[int, IngestOutcome] = field(default_factory=dict)  # failed or unchanged
    written_ids: set[str] = field(default_factory=set)  # the same bytes again: "unchanged"
    written_names: set[str] = field(default_factory=set)  # the same name again: keep both

    def for_file(self, index: int) -> ProgressCallback:
        return lambda stage, done, total: self.report(index, stage, done, total)

    def add(self, index: int, prepared: Chunked | IngestOutcome) -> None:
        self.order.append(index)
        if isinstance(prepared, IngestOutcome):
            self.decided[index] = prepared
            return
        self.waiting[index] = prepared
        self.vectors[index] = []
        title = prepared.title_line
        self.queue.extend((index, embedding_text(title, chunk.text)) for chunk in prepared.chunks)

    def take(self, size: int) -> list[tuple[int, str]]:
        return [self.queue.popleft() for _ in range(min(size, len(self.queue)))]

    def add_vectors(self, taken: list[tuple[int, str]], vectors: list[Vector]) -> None:
        for (index, _), vector in zip(taken, vectors, strict=True):
            self.vectors[index].append(vector)
        for index in dict.fromkeys(index for index, _ in taken):
            total = len(self.waiting[index].chunks)
            self.report(index, "embedding", len(self.vectors[index]), total)

    def fail(self, taken: list[tuple[int, str]], error: str) -> None:
        """Fail the files with a chunk in ``taken`` and drop their other queued chunks."""
        failed = dict.fromkeys(index for index, _ in taken)
        for index in failed:
            name = self.waiting.pop(index).file.name
            del self.vectors[index]
            self.decided[index] = _failed(name, error)
        self.queue = deque((index, text) for index, text in self.queue if index not in failed)

    def ready(self) -> list[int]:
        """The files at the head of the input whose outcome needs no more vectors."""
        ready: list[int] = []
        for index in self.order:
            chunked = self.waiting.get(index)
            if chunked is not None and len(self.vectors[index]) < len(chunked.chunks):
                break
            ready.append(index)
        return ready

    def complete(self, index: int) -> ToWrite | None:
        """What to write for a ready file; None when there is nothing to: its outcome was
        decided already, or this run wrote the same bytes (then it is "unchanged")."""
        chunked = self.waiting.pop(index, None)
        if chunked is None:
            return None
        vectors = tuple(self.vectors.pop(index))
        if chunked.document.doc_id in self.written_ids:  # the same bytes twice in one run
            self.decided[index] = IngestOutcome.of(
                chunked.document, "unchanged", len(chunked.chunks)
            )
            return None
        self.written_ids.add(chunked.document.doc_id)
        replaces_older = chunked.file.name not in self.written_names
        self.written_names.add(chunked.file.name)
        embedded = Embedded(chunked.file, chunked.document, chunked.chunks, vectors)
        return ToWrite(embedded, replaces_older=replaces_older)


def _failed(filename: str, reason: str) -> IngestOutcome:
    log.warning("ingestion of %s failed: %s", filename, reason)
    return IngestOutcome.failure(filename, reason)


def _failed_or_stop(filename: str, error: EmbeddingError) -> IngestOutcome:
    """This file's failure, or the run's end when no file can get past ``error``."""
    if isinstance(error, STOPS_INGESTION):
        raise IngestStoppedError(error) from error
    return _failed(filename, error.message)


def _silent(index: int, stage: str, done: int, total: int) -> None:
    return None
