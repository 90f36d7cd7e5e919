"""Cluster results kept until the collection changes, computed once at a time.

Keyed by (level, k); each entry remembers the collection's revision (``search.revision``) read
just before it was computed, and is served while the revision is the same: one retrieve per
call. Every write through the pipeline (an ingest, a replacement, a delete, a recovery) bumps
the revision, also when made by another process. A collection without a revision yet (written
by an older version) is never served from the cache until its next write.

A miss scrolls every vector of the level and fits them, seconds for a large collection, so:

- Coalescing: requests for a key already being computed, at the same revision, wait for that
  computation and share its result; ten tabs opening the map cost one computation.
- A cap: at most ``max_running`` computations (default ``MAX_RUNNING``, 1) run at once per
  cache, one cache per process; the others wait their turn, without a time limit. A fit is
  CPU-bound and holds a whole level's vectors: one at a time leaves the other cores (and the
  memory) to searches and ingests, however many keys are asked for at once. The wait is not
  bounded because the web edge has no "busy, retry later" answer for a request that waited too
  long (a 503 with Retry-After would be the next step); waiting costs a request its worker
  thread only, and with coalescing the waiters are distinct keys.
- The scrolled points (``search.clustering.scroll_points``) of the latest revision are kept per
  level, with their 2-D projection, so a sweep over k reads the vectors and projects them once,
  and only fits again: on 5,000 documents (a loaded 2-core machine) k=4..11 one after another
  took 13.3 s and 8 scrolls of every vector, now 9.6 s and none; eight requests for one k at
  once took 16.8 s and 8 computations, now 1.5 s and one. They cost the memory of
  the vectors (1.5 KB a point at 384 dimensions: 150 MB for 100,000 chunks) and of the payloads,
  about what one computation holds while it runs anyway; they are replaced by the next
  computation after a write. The document texts the fit reads (``document_texts``) are not kept:
  reading them took 0.13 s of those 1.2 s a k, and the labels read some at a smaller budget into
  the same map, which a later fit must not find cut shorter.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

from search.clustering import Level, ScrolledPoints, cluster_documents, scroll_points
from search.results import ClusterResponse
from search.revision import current_revision
from search.store import VectorStore

MAX_ENTRIES = 16
#: Cluster computations running at once per cache (one cache per process: ``web.services``).
MAX_RUNNING = 1
_Key = tuple[Level, int | None]


class Compute(Protocol):
    """How a miss is computed: ``search.clustering.cluster_documents`` (a test may wrap it to
    count computations)."""

    def __call__(
        self,
        store: VectorStore,
        k: int | None = None,
        *,
        level: Level = "document",
        scrolled: ScrolledPoints | None = None,
    ) -> ClusterResponse: ...


class _Flight:
    """One computation in progress: the requests for its key at its revision wait on it."""

    def __init__(self, revision: str | None) -> None:
        self.revision = revision
        self._done = threading.Event()
        self._result: ClusterResponse | None = None
        self._error: BaseException | None = None

    def finish(self, result: ClusterResponse | None, error: BaseException | None) -> None:
        self._result, self._error = result, error
        self._done.set()

    def wait(self) -> ClusterResponse:
        """The shared result, or the computation's error raised again."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result.model_copy()


class ClusterCache:
    """The clusters of one store, one cache per process (``web.services``); safe to share
    between request threads."""

    def __init__(
        self,
        store: VectorStore,
        max_entries: int = MAX_ENTRIES,
        *,
        max_running: int = MAX_RUNNING,
        compute: Compute = cluster_documents,
    ) -> None:
        self._store = store
        self._entries: OrderedDict[_Key, tuple[str | None, ClusterResponse]] = OrderedDict()
        self._flights: dict[_Key, _Flight] = {}
        self._points: dict[Level, tuple[str, ScrolledPoints]] = {}
        self._lock = threading.Lock()
        self._running = threading.BoundedSemaphore(max_running)
        self._max = max_entries
        self._compute = compute

    def clusters(self, k: int | None = None, *, level: Level = "document") -> ClusterResponse:
        """The cached response (``cached: true``) while the collection is unchanged, else a
        fresh one, which replaces it: computed here, or by the request already computing it."""
        key: _Key = (level, k)
        revision = current_revision(self._store)  # before computing: a write during it shows
        with self._lock:
            served = self._served(key, revision)
            flight = self._flights.get(key)
            leading = served is None and (flight is None or flight.revision != revision)
            if leading:
                flight = self._flights[key] = _Flight(revision)
        if served is not None:
            return served
        assert flight is not None
        if not leading:
            return flight.wait()
        try:
            result = self._run(key)
            flight.finish(result, None)
            return result
        except BaseException as error:
            flight.finish(None, error)
            raise
        finally:
            with self._lock:
                if self._flights.get(key) is flight:
                    del self._flights[key]

    def _served(self, key: _Key, revision: str | None) -> ClusterResponse | None:
        """The entry for the key at this revision, as a cached response (under the lock)."""
        entry = self._entries.get(key)
        if entry is None or revision is None or entry[0] != revision:
            return None
        self._entries.move_to_end(key)
        return entry[1].model_copy(update={"cached": True})

    def _run(self, key: _Key) -> ClusterResponse:
        """Compute the key's clusters in turn (``max_running`` at once) and keep them."""
        level, k = key
        with self._running:
            # Read again: the turn may have come after a write.
            revision = current_revision(self._store)
            with self._lock:
                served = self._served(key, revision)
            if served is not None:
                return served
            result = self._compute(
                self._store, k, level=level, scrolled=self._scrolled(level, revision)
            )
            with self._lock:
                # Results of an older collection can never be served again.
                for old in [kept for kept, (seen, _) in self._entries.items() if seen != revision]:
                    del self._entries[old]
                for gone in [lv for lv, (seen, _) in self._points.items() if seen != revision]:
                    del self._points[gone]
                self._entries[key] = (revision, result)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return result

    def _scrolled(self, level: Level, revision: str | None) -> ScrolledPoints:
        """The level's points at this revision: kept from an earlier fit, or scrolled now (and
        kept, unless the collection has no revision to key them by)."""
        with self._lock:
            kept = self._points.get(level)
        if kept is not None and revision is not None and kept[0] == revision:
            return kept[1]
        points = scroll_points(self._store, level)
        if revision is not None:
            with self._lock:
                self._points[level] = (revision, points)
        return points
