"""The shapes the API returns; the CLI's `--json` prints exactly these.

They are pydantic models so FastAPI documents them at /docs and validates what goes out.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

DocumentStatus = Literal["queued", "processing", "done", "failed"]


class Passage(BaseModel):
    page: int
    chunk_index: int
    text: str
    snippet: str
    score: float


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
    tags: list[str] = Field(default_factory=list, description="The document's tags")
    more: list[Passage] = Field(default_factory=list)


class SearchResponse(BaseModel):
    query: str
    mode: Literal["hybrid", "dense", "keyword"]
    took_ms: float
    results: list[Hit]


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
    doc_id: str
    filename: str
    title: str


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


class ClusterResponse(BaseModel):
    k: int
    k_chosen_by: Literal["silhouette", "user", "too few documents"]
    clusters: list[Cluster]
    points: list[MapPoint]
