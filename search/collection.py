"""The guard that keeps one collection to one embedding model and dimension."""

from __future__ import annotations

import threading

from embeddings.base import EmbeddingProvider
from search.store import CollectionInfo, VectorStore


class CollectionGuard:
    """Creates the collection for the configured model, or checks it matches, once per process.

    It runs lazily (first ingest or search) rather than at start-up, so that an app pointed at an
    unreachable endpoint still starts and can say what is wrong on /settings.
    """

    def __init__(self, store: VectorStore, embedder: EmbeddingProvider) -> None:
        self._store = store
        self._embedder = embedder
        self._lock = threading.Lock()
        self._ready = False

    def ensure(self) -> None:
        """Raises ``ModelMismatchError`` naming both models when they differ."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                info = CollectionInfo(
                    model=self._embedder.model_id, dimension=self._embedder.dimension
                )
                self._store.ensure_collection(info)
                self._ready = True

    def is_empty(self) -> bool:
        """True for a collection nothing was ever written to (searching it needs no model)."""
        return not self._ready and self._store.collection_info() is None
