"""Cluster results kept until the collection changes.

Keyed by (level, k); each entry remembers the collection's revision (``search.revision``) read
just before it was computed, and is served while the revision is the same: one retrieve per
call. Every write through the pipeline (an ingest, a replacement, a delete, a recovery) bumps
the revision, also when made by another process. A collection without a revision yet (written
by an older version) is never served from the cache until its next write.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from search.clustering import Level, cluster_documents
from search.results import ClusterResponse
from search.revision import current_revision
from search.store import VectorStore

MAX_ENTRIES = 16
_Key = tuple[Level, int | None]


class ClusterCache:
    """The clusters of one store, one cache per process (``web.services``); safe to share
    between request threads."""

    def __init__(self, store: VectorStore, max_entries: int = MAX_ENTRIES) -> None:
        self._store = store
        self._entries: OrderedDict[_Key, tuple[str | None, ClusterResponse]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def clusters(self, k: int | None = None, *, level: Level = "document") -> ClusterResponse:
        """The cached response (``cached: true``) while the collection is unchanged, else a
        fresh one, which replaces it."""
        key: _Key = (level, k)
        with self._lock:
            entry = self._entries.get(key)
        revision = current_revision(
            self._store
        )  # before computing: a write during it shows next time
        if entry is not None and revision is not None and entry[0] == revision:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
            return entry[1].model_copy(update={"cached": True})
        result = cluster_documents(self._store, k, level=level)
        with self._lock:
            # Results of an older collection can never be served again.
            for stale in [key for key, (seen, _) in self._entries.items() if seen != revision]:
                del self._entries[stale]
            self._entries[key] = (revision, result)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return result
