"""Clustering is bounded: requests for one key at once share one computation, different keys
compute one at a time, and a sweep over k scrolls the vectors once per revision.

The store is a real Qdrant Edge store with synthetic points (``tests.synthetic_points``); the
computation is the real ``cluster_documents``, wrapped to count calls and overlap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from search.cluster_cache import MAX_RUNNING, ClusterCache
from search.clustering import Level, ScrolledPoints, cluster_documents
from search.edge_store import EdgeStore
from search.points import document_point
from search.results import ClusterResponse
from search.revision import bump_revision
from search.store import CollectionInfo, VectorStore
from tests.synthetic_points import VOCABULARY, RecordingStore, chunk, synthetic_owner, unit_rows

pytestmark = pytest.mark.slow


# -- clusters ---------------------------------------------------------------------------------


@pytest.fixture
def topics_store(tmp_path: Path) -> Iterator[RecordingStore]:
    """60 documents around 3 directions, one chunk each, with a revision."""
    store = EdgeStore(tmp_path / "qdrant" / "topics")
    dim = 16
    store.ensure_collection(CollectionInfo("synthetic", dim))
    rng = np.random.default_rng(5)
    centres = unit_rows(rng, 3, dim)
    points = []
    for d in range(60):
        topic = d % 3
        vector = centres[topic] + rng.normal(scale=0.05, size=dim)
        dense = (vector / np.linalg.norm(vector)).tolist()
        text = " ".join(rng.choice(VOCABULARY[topic * 7 : topic * 7 + 7], 12).tolist())
        owner = synthetic_owner(f"t{d:03d}")
        points.append(
            document_point(owner, pages=1, chunks=1, size=len(text), dense=dense, chunking={})
        )
        points.append(chunk(owner, 0, text, dense, None))
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
