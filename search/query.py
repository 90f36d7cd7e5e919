"""The query path: embed the query, ask the store, group passages per document, add snippets.

Paging: ``offset`` skips the first ``offset`` documents of a grouped result (which is grouped
over an over-fetched flat one), and the first ``offset`` passages of a flat result (Qdrant's own
offset, on both engines).

No store query reads more than ``MAX_FETCH`` passages (its ``limit + offset``): not the flat
page, not the over-fetch that grouping groups, not the candidate pool of ``diversify``. A
request the cap cannot serve whole (a deep page of documents that each hold many passages)
gets fewer hits, or none, never an error.

Snippets are made last, for the hits returned only (``search.snippets``: one compiled pattern
per search): grouping, paging and MMR work on the scored points. Measured on 50,000 passages
of 10,000 documents with a 2,000-character query, ``k=100&offset=1000`` grouped and diversified
asked the store for 26,400 passages, made 8,758 snippets and took 42 s; now 2,000 passages,
111 snippets, 0.45 s (grouped alone: 8,800 passages, 8.5 s; now 2,000, 0.15 s).

``score_threshold`` drops hits scoring below it. Scores are on each mode's own scale:

- ``dense``: cosine similarity, -1 to 1 (related passages of a sentence model: about 0.3 up);
- ``keyword``: BM25, 0 up, unbounded (grows with rare terms and with their count in the query);
- ``hybrid``: ``0.6 · cosine + 0.4 · BM25 / the query's best BM25`` (``search.fusion``): at
  most 1, and a passage only one half found gets only that half's share (the best keyword
  match alone: 0.4).

A threshold is therefore only meaningful together with the mode it was chosen for.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

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
from search.reranking import Reranking, RerankSetup
from search.results import Hit, Passage, SearchResponse
from search.snippets import SnippetMaker
from search.sparse import Bm25Encoder
from search.store import ScoredHit, VectorStore

# Passages kept under a grouped hit, after its best one.
MORE_PER_DOCUMENT = 2
# Grouping happens over an over-fetched flat result: this many passages per wanted document.
GROUP_OVERFETCH = 8
#: The most passages one store query reads (its ``limit + offset``), on every path: the
#: ``MAX_K + MAX_OFFSET`` passages of the deepest flat page fit, and a grouped search of up to
#: 250 documents (2,000 / ``GROUP_OVERFETCH``) fetches what it did before the cap.
MAX_FETCH = 2000

Fetch = Callable[[int], list[ScoredHit]]  # a flat result of at most this many passages
Keep = Callable[[ScoredHit], bool]
#: A passage's reranker score, when it has one.
RerankScore = Callable[[str], float | None]
#: Builds the snippet function of one query (``SnippetMaker``; a test may count its work).
SnippetFactory = Callable[[str], Callable[[str], str]]


@dataclass
class _Group:
    """A document's best passage and up to ``MORE_PER_DOCUMENT`` more, before any snippet is
    made (a flat hit is a group of one). ``score`` and ``point_id`` are the best passage's, as
    ``search.diversify.mmr`` reads them."""

    best: ScoredHit
    more: list[ScoredHit] = field(default_factory=list)
    #: The best passage's reranker score: what MMR weighs as relevance when there is one.
    rerank_score: float | None = None

    @property
    def score(self) -> float:
        return self.best.score if self.rerank_score is None else self.rerank_score

    @property
    def point_id(self) -> str:
        return self.best.id


class SearchService:
    """Dense, keyword or hybrid search over chunk points, grouped per document by default."""

    def __init__(
        self,
        store: VectorStore,
        embedder: EmbeddingProvider,
        sparse: Bm25Encoder,
        guard: CollectionGuard,
        *,
        snippets: SnippetFactory = SnippetMaker,
        rerank: RerankSetup | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._sparse = sparse
        self._guard = guard
        self._snippets = snippets
        self._rerank = rerank or RerankSetup()

    def search(self, request: SearchRequest) -> SearchResponse:
        """Search chunk points, narrowed by the request's filters (already normalised: see
        ``search.request``). With ``diversify``, the hits are reordered by MMR over
        ``CANDIDATES_PER_HIT`` times as many candidates (at most ``MAX_FETCH`` passages).

        Every store query stays within ``MAX_FETCH`` passages: a page deeper than that can
        serve comes back short (or empty), never as an error."""
        started = time.perf_counter()
        query, k, offset, mode = request.query, request.k, request.offset, request.mode
        threshold = request.score_threshold
        results: list[Hit] = []
        reranking: Reranking | None = None
        if query and not self._guard.is_empty():
            # Refuses to mix models: a collection filled by another model raises here.
            self._guard.ensure()
            where = request.filters.where()
            dense = self._embedder.embed_query(query) if mode != "keyword" else None
            sparse = self._sparse.embed_query(query) if mode != "dense" else None
            if request.rerank and self._rerank.configured:
                reranking = Reranking(self._rerank, query, threshold)

            def fetch(limit: int, skip: int = 0) -> list[ScoredHit]:
                scored = self._store.query(
                    mode=mode, dense=dense, sparse=sparse, limit=limit, offset=skip, where=where
                )
                return reranking.apply(scored) if reranking else scored

            wanted = k + offset
            if request.diversify:
                pool = min(wanted * CANDIDATES_PER_HIT, MAX_FETCH)
                if request.group:
                    found = _grouped_search(fetch, pool, threshold=threshold)
                else:
                    found = [_Group(s) for s in _above(fetch(pool), threshold)]
                if reranking:
                    for group in found:
                        group.rerank_score = reranking.score_of(group.point_id)
                picked = self._diversified(found, wanted, request.diversity_lambda)[offset:]
            elif request.group:
                picked = _grouped_search(fetch, wanted, threshold=threshold)[offset:]
            elif reranking:  # the reranker reads the first passages, whatever the page
                scored = fetch(min(max(wanted, self._rerank.top_n), MAX_FETCH))
                picked = [_Group(s) for s in _above(scored, threshold)][offset:wanted]
            else:
                page = min(k, MAX_FETCH - offset)
                scored = fetch(page, offset) if page > 0 else []
                picked = [_Group(s) for s in _above(scored, threshold)]
            snippet = self._snippets(query)
            score_of = reranking.score_of if reranking else _no_rerank_score
            results = [_hit(group, snippet, score_of) for group in picked]
        took_ms = round((time.perf_counter() - started) * 1000, 2)
        return SearchResponse(
            query=query,
            mode=mode,
            took_ms=took_ms,
            results=results,
            reranked=bool(reranking and reranking.reranked),
            rerank_error=reranking.error if reranking else None,
            rerank_ms=reranking.took_ms if reranking else None,
        )

    def _diversified(self, groups: list[_Group], k: int, lam: float) -> list[_Group]:
        records = self._store.retrieve([g.point_id for g in groups], with_vectors=True)
        vectors = {r.id: r.dense for r in records if r.dense is not None}
        return mmr(groups, vectors, k, lam)

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

            snippet = self._snippets("")
            found = _grouped_search(fetch, len(ids))
            passages = {doc_id_of(group.best.payload): group for group in found}
            for document, other in zip(documents, ids, strict=True):
                if other in passages:
                    hit = _hit(passages[other], snippet)
                    results.append(hit.model_copy(update={"score": document.score}))
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
            picked = _grouped_search(fetch, k, keep=keep)
        else:
            scored = fetch(min(k * GROUP_OVERFETCH, MAX_FETCH))
            picked = [_Group(s) for s in scored if keep(s)][:k]
        snippet = self._snippets("")
        results = [_hit(g, snippet) for g in picked]
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
    k: int,
    *,
    threshold: float | None = None,
    keep: Keep = lambda point: True,
) -> list[_Group]:
    """Group an over-fetched flat result; fetch more while one long document crowds out others.

    Passages under ``threshold``, or that ``keep`` refuses, are dropped before grouping. Scores
    fall along the result, so once one is under the threshold no deeper page can add a document.
    The fetch starts at ``k * GROUP_OVERFETCH`` passages and grows fourfold up to ``MAX_FETCH``:
    fewer than ``k`` documents may come back when they do not show within that many.
    """
    limit = min(k * GROUP_OVERFETCH, MAX_FETCH)
    while True:
        scored = fetch(limit)
        kept = [p for p in scored if keep(p) and (threshold is None or p.score >= threshold)]
        groups = _grouped(kept, k)
        exhausted = len(scored) < limit or limit >= MAX_FETCH
        # Reranked passages are out of score order: the lowest score says whether it was cut.
        cut = threshold is not None and bool(scored) and min(p.score for p in scored) < threshold
        if len(groups) >= k or exhausted or cut:
            return groups
        limit = min(limit * 4, MAX_FETCH)


def _grouped(scored: list[ScoredHit], k: int) -> list[_Group]:
    """One group per document (its best passage), in the order of each document's best score."""
    by_doc: dict[str, _Group] = {}
    for point in scored:
        doc_id = doc_id_of(point.payload)
        group = by_doc.get(doc_id)
        if group is None:
            if len(by_doc) < k:
                by_doc[doc_id] = _Group(point)
        elif len(group.more) < MORE_PER_DOCUMENT:
            group.more.append(point)
    return list(by_doc.values())


def _no_rerank_score(point_id: str) -> float | None:
    return None


def _passage(
    point: ScoredHit,
    snippet: Callable[[str], str],
    fields: PointFields,
    score_of: RerankScore = _no_rerank_score,
) -> Passage:
    rerank_score = score_of(point.id)
    return Passage(
        page=fields.page,
        chunk_index=fields.chunk_index,
        text=fields.text,
        snippet=snippet(fields.text),
        score=round(point.score, 6),
        ocr=fields.ocr,
        point_id=point.id,
        rerank_score=round(rerank_score, 6) if rerank_score is not None else None,
    )


def _hit(
    group: _Group, snippet: Callable[[str], str], score_of: RerankScore = _no_rerank_score
) -> Hit:
    """The returned hit of a group: the only place snippets are made."""
    fields = read_point(group.best.payload)
    more = [_passage(p, snippet, read_point(p.payload), score_of) for p in group.more]
    return Hit(
        doc_id=fields.doc_id,
        filename=fields.filename,
        title=fields.title,
        tags=fields.tags,
        more=more,
        **_passage(group.best, snippet, fields, score_of).model_dump(),
    )
