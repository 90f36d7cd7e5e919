"""Bounded work on the query path and in clustering.

- Snippets: one compiled pattern per search (``search.snippets.SnippetMaker``), at most
  ``MAX_SNIPPET_TERMS`` terms, the same windows as one search per term on ordinary queries,
  and made only for the hits returned.
- Fetches: no store query reads more than ``search.query.MAX_FETCH`` passages, however deep
  the page, grouped and diversified; pages the cap can serve are the ones an uncapped grouping
  gives.
(Clusters: tests/test_cluster_coalescing.py.)

The stores are real Qdrant Edge stores in a temporary folder, filled with synthetic points
(random unit vectors, texts from a small vocabulary) so that thousands of passages are written
in a second; searches embed the query with the session's local model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from search.collection import CollectionGuard
from search.edge_store import EdgeStore
from search.points import doc_id_of
from search.query import MAX_FETCH, MORE_PER_DOCUMENT, SearchService
from search.request import MAX_K, MAX_OFFSET, SearchRequest
from search.snippets import MAX_SNIPPET_TERMS, SnippetMaker, query_terms, window
from search.sparse import Bm25Encoder
from search.store import (
    CollectionInfo,
    ScoredHit,
    StoredPoint,
    VectorStore,
    deferred_flush,
)
from tests.synthetic_points import (
    VOCABULARY,
    RecordingStore,
    chunk,
    synthetic_owner,
    text_of,
    unit_rows,
)

pytestmark = pytest.mark.slow

DOCUMENTS = 1_500
PASSAGES_PER_DOCUMENT = 2  # 3,000 passages: more than MAX_FETCH
BM25 = Bm25Encoder()


class CountingSnippets:
    """A snippet factory counting the makers built (compiled patterns) and snippets made."""

    def __init__(self) -> None:
        self.makers = 0
        self.snippets = 0

    def __call__(self, query: str) -> Callable[[str], str]:
        self.makers += 1
        maker = SnippetMaker(query)

        def snippet(text: str) -> str:
            self.snippets += 1
            return maker(text)

        return snippet


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_passages(
    tmp_path_factory: pytest.TempPathFactory, local_provider: Any
) -> Iterator[VectorStore]:
    """3,000 chunk points of 1,500 documents, under the local model's collection info."""
    store = EdgeStore(tmp_path_factory.mktemp("bounded") / "qdrant" / "many")
    store.ensure_collection(CollectionInfo(local_provider.model_id, local_provider.dimension))
    rng = np.random.default_rng(7)
    vectors = unit_rows(rng, DOCUMENTS * PASSAGES_PER_DOCUMENT, local_provider.dimension)
    points: list[StoredPoint] = []
    for d in range(DOCUMENTS):
        owner = synthetic_owner(f"doc{d:05d}")
        for i in range(PASSAGES_PER_DOCUMENT):
            text = text_of(rng)
            dense = vectors[d * PASSAGES_PER_DOCUMENT + i].tolist()
            points.append(chunk(owner, i, text, dense, BM25.embed_document(text)))
    with deferred_flush(store):
        for start in range(0, len(points), 500):
            store.upsert(points[start : start + 500])
    yield store
    store.close()


def _service(store: VectorStore, embedder: Any, snippets: CountingSnippets) -> SearchService:
    return SearchService(store, embedder, BM25, CollectionGuard(store, embedder), snippets=snippets)


# -- snippets ---------------------------------------------------------------------------------


