"""The query path: embed the query, ask the store, group passages per document, add snippets.

Paging: ``offset`` skips the first ``offset`` documents of a grouped result (which is grouped
over an over-fetched flat one), and the first ``offset`` passages of a flat result (Qdrant's own
offset, on both engines).

``score_threshold`` drops hits scoring below it. Scores are on each mode's own scale:

- ``dense``: cosine similarity, -1 to 1 (related passages of a sentence model: about 0.3 up);
- ``keyword``: BM25, 0 up, unbounded (grows with rare terms and with their count in the query);
- ``hybrid``: the RRF sum over the two rankings, ``1/(61 + rank)`` per ranking the passage is
  in: at most about 0.033 (first in both), about 0.016 for a passage first in only one.

A threshold is therefore only meaningful together with the mode it was chosen for.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from embeddings.base import EmbeddingProvider
from search.collection import CollectionGuard
from search.diversify import CANDIDATES_PER_HIT, mmr
from search.errors import DocumentNotFoundError
from search.points import (
    CHUNKS_ONLY,
    DOCUMENTS_ONLY,
    PointFields,
    chunks_of,
    doc_id_of,
    document_point_id,
    is_chunk,
    read_point,
)
from search.request import MAX_K, SearchRequest
from search.results import Hit, Passage, SearchResponse
from search.snippets import make_snippet
from search.sparse import Bm25Encoder
from search.store import ScoredHit, VectorStore

# Passages kept under a grouped hit, after its best one.
MORE_PER_DOCUMENT = 2
# Grouping happens over an over-fetched flat result: this many passages per wanted document.
GROUP_OVERFETCH = 8
# The most passages one grouped query reads while looking for k documents.
MAX_GROUP_FETCH = 2000

Fetch = Callable[[int], list[ScoredHit]]  # a flat result of at most this many passages
Keep = Callable[[ScoredHit], bool]


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

    def search(self, request: SearchRequest) -> SearchResponse:
        """Search chunk points, narrowed by the request's filters (already normalised: see
        ``search.request``). With ``diversify``, the hits are reordered by MMR over
        ``CANDIDATES_PER_HIT`` times as many candidates."""
        started = time.perf_counter()
        query, k, offset, mode = request.query, request.k, request.offset, request.mode
        threshold = request.score_threshold
        results: list[Hit] = []
        if query and not self._guard.is_empty():
            # Refuses to mix models: a collection filled by another model raises here.
            self._guard.ensure()
            where = request.filters.where()
            dense = self._embedder.embed_query(query) if mode != "keyword" else None
            sparse = self._sparse.embed_query(query) if mode != "dense" else None

            def fetch(limit: int, skip: int = 0) -> list[ScoredHit]:
                return self._store.query(
                    mode=mode, dense=dense, sparse=sparse, limit=limit, offset=skip, where=where
                )

            if request.diversify:
                pool = (k + offset) * CANDIDATES_PER_HIT
                if request.group:
                    found = _grouped_search(fetch, query, pool, threshold=threshold)
                else:
                    found = [_hit(s, query) for s in _above(fetch(pool), threshold)]
                results = self._diversified(found, k + offset, request.diversity_lambda)[offset:]
            elif request.group:
                found = _grouped_search(fetch, query, k + offset, threshold=threshold)
                results = found[offset:]
            else:
                results = [_hit(s, query) for s in _above(fetch(k, offset), threshold)]
        took_ms = round((time.perf_counter() - started) * 1000, 2)
        return SearchResponse(query=query, mode=mode, took_ms=took_ms, results=results)

    def _diversified(self, hits: list[Hit], k: int, lam: float) -> list[Hit]:
        records = self._store.retrieve([h.point_id for h in hits], with_vectors=True)
        vectors = {r.id: r.dense for r in records if r.dense is not None}
        return mmr(hits, vectors, k, lam)

    def similar_documents(self, doc_id: str, *, k: int = 10) -> SearchResponse:
        """Documents nearest to this one (cosine of their mean vectors), each shown by its
        passage nearest to this document's mean; the document itself is left out.

        Raises ``DocumentNotFoundError`` for an unknown id. Scores are the documents' cosines.
        """
        started = time.perf_counter()
        k = max(1, min(k, MAX_K))
        source = document_point_id(doc_id)
        if not self._store.retrieve([source]):
            raise DocumentNotFoundError(f"no document with id {doc_id!r}")
        documents = self._store.recommend(source, limit=k, where=DOCUMENTS_ONLY)
        ids = [doc_id_of(d.payload) for d in documents]
        results: list[Hit] = []
        if ids:
            where = chunks_of(ids)

            def fetch(limit: int) -> list[ScoredHit]:
                return self._store.recommend(source, limit=limit, where=where)

            passages = {hit.doc_id: hit for hit in _grouped_search(fetch, "", len(ids))}
            for document, other in zip(documents, ids, strict=True):
                if other in passages:
                    results.append(passages[other].model_copy(update={"score": document.score}))
        took_ms = round((time.perf_counter() - started) * 1000, 2)
        return SearchResponse(query="", mode="dense", took_ms=took_ms, results=results)

    def similar_passages(
        self, point_id: str, *, k: int = 10, group: bool = True, same_document: bool = False
    ) -> SearchResponse:
        """Passages nearest to a stored passage (its dense vector, nothing re-embedded), grouped
        per document like a search. Its own document is left out unless ``same_document``.

        Raises ``DocumentNotFoundError`` when no passage has that point id.
        """
        started = time.perf_counter()
        k = max(1, min(k, MAX_K))
        records = self._store.retrieve([point_id]) if _is_uuid(point_id) else []
        if not records or not is_chunk(records[0].payload):
            raise DocumentNotFoundError(f"no passage with point id {point_id!r}")
        source_doc = doc_id_of(records[0].payload)

        def fetch(limit: int) -> list[ScoredHit]:
            return self._store.recommend(point_id, limit=limit, where=CHUNKS_ONLY)

        def keep(point: ScoredHit) -> bool:
            return same_document or doc_id_of(point.payload) != source_doc

        if group:
            results = _grouped_search(fetch, "", k, keep=keep)
        else:
            results = [_hit(s, "") for s in fetch(k * GROUP_OVERFETCH) if keep(s)][:k]
        took_ms = round((time.perf_counter() - started) * 1000, 2)
        return SearchResponse(query="", mode="dense", took_ms=took_ms, results=results)


def _above(scored: list[ScoredHit], threshold: float | None) -> list[ScoredHit]:
    return [s for s in scored if threshold is None or s.score >= threshold]


def _is_uuid(value: str) -> bool:
    """Point ids are UUIDs; the engines refuse anything else with an error of their own."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _grouped_search(
    fetch: Fetch,
    query: str,
    k: int,
    *,
    threshold: float | None = None,
    keep: Keep = lambda point: True,
) -> list[Hit]:
    """Group an over-fetched flat result; fetch more while one long document crowds out others.

    Passages under ``threshold``, or that ``keep`` refuses, are dropped before grouping. Scores
    fall along the result, so once one is under the threshold no deeper page can add a document.
    """
    limit = k * GROUP_OVERFETCH
    while True:
        scored = fetch(limit)
        kept = [p for p in scored if keep(p) and (threshold is None or p.score >= threshold)]
        hits = _grouped(kept, query, k)
        exhausted = len(scored) < limit or limit >= MAX_GROUP_FETCH
        cut = threshold is not None and bool(scored) and scored[-1].score < threshold
        if len(hits) >= k or exhausted or cut:
            return hits
        limit = min(limit * 4, MAX_GROUP_FETCH)


def _grouped(scored: list[ScoredHit], query: str, k: int) -> list[Hit]:
    """One hit per document (its best passage), in the order of each document's best score."""
    by_doc: dict[str, Hit] = {}
    for point in scored:
        doc_id = doc_id_of(point.payload)
        best = by_doc.get(doc_id)
        if best is None:
            if len(by_doc) < k:
                by_doc[doc_id] = _hit(point, query)
        elif len(best.more) < MORE_PER_DOCUMENT:
            best.more.append(_passage(point, query))
    return list(by_doc.values())


def _passage(point: ScoredHit, query: str, fields: PointFields | None = None) -> Passage:
    fields = fields or read_point(point.payload)
    return Passage(
        page=fields.page,
        chunk_index=fields.chunk_index,
        text=fields.text,
        snippet=make_snippet(fields.text, query),
        score=round(point.score, 6),
        point_id=point.id,
    )


def _hit(point: ScoredHit, query: str) -> Hit:
    fields = read_point(point.payload)
    passage = _passage(point, query, fields)
    return Hit(
        doc_id=fields.doc_id,
        filename=fields.filename,
        title=fields.title,
        tags=fields.tags,
        **passage.model_dump(),
    )
