"""The typed values passed between ingestion stages, and what a run reports back.

A file goes ``SourceFile`` (as handed in) → ``CheckedFile`` (judged acceptable) → ``Loaded``
(or ``AlreadyIndexed``) → ``Chunked`` → ``Embedded`` → ``Stored``, and each file of a run ends
as one ``IngestOutcome``. All are frozen: a stage returns a new value instead of changing the
one it was given, so a value seen once stays true (``ingest.stages``, ``ingest.runner``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from embeddings.base import Vector
from search.labels import Labels

#: stage ("parsing", "embedding", "storing"), done, total
ProgressCallback = Callable[[str, int, int], None]
#: the file's position in the run's input, then as ``ProgressCallback``
FilesProgress = Callable[[int, str, int, int], None]
#: ``(done, total)`` pages read by OCR so far (``ingest.ocr``).
PageProgress = Callable[[int, int], None]


class ReadFile(Protocol):
    """How a file's bytes become a Document: ``ingest.loaders.load_document`` in this process,
    or ``ingest.isolation.IsolatedReader.load`` in a worker process with limits. ``progress``
    hears of each page read by OCR."""

    def __call__(
        self, filename: str, data: bytes, progress: PageProgress | None = None
    ) -> Document: ...


@dataclass(frozen=True)
class Section:
    """A run of text on one page under one heading.

    ``page`` is 1-based; formats without pages use 1. ``ocr``: the text was read from the
    page's image by OCR (``ingest.ocr``), not from a text layer.
    """

    text: str
    page: int = 1
    heading: str | None = None
    ocr: bool = False


@dataclass(frozen=True)
class Document:
    """A loaded file: its text by page/section, ready to chunk."""

    doc_id: str  # sha256 of the file's bytes
    filename: str
    title: str
    mime: str
    size: int
    pages: int
    sections: list[Section] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(section.text for section in self.sections)

    @property
    def ocr_pages(self) -> int:
        """How many of its pages were read by OCR."""
        return len({section.page for section in self.sections if section.ocr})


@dataclass(frozen=True)
class Chunk:
    """A passage small enough for the model, with what a hit needs to link back to its place."""

    index: int
    text: str
    page: int
    start: int  # character offsets into Document.text: text == document.text[start:end]
    end: int
    heading: str | None
    tokens: int
    ocr: bool = False  # its section's text came from OCR


@dataclass(frozen=True)
class SourceFile:
    """One file handed to ingestion: its name as the user gave it, its bytes, its labels."""

    name: str
    data: bytes
    labels: Labels = field(default_factory=Labels)


@dataclass(frozen=True)
class CheckedFile:
    """A file judged acceptable from its name, size and first bytes, under its safe name.

    Only ``IngestPipeline.accept`` (``ingest.stages.check_file``) makes one. It exists so that
    an upload is judged once: the API judges it to answer at once, and the job, the upload
    spool and the runner carry the verdict instead of judging the same bytes again.
    """

    name: str
    data: bytes
    labels: Labels = field(default_factory=Labels)


#: What a run takes: files not judged yet are checked by the runner first.
IngestFile = SourceFile | CheckedFile


@dataclass(frozen=True)
class Loaded:
    """A checked file parsed into a document, and not yet indexed as it is."""

    file: CheckedFile
    document: Document


@dataclass(frozen=True)
class AlreadyIndexed:
    """The load stage's answer for bytes stored already, with these labels and chunking."""

    document: Document
    chunks: int


@dataclass(frozen=True)
class Chunked:
    """A loaded file cut into passages, waiting for their vectors."""

    file: CheckedFile
    document: Document
    chunks: tuple[Chunk, ...]
    #: Put before each chunk's text when it is embedded (``ingest.chunking.embedding_text``).
    title_line: str = ""


@dataclass(frozen=True)
class Embedded:
    """A chunked file with one vector per chunk, in chunk order: ready to write."""

    file: CheckedFile
    document: Document
    chunks: tuple[Chunk, ...]
    vectors: tuple[Vector, ...]

    def __post_init__(self) -> None:
        if len(self.vectors) != len(self.chunks):
            raise ValueError(
                f"{self.file.name}: {len(self.vectors)} vectors for {len(self.chunks)} chunks"
            )


@dataclass(frozen=True)
class ToWrite:
    """A file for the write stage. ``replaces_older`` is False for the second of two different
    files of one name in a run (two ``report.pdf`` from different folders): the run keeps both
    rather than let one silently replace the other."""

    embedded: Embedded
    replaces_older: bool = True


@dataclass(frozen=True)
class Stored:
    """A file the write stage made durable; ``replaced`` are the ids of the older documents of
    the same name that it removed. ``error``: why it is not done after all (its original could
    not be saved, ``ingest.write_stage``): it failed alone, and its document point says why."""

    document: Document
    chunks: int
    replaced: tuple[str, ...] = ()
    error: str | None = None

    def outcome(self) -> IngestOutcome:
        """What the run reports for this file: "done", or "failed" with ``error``."""
        if self.error is not None:
            document = self.document
            return IngestOutcome(
                filename=document.filename,
                status="failed",
                doc_id=document.doc_id,
                error=self.error,
            )
        return IngestOutcome.of(self.document, "done", self.chunks, self.replaced)


@dataclass(frozen=True)
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

    @classmethod
    def of(
        cls,
        document: Document,
        status: Literal["done", "unchanged"],
        chunks: int,
        replaced: Sequence[str] = (),
    ) -> IngestOutcome:
        """The outcome of a file that loaded: written now, or found already indexed."""
        return cls(
            filename=document.filename,
            status=status,
            doc_id=document.doc_id,
            title=document.title,
            pages=document.pages,
            chunks=chunks,
            replaced=list(replaced),
        )

    @classmethod
    def failure(cls, filename: str, error: str) -> IngestOutcome:
        return cls(filename=filename, status="failed", error=error)
