"""The query path: embed the query, ask the store, group passages per document, add snippets."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from embeddings.base import EmbeddingProvider
from ingest.labels import build_labels
from search.collection import CollectionGuard
from search.results import Hit, Passage, SearchResponse
from search.snippets import make_snippet
from search.sparse import Bm25Encoder
from search.store import ScoredHit, SearchMode, VectorStore, WhereValue

MAX_K = 100
# Passages kept under a grouped hit, after its best one.
MORE_PER_DOCUMENT = 2
# Grouping happens over an over-fetched flat result: this many passages per wanted document.
GROUP_OVERFETCH = 8
# The most passages one grouped query reads while looking for k documents.
MAX_GROUP_FETCH = 2000
MAX_QUERY_CHARS = 2000


class SearchService:
    """Dense, keyword or hybrid search over chunk points, grouped per document by default."""

    def __init__(
        self,
        store: VectorStore,
        embedder: EmbeddingProvider,
        sparse: Bm25Encoder,
        guard: CollectionGuard,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._sparse = sparse
        self._guard = guard

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        mode: SearchMode = "hybrid",
        group: bool = True,
        doc_id: str | None = None,
        tags: Sequence[str] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> SearchResponse:
        """Search chunk points, narrowed by the filters given.

        ``tags``: a document with ANY of them matches (a tag picks a topic; asking for two
        widens the search, as ticking two boxes does). ``metadata``: ALL pairs must match,
        exactly. Both are normalised as at upload (``ingest.labels``: tags lower-cased), and
        bad ones raise ``InvalidLabelsError``, before any work.
        """
        started = time.perf_counter()
        labels = build_labels(tags=tags, metadata=metadata)
        query = " ".join(query.split())[:MAX_QUERY_CHARS]
        k = max(1, min(k, MAX_K))
        results: list[Hit] = []
        if query and not self._guard.is_empty():
            # Refuses to mix models: a collection filled by another model raises here.
            self._guard.ensure()
            where: dict[str, WhereValue] = {"kind": "chunk"}
            if doc_id:
                where["doc_id"] = doc_id
            if labels.tags:
                where["tags"] = list(labels.tags)
            # Keys are checked to hold no dots, so each is one level under ``meta``.
            where.update({f"meta.{key}": value for key, value in labels.metadata.items()})
            dense = self._embedder.embed_query(query) if mode != "keyword" else None
            sparse = self._sparse.embed_query(query) if mode != "dense" else None

            def fetch(limit: int) -> list[ScoredHit]:
                return self._store.query(
                    mode=mode, dense=dense, sparse=sparse, limit=limit, where=where
                )

            if group:
                results = _grouped_search(fetch, query, k)
            else:
                results = [_hit(s, query) for s in fetch(k)]
        took_ms = round((time.perf_counter() - started) * 1000, 2)
        return SearchResponse(query=query, mode=mode, took_ms=took_ms, results=results)


def _grouped_search(fetch: Callable[[int], list[ScoredHit]], query: str, k: int) -> list[Hit]:
    """Group an over-fetched flat result; fetch more while one long document crowds out others."""
    limit = k * GROUP_OVERFETCH
    while True:
        scored = fetch(limit)
        hits = _grouped(scored, query, k)
        if len(hits) >= k or len(scored) < limit or limit >= MAX_GROUP_FETCH:
            return hits
        limit = min(limit * 4, MAX_GROUP_FETCH)


def _grouped(scored: list[ScoredHit], query: str, k: int) -> list[Hit]:
    """One hit per document (its best passage), in the order of each document's best score."""
    by_doc: dict[str, Hit] = {}
    for point in scored:
        doc_id = str(point.payload.get("doc_id", ""))
        best = by_doc.get(doc_id)
        if best is None:
            if len(by_doc) < k:
                by_doc[doc_id] = _hit(point, query)
        elif len(best.more) < MORE_PER_DOCUMENT:
            best.more.append(_passage(point, query))
    return list(by_doc.values())


def _passage(point: ScoredHit, query: str) -> Passage:
    payload: dict[str, Any] = point.payload
    text = str(payload.get("text", ""))
    return Passage(
        page=int(payload.get("page", 1)),
        chunk_index=int(payload.get("chunk_index", 0)),
        text=text,
        snippet=make_snippet(text, query),
        score=round(point.score, 6),
    )


def _hit(point: ScoredHit, query: str) -> Hit:
    passage = _passage(point, query)
    return Hit(
        doc_id=str(point.payload.get("doc_id", "")),
        filename=str(point.payload.get("filename", "")),
        title=str(point.payload.get("title", "")),
        tags=[str(tag) for tag in point.payload.get("tags") or []],
        **passage.model_dump(),
    )
