"""The typed values passed between ingestion stages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """A run of text on one page under one heading.

    ``page`` is 1-based; formats without pages use 1.
    """

    text: str
    page: int = 1
    heading: str | None = None


@dataclass
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


@dataclass(frozen=True)
class Labels:
    """What a user attaches to an upload: tags and free key/value metadata.

    They are stored on every chunk and on the document point, so a search can filter on them
    without a join. ``ingest.labels`` builds them from form fields and CLI options, checked.
    """

    tags: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, object]:
        return {"tags": list(self.tags), "meta": dict(self.metadata)}


@dataclass(frozen=True)
class SourceFile:
    """One file handed to ingestion: its name as the user gave it, its bytes, its labels."""

    name: str
    data: bytes
    labels: Labels = field(default_factory=Labels)
