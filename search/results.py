"""The shapes the API returns; the CLI's `--json` prints exactly these.

They are pydantic models so FastAPI documents them at /docs and validates what goes out.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

DocumentStatus = Literal["queued", "processing", "paused", "done", "failed"]


class Passage(BaseModel):
    page: int
    chunk_index: int
    text: str
    snippet: str
    score: float
    ocr: bool = Field(False, description="Its text was read from the page's image by OCR")
    point_id: str = Field("", description="The passage's point: `/api/search/similar?point=`")
    rerank_score: float | None = Field(
        None, description="The reranker's score, when this passage was reranked"
    )


class Hit(BaseModel):
    """One passage; when results are grouped, the best passage of a document plus ``more``."""

    doc_id: str
    filename: str
    title: str
    page: int
    chunk_index: int
    text: str
    snippet: str
    score: float
    ocr: bool = Field(False, description="Its text was read from the page's image by OCR")
    point_id: str = Field("", description="The passage's point: `/api/search/similar?point=`")
    tags: list[str] = Field(default_factory=list, description="The document's tags")
    rerank_score: float | None = Field(
        None, description="The reranker's score, when this passage was reranked"
    )
    more: list[Passage] = Field(default_factory=list)


class SearchResponse(BaseModel):
    query: str
    mode: Literal["hybrid", "dense", "keyword"]
    took_ms: float
    results: list[Hit]
    reranked: bool = Field(
        False, description="The first passages are in the reranker's order (RERANK_PROVIDER)"
    )
    rerank_error: str | None = Field(
        None,
        description="Why the configured reranker did not rerank this search (the results are "
        "then in retrieval order)",
    )
    rerank_ms: float | None = Field(None, description="The time the reranker took")


class DocumentInfo(BaseModel):
    doc_id: str
    filename: str
    title: str
    pages: int
    chunks: int
    bytes: int
    mime: str = ""
    status: DocumentStatus
    error: str | None = None
    ingested_at: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    chunking: dict[str, int] | None = Field(
        None, description="The chunk size and overlap in tokens it was chunked with"
    )


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class ClusterDocument(BaseModel):
    """A central item of a cluster: a document, or at chunk level a passage of one."""

    doc_id: str
    filename: str
    title: str
    page: int | None = Field(None, description="Chunk level: the passage's page")
    chunk_index: int | None = Field(None, description="Chunk level: the passage's chunk")
    snippet: str | None = Field(None, description="Chunk level: the passage's opening words")


class Cluster(BaseModel):
    id: int
    label: str
    terms: list[str]
    size: int
    documents: list[ClusterDocument]


class MapPoint(BaseModel):
    doc_id: str
    x: float
    y: float
    cluster: int
    page: int | None = Field(None, description="Chunk level: the chunk's page")
    chunk_index: int | None = Field(None, description="Chunk level: the chunk's index")


class ClusterResponse(BaseModel):
    level: Literal["document", "chunk"] = "document"
    k: int
    k_chosen_by: Literal["silhouette", "user", "too few documents"]
    k_scores: dict[int, float] = Field(
        default_factory=dict, description="Automatic k: the silhouette of each candidate k"
    )
    clusters: list[Cluster]
    points: list[MapPoint]
    cached: bool = Field(False, description="Served from the cache (the collection is unchanged)")
