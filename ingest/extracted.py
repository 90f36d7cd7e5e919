"""What a format loader hands back: the parts of a Document that depend on the format."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.models import Section


@dataclass
class Extracted:
    """A loader's result; ``load_document`` adds the id, the name, the MIME type and the size."""

    title: str
    pages: int = 1
    sections: list[Section] = field(default_factory=list)
