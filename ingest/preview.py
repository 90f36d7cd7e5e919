"""How a file would be chunked, shown before anything is stored: the chunking preview.

Users tune chunk size and overlap by looking at the chunks they would get (Dify's "preview
chunks" step). The preview goes through ingestion's own front door (``ingest.stages.check_file``,
then ``load_document``) and its chunker, so what it shows, and every refusal, is exactly what
ingesting the file would do; it writes nothing anywhere and needs no store, so the
CLI can preview while a server holds the data folder.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field

from ingest.chunking import ChunkingSettings, Tokenizer, chunk_document
from ingest.loaders import load_document
from ingest.models import Chunk, ReadFile, SourceFile
from ingest.stages import check_file

DEFAULT_SHOWN = 5
MAX_SHOWN = 50


class ChunkingUsed(BaseModel):
    """The settings the preview used: the server's, or the request's overrides."""

    chunk_tokens: int
    overlap_tokens: int


class TokenStats(BaseModel):
    """Chunk sizes in model tokens (special tokens not included)."""

    min: int
    mean: float
    max: int


class PageChunks(BaseModel):
    page: int
    chunks: int


class PreviewChunk(BaseModel):
    """One chunk as it would be stored; ``start``/``end`` are offsets into the document text."""

    index: int
    page: int
    heading: str | None
    tokens: int
    start: int
    end: int
    text: str


class ChunkPreview(BaseModel):
    """What `POST /api/documents/preview` returns, and `semsearch ingest --dry-run --json`."""

    filename: str
    title: str
    mime: str
    doc_id: str = Field(description="The id the document would get: the sha256 of its bytes")
    bytes: int
    pages: int
    characters: int = Field(description="Characters of extracted text")
    chunks: int = Field(description="How many chunks ingesting it would store")
    chunking: ChunkingUsed
    tokens: TokenStats
    per_page: list[PageChunks] = Field(description="Chunks per page, pages with text only")
    first_chunks: list[PreviewChunk]


def chunking_with(
    base: ChunkingSettings, chunk_tokens: int | None = None, overlap_tokens: int | None = None
) -> ChunkingSettings:
    """``base`` with the overrides given; raises ``ValueError`` (ChunkingSettings' own message)
    when they do not fit together, e.g. an overlap not smaller than the chunk size."""
    return ChunkingSettings(
        chunk_tokens=base.chunk_tokens if chunk_tokens is None else chunk_tokens,
        overlap_tokens=base.overlap_tokens if overlap_tokens is None else overlap_tokens,
    )


def preview_file(
    filename: str,
    data: bytes,
    tokenizer: Tokenizer,
    chunking: ChunkingSettings,
    *,
    max_bytes: int,
    shown: int = DEFAULT_SHOWN,
    read: ReadFile = load_document,
) -> ChunkPreview:
    """Check, load and chunk one file as ingestion would, and describe the result.

    Raises what ingestion would: ``RejectedFileError`` (empty, too large, wrong type) and
    ``DocumentParseError`` (corrupt, encrypted, no extractable text, over a cap). ``read``: the
    server passes its ``IsolatedReader.load``, so a preview is read under the same limits as an
    upload; the CLI's dry run reads in its own process.
    """
    checked = check_file(SourceFile(filename, data), max_bytes=max_bytes)
    document = read(checked.name, checked.data)
    chunks = chunk_document(document, tokenizer, chunking)
    return ChunkPreview(
        filename=checked.name,
        title=document.title,
        mime=document.mime,
        doc_id=document.doc_id,
        bytes=document.size,
        pages=document.pages,
        characters=len(document.text),
        chunks=len(chunks),
        chunking=ChunkingUsed(
            chunk_tokens=chunking.chunk_tokens, overlap_tokens=chunking.overlap_tokens
        ),
        tokens=_token_stats(chunks),
        per_page=[
            PageChunks(page=page, chunks=count)
            for page, count in sorted(Counter(c.page for c in chunks).items())
        ],
        first_chunks=[_shown(chunk) for chunk in chunks[: max(0, shown)]],
    )


def _token_stats(chunks: list[Chunk]) -> TokenStats:
    sizes = [chunk.tokens for chunk in chunks]
    if not sizes:
        return TokenStats(min=0, mean=0.0, max=0)
    return TokenStats(min=min(sizes), mean=round(sum(sizes) / len(sizes), 1), max=max(sizes))


def _shown(chunk: Chunk) -> PreviewChunk:
    return PreviewChunk(
        index=chunk.index,
        page=chunk.page,
        heading=chunk.heading,
        tokens=chunk.tokens,
        start=chunk.start,
        end=chunk.end,
        text=chunk.text,
    )
