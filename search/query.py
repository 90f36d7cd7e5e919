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
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from embeddings.base import EmbeddingProvider
from ingest.labels import build_labels
from ingest.loaders import MIME_TYPES
from search.collection import CollectionGuard
from search.diversify import CANDIDATES_PER_HIT, DEFAULT_LAMBDA, mmr
from search.errors import DocumentNotFoundError
from search.results import Hit, Passage, SearchResponse
from search.snippets import make_snippet
from search.sparse import Bm25Encoder
from search.store import (
    DateRange,
    ScoredHit,
    SearchMode,
    VectorStore,
    WhereValue,
    document_point_id,
)

MAX_K = 100
MAX_OFFSET = 1000
# Passages kept under a grouped hit, after its best one.
MORE_PER_DOCUMENT = 2
# Grouping happens over an over-fetched flat result: this many passages per wanted document.
GROUP_OVERFETCH = 8
# The most passages one grouped query reads while looking for k documents.
MAX_GROUP_FETCH = 2000
# Longer queries are cut here (the model itself reads at most its max_seq_length tokens).
MAX_QUERY_CHARS = 2000

Fetch = Callable[[int], list[ScoredHit]]  # a flat result of at most this many passages
Keep = Callable[[ScoredHit], bool]


def file_type_mimes(file_types: Sequence[str]) -> list[str]:
    """MIME types for file-type filters: a MIME type (``application/pdf``) is kept, an extension
    (``pdf`` or ``.pdf``) is mapped as at upload. Raises ``ValueError`` naming unknown ones."""
    mimes: list[str] = []
    unknown: list[str] = []
    for entry in file_types:
        for value in (v.strip().lower() for v in entry.split(",")):
            if not value:
                continue
            mime = value if "/" in value else MIME_TYPES.get("." + value.lstrip("."))
            if mime is None:
                unknown.append(value)
            elif mime not in mimes:
                mimes.append(mime)
    if unknown:
        known = ", ".join(sorted(e.lstrip(".") for e in MIME_TYPES))
        raise ValueError(f"unknown file type {', '.join(unknown)} (use one of {known})")
    return mimes


def _instant(value: date | datetime) -> str:
    """An RFC 3339 instant: a date means its start (UTC), a naive datetime is taken as UTC."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


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
        offset: int = 0,
        mode: SearchMode = "hybrid",
        group: bool = True,
        doc_id: str | None = None,
        tags: Sequence[str] = (),
        metadata: Mapping[str, str] | None = None,
        file_types: Sequence[str] = (),
        ingested_after: date | datetime | None = None,
        ingested_before: date | datetime | None = None,
        score_threshold: float | None = None,
        diversify: bool = False,
        diversity_lambda: float = DEFAULT_LAMBDA,
    ) -> SearchResponse:
        """Search chunk points, narrowed by the filters given.

        ``tags``: a document with ANY of them matches (a tag picks a topic; asking for two
        widens the search, as ticking two boxes does). ``metadata``: ALL pairs must match,
        exactly. Both are normalised as at upload (``ingest.labels``: tags lower-cased), and
        bad ones raise ``InvalidLabelsError``, before any work. ``file_types``: ANY of these
        MIME types or extensions (``file_type_mimes``). ``ingested_after`` (inclusive) and
        ``ingested_before`` (exclusive): a date means its midnight UTC. ``offset`` and
        ``score_threshold``: see the module's doc. ``diversify``: reorder the hits by MMR
        (``search.diversify``) over ``CANDIDATES_PER_HIT`` times as many candidates.
        """
        started = time.perf_counter()
        labels = build_labels(tags=tags, metadata=metadata)
        mimes = file_type_mimes(file_types)
        query = " ".join(query.split())[:MAX_QUERY_CHARS]
        k = max(1, min(k, MAX_K))
        offset = max(0, min(offset, MAX_OFFSET))
        results: list[Hit] = []
        if query and not self._guard.is_empty():
            # Refuses to mix models: a collection filled by another model raises here.
            self._guard.ensure()
            where: dict[str, WhereValue] = {"kind": "chunk"}
            if doc_id:
                where["doc_id"] = doc_id
            if labels.tags:
                where["tags"] = list(labels.tags)
            if mimes:
                where["mime"] = mimes
            if ingested_after is not None or ingested_before is not None:
                where["ingested_at"] = DateRange(
                    gte=_instant(ingested_after) if ingested_after is not None else None,
                    lt=_instant(ingested_before) if ingested_before is not None else None,
                )
            # Keys are checked to hold no dots, so each is one level under ``meta``.
            where.update({f"meta.{key}": value for key, value in labels.metadata.items()})
            dense = self._embedder.embed_query(query) if mode != "keyword" else None
            sparse = self._sparse.embed_query(query) if mode != "dense" else None

            def fetch(limit: int, skip: int = 0) -> list[ScoredHit]:
                return self._store.query(
                    mode=mode, dense=dense, sparse=sparse, limit=limit, offset=skip, where=where
                )

            if diversify:
                pool = (k + offset) * CANDIDATES_PER_HIT
                if group:
                    found = _grouped_search(fetch, query, pool, threshold=score_threshold)
                else:
                    found = [_hit(s, query) for s in _above(fetch(pool), score_threshold)]
                results = self._diversified(found, k + offset, diversity_lambda)[offset:]
            elif group:
                found = _grouped_search(fetch, query, k + offset, threshold=score_threshold)
                results = found[offset:]
            else:
                results = [_hit(s, query) for s in _above(fetch(k, offset), score_threshold)]
        took_ms = round((time.perf_counter() - started) * 1000, 2)
        return SearchResponse(query=query, mode=mode, took_ms=took_ms, results=results)

    def _diversified(self, hits: list[Hit], k: int, lam: float) -> list[Hit]:
        records = self._store.retrieve([h.point_id for h in hits], with_vectors=True)
        vectors = {r.id: r.dense for r in records if r.dense is not None}
        return mmr(hits, vectors, k, min(1.0, max(0.0, lam)))

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
        documents = self._store.recommend(source, limit=k, where={"kind": "document"})
        ids = [str(d.payload.get("doc_id", "")) for d in documents]
        results: list[Hit] = []
        if ids:
            where: dict[str, WhereValue] = {"kind": "chunk", "doc_id": ids}

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
        if not records or records[0].payload.get("kind") != "chunk":
            raise DocumentNotFoundError(f"no passage with point id {point_id!r}")
        source_doc = records[0].payload.get("doc_id")

        def fetch(limit: int) -> list[ScoredHit]:
            return self._store.recommend(point_id, limit=limit, where={"kind": "chunk"})

        def keep(point: ScoredHit) -> bool:
            return same_document or point.payload.get("doc_id") != source_doc

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
        point_id=point.id,
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
