"""The typed values passed between ingestion stages."""

from __future__ import annotations

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
