"""Bounded work on the query path and in clustering.

- Snippets: one compiled pattern per search (``search.snippets.SnippetMaker``), at most
  ``MAX_SNIPPET_TERMS`` terms, the same windows as one search per term on ordinary queries,
  and made only for the hits returned.
- Fetches: no store query reads more than ``search.query.MAX_FETCH`` passages, however deep
  the page, grouped and diversified; pages the cap can serve are the ones an uncapped grouping
  gives.
- Clusters: requests for one key at once share one computation; different keys compute one
  at a time; a sweep over k scrolls the vectors once per revision.

The stores are real Qdrant Edge stores in a temporary folder, filled with synthetic points
(random unit vectors, texts from a small vocabulary) so that thousands of passages are written
in a second; searches embed the query with the session's local model.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from search.cluster_cache import MAX_RUNNING, ClusterCache
from search.clustering import Level, ScrolledPoints, cluster_documents
from search.collection import CollectionGuard
from search.edge_store import EdgeStore
from search.points import DocumentFields, chunk_point, doc_id_of, document_point
from search.query import MAX_FETCH, MORE_PER_DOCUMENT, SearchService
from search.request import MAX_K, MAX_OFFSET, SearchRequest
from search.results import ClusterResponse
from search.revision import bump_revision
from search.snippets import MAX_SNIPPET_TERMS, SnippetMaker, make_snippet, query_terms
from search.sparse import Bm25Encoder
from search.store import (
    CollectionInfo,
    PointRecord,
    ScoredHit,
    SparseVector,
    StoredPoint,
    VectorStore,
    Where,
    deferred_flush,
)

pytestmark = pytest.mark.slow

VOCABULARY = (
    *("cat", "kitten", "dog", "puppy", "market", "bank", "soup", "garlic", "river", "mountain"),
    *("engine", "signal", "harbour", "zeppelin", "ledger", "glacier", "violin", "comet"),
    *("orbit", "tomato", "basil", "sauce"),
)
DOCUMENTS = 1_500
PASSAGES_PER_DOCUMENT = 2  # 3,000 passages: more than MAX_FETCH
BM25 = Bm25Encoder()


# -- recording wrappers -----------------------------------------------------------------------


class RecordingStore:
    """The real store, recording the size of each ``query`` and each ``scroll``."""

    def __init__(self, store: VectorStore) -> None:
        self._store = store
        self.queries: list[tuple[int, int]] = []  # (limit, offset)
        self.vector_scrolls = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def query(self, *, limit: int, offset: int = 0, **rest: Any) -> list[ScoredHit]:
        self.queries.append((limit, offset))
        return self._store.query(limit=limit, offset=offset, **rest)

    def scroll(
        self, where: Where | None = None, *, with_vectors: bool = False, batch_size: int = 256
    ) -> Iterator[PointRecord]:
        if with_vectors:
            with self._lock:
                self.vector_scrolls += 1
        return self._store.scroll(where, with_vectors=with_vectors, batch_size=batch_size)


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


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    rows = rng.normal(size=(n, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _text(rng: np.random.Generator, words: int = 60) -> str:
    return " ".join(rng.choice(VOCABULARY, words).tolist())


def _owner(doc_id: str) -> DocumentFields:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    return DocumentFields(doc_id, f"{doc_id}.txt", doc_id.upper(), "text/plain", stamp)


def _chunk(
    owner: DocumentFields, index: int, text: str, dense: list[float], sparse: SparseVector | None
) -> StoredPoint:
    place = {"page": 1, "start": 0, "end": len(text)}
    return chunk_point(
        owner, index=index, text=text, heading=None, dense=dense, sparse=sparse, **place
    )


@pytest.fixture(scope="module")
def many_passages(
    tmp_path_factory: pytest.TempPathFactory, local_provider: Any
) -> Iterator[VectorStore]:
    """3,000 chunk points of 1,500 documents, under the local model's collection info."""
    store = EdgeStore(tmp_path_factory.mktemp("bounded") / "qdrant" / "many")
    store.ensure_collection(CollectionInfo(local_provider.model_id, local_provider.dimension))
    rng = np.random.default_rng(7)
    vectors = _unit_rows(rng, DOCUMENTS * PASSAGES_PER_DOCUMENT, local_provider.dimension)
    points: list[StoredPoint] = []
    for d in range(DOCUMENTS):
        owner = _owner(f"doc{d:05d}")
        for i in range(PASSAGES_PER_DOCUMENT):
            text = _text(rng)
            dense = vectors[d * PASSAGES_PER_DOCUMENT + i].tolist()
            points.append(_chunk(owner, i, text, dense, BM25.embed_document(text)))
    with deferred_flush(store):
        for start in range(0, len(points), 500):
            store.upsert(points[start : start + 500])
    yield store
    store.close()


def _service(store: VectorStore, embedder: Any, snippets: CountingSnippets) -> SearchService:
    return SearchService(store, embedder, BM25, CollectionGuard(store, embedder), snippets=snippets)


# -- snippets ---------------------------------------------------------------------------------


