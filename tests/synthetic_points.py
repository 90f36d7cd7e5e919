"""Synthetic points for the bounded-work tests: real Qdrant Edge stores filled in a second
(random unit vectors, texts from a small vocabulary), and a store wrapper that records the size
of what the product asks of the real store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

from search.points import DocumentFields, chunk_point
from search.store import PointRecord, ScoredHit, SparseVector, StoredPoint, VectorStore, Where

VOCABULARY = (
    *("cat", "kitten", "dog", "puppy", "market", "bank", "soup", "garlic", "river", "mountain"),
    *("engine", "signal", "harbour", "zeppelin", "ledger", "glacier", "violin", "comet"),
    *("orbit", "tomato", "basil", "sauce"),
)


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


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    rows = rng.normal(size=(n, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def text_of(rng: np.random.Generator, words: int = 60) -> str:
    return " ".join(rng.choice(VOCABULARY, words).tolist())


def synthetic_owner(doc_id: str) -> DocumentFields:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    return DocumentFields(doc_id, f"{doc_id}.txt", doc_id.upper(), "text/plain", stamp)


def chunk(
    owner: DocumentFields, index: int, text: str, dense: list[float], sparse: SparseVector | None
) -> StoredPoint:
    place = {"page": 1, "start": 0, "end": len(text)}
    return chunk_point(
        owner, index=index, text=text, heading=None, dense=dense, sparse=sparse, **place
    )