def _snippet_per_term(text: str, query: str, width: int = 240) -> str:
    """The snippet as it was found before: one regular expression per term, the earliest match
    its centre (the reference; the window around it is the product's own)."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    lowered = flat.lower()
    positions = [
        m.start() for t in query_terms(query) if (m := re.search(rf"\b{re.escape(t)}", lowered))
    ]
    return window(flat, min(positions) if positions else 0, width)


def test_one_pattern_per_query_gives_the_windows_of_one_search_per_term() -> None:
    rng = np.random.default_rng(3)
    words = [*VOCABULARY, "cats", "c++", "naïve", "İstanbul", "it's", "a", "the", "in"]
    for _ in range(2_000):
        text = " ".join(rng.choice(words, int(rng.integers(1, 120))).tolist())
        query = " ".join(rng.choice(words, int(rng.integers(0, 8))).tolist())
        maker = SnippetMaker(query)
        assert maker(text) == _snippet_per_term(text, query)


def test_a_long_query_is_one_pattern_of_its_first_terms() -> None:
    distinct = [f"w{i:03d}" for i in range(400)]
    query = " ".join(distinct)[:2000]
    assert len(query_terms(query)) > MAX_SNIPPET_TERMS
    maker = SnippetMaker(query)
    assert maker.terms == tuple(distinct[:MAX_SNIPPET_TERMS])
    assert isinstance(maker.pattern, re.Pattern)
    # A term past the cap does not move the window; the first terms still do.
    filler = "filler " * 80
    late = distinct[MAX_SNIPPET_TERMS + 5]
    text = f"{late} {filler}{distinct[0]} {filler}"
    assert maker(text).startswith("… ") and distinct[0] in maker(text)
    assert late not in maker(text)
    assert SnippetMaker("").pattern is None
    assert SnippetMaker("").terms == ()


# -- fetch caps -------------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "diversify"), [(True, True), (True, False), (False, True)])
def test_the_deepest_page_stays_within_the_fetch_cap(
    many_passages: VectorStore, local_provider: Any, group: bool, diversify: bool
) -> None:
    store = RecordingStore(many_passages)
    snippets = CountingSnippets()
    service = _service(store, local_provider, snippets)
    request = SearchRequest(
        query="cat kitten soup", k=MAX_K, offset=MAX_OFFSET, group=group, diversify=diversify
    )
    response = service.search(request)
    assert store.queries, "the store was queried"
    assert all(limit + offset <= MAX_FETCH for limit, offset in store.queries), store.queries
    assert response.results, "an empty page would make the checks below vacuous"
    assert len(response.results) <= MAX_K
    # Snippets: one pattern for the search, one snippet per passage returned, no more.
    assert snippets.makers == 1
    shown = sum(1 + len(hit.more) for hit in response.results)
    assert snippets.snippets == shown <= MAX_K * (1 + MORE_PER_DOCUMENT)
    if group:
        assert len({hit.doc_id for hit in response.results}) == len(response.results)


def test_flat_pages_fetch_their_page_only(many_passages: VectorStore, local_provider: Any) -> None:
    store = RecordingStore(many_passages)
    snippets = CountingSnippets()
    service = _service(store, local_provider, snippets)
    response = service.search(
        SearchRequest(query="market bank", k=MAX_K, offset=MAX_OFFSET, group=False)
    )
    assert store.queries == [(MAX_K, MAX_OFFSET)]
    assert len(response.results) == MAX_K == snippets.snippets


def _grouped_reference(scored: Sequence[ScoredHit]) -> list[str]:
    """Documents in the order of their best passage: what grouping a flat result gives."""
    return list(dict.fromkeys(doc_id_of(point.payload) for point in scored))


def test_pages_within_the_cap_are_those_of_an_uncapped_grouping(
    many_passages: VectorStore, local_provider: Any
) -> None:
    query = "river mountain"
    dense = local_provider.embed_query(query)
    everything = many_passages.query(
        mode="dense", dense=dense, sparse=None, limit=DOCUMENTS * PASSAGES_PER_DOCUMENT
    )
    assert len(everything) == DOCUMENTS * PASSAGES_PER_DOCUMENT
    service = _service(many_passages, local_provider, CountingSnippets())
    # 250 documents show within 2,000 passages: the page is exact.
    page = service.search(SearchRequest(query=query, mode="dense", k=100, offset=150))
    assert [h.doc_id for h in page.results] == _grouped_reference(everything)[150:250]
    # The deepest page is served from the first MAX_FETCH passages: short, but in order.
    deep = service.search(SearchRequest(query=query, mode="dense", k=MAX_K, offset=MAX_OFFSET))
    within = _grouped_reference(everything[:MAX_FETCH])
    assert deep.results, "an empty page would match an empty slice"
    assert [h.doc_id for h in deep.results] == within[MAX_OFFSET : MAX_OFFSET + MAX_K]
    for hit in page.results[:5]:
        assert hit.snippet and len(hit.more) <= MORE_PER_DOCUMENT