def _snippet_per_term(text: str, query: str, width: int = 240) -> str:
    """The snippet as it was made before: one regular expression per term (the reference)."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    lowered = flat.lower()
    positions = [
        m.start() for t in query_terms(query) if (m := re.search(rf"\b{re.escape(t)}", lowered))
    ]
    centre = min(positions) if positions else 0
    start = max(0, min(centre - width // 3, len(flat) - width))
    end = min(len(flat), start + width)
    if start > 0:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < centre else start
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > centre else end
    return ("… " if start > 0 else "") + flat[start:end] + (" …" if end < len(flat) else "")


def test_one_pattern_per_query_gives_the_windows_of_one_search_per_term() -> None:
    rng = np.random.default_rng(3)
    words = [*VOCABULARY, "cats", "c++", "naïve", "İstanbul", "it's", "a", "the", "in"]
    for _ in range(2_000):
        text = " ".join(rng.choice(words, int(rng.integers(1, 120))).tolist())
        query = " ".join(rng.choice(words, int(rng.integers(0, 8))).tolist())
        maker = SnippetMaker(query)
        assert maker(text) == _snippet_per_term(text, query) == make_snippet(text, query)


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
    assert [h.doc_id for h in deep.results] == within[MAX_OFFSET : MAX_OFFSET + MAX_K]
    for hit in page.results[:5]:
        assert hit.snippet and len(hit.more) <= MORE_PER_DOCUMENT


# -- clusters ---------------------------------------------------------------------------------


@pytest.fixture
def topics_store(tmp_path: Path) -> Iterator[RecordingStore]:
    """60 documents around 3 directions, one chunk each, with a revision."""
    store = EdgeStore(tmp_path / "qdrant" / "topics")
    dim = 16
    store.ensure_collection(CollectionInfo("synthetic", dim))
    rng = np.random.default_rng(5)
    centres = _unit_rows(rng, 3, dim)
    points = []
    for d in range(60):
        topic = d % 3
        vector = centres[topic] + rng.normal(scale=0.05, size=dim)
        dense = (vector / np.linalg.norm(vector)).tolist()
        text = " ".join(rng.choice(VOCABULARY[topic * 7 : topic * 7 + 7], 12).tolist())
        owner = _owner(f"t{d:03d}")
        points.append(
            document_point(owner, pages=1, chunks=1, size=len(text), dense=dense, chunking={})
        )
        points.append(_chunk(owner, 0, text, dense, None))
    store.upsert(points)
    bump_revision(store)
    yield RecordingStore(store)
    store.close()


class SlowCompute:
    """``cluster_documents``, counting calls and how many run at once, each held 0.2 s."""

    def __init__(self, fail_first: bool = False) -> None:
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self._fail = fail_first
        self._lock = threading.Lock()

    def __call__(
        self,
        store: VectorStore,
        k: int | None = None,
        *,
        level: Level = "document",
        scrolled: ScrolledPoints | None = None,
    ) -> ClusterResponse:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            fail, self._fail = self._fail, False
        try:
            time.sleep(0.2)
            if fail:
                raise RuntimeError("the fit failed")
            return cluster_documents(store, k, level=level, scrolled=scrolled)
        finally:
            with self._lock:
                self.running -= 1


def _at_once(calls: Sequence[Any]) -> list[Any]:
    """Run each zero-argument call in its own thread, all released together; their results
    (or the exceptions they raised), in order."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = calls[i]()
        except Exception as error:
            out[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return out


def _same(a: ClusterResponse, b: ClusterResponse) -> bool:
    return a.model_dump(exclude={"cached"}) == b.model_dump(exclude={"cached"})


def test_requests_for_one_key_share_one_computation(topics_store: RecordingStore) -> None:
    compute = SlowCompute()
    cache = ClusterCache(topics_store, compute=compute)
    results = _at_once([lambda: cache.clusters(3)] * 8)
    assert compute.calls == 1
    assert topics_store.vector_scrolls == 1
    assert all(isinstance(r, ClusterResponse) for r in results)
    assert all(_same(r, results[0]) for r in results)
    assert results[0].k == 3 and sum(c.size for c in results[0].clusters) == 60
    assert cache.clusters(3).cached is True


def test_different_keys_compute_one_at_a_time(topics_store: RecordingStore) -> None:
    compute = SlowCompute()
    cache = ClusterCache(topics_store, compute=compute)
    keys = [2, 3, 4, 5, None]
    results = _at_once([lambda k=k: cache.clusters(k) for k in keys])
    assert compute.calls == len(keys)
    assert compute.most_at_once == MAX_RUNNING == 1
    assert [r.k for r in results[:4]] == [2, 3, 4, 5]
    # One scroll of the vectors serves every k of this revision.
    assert topics_store.vector_scrolls == 1

    wider = SlowCompute()
    two = ClusterCache(topics_store, max_running=2, compute=wider)
    _at_once([lambda k=k: two.clusters(k) for k in keys])
    assert wider.calls == len(keys) and wider.most_at_once <= 2


def test_a_sweep_over_k_scrolls_once_per_revision(topics_store: RecordingStore) -> None:
    cache = ClusterCache(topics_store)
    for k in (2, 3, 4, 5):
        result = cache.clusters(k)
        assert result.cached is False
        assert _same(result, cluster_documents(topics_store, k))
    assert topics_store.vector_scrolls == 1 + 4  # the cache's one, and the four references
    bump_revision(topics_store)  # as every pipeline write does
    assert cache.clusters(2).cached is False
    assert cache.clusters(3).cached is False
    assert topics_store.vector_scrolls == 1 + 4 + 1


def test_a_failed_computation_fails_its_waiters_and_the_next_request_retries(
    topics_store: RecordingStore,
) -> None:
    compute = SlowCompute(fail_first=True)
    cache = ClusterCache(topics_store, compute=compute)
    results = _at_once([lambda: cache.clusters(2)] * 4)
    assert compute.calls == 1
    assert all(isinstance(r, RuntimeError) for r in results)
    again = cache.clusters(2)
    assert compute.calls == 2 and again.k == 2 and again.cached is False
