"""The vector store contract, shared by the two engines.

- ``search.edge_store.EdgeStore``: Qdrant Edge, Qdrant's engine embedded in the process (default).
- ``search.client_store.ClientStore``: qdrant-client, for a Qdrant server (``QDRANT_URL``), or
  its local ``:memory:`` mode, which stands in for a server in tests.

Both are tested by the same contract tests, and both build their queries and filters from
``search.query_plan``, so that they differ only in the calls they make. This module says what a
store does with points, not what a point holds: ``search.points`` owns the payload (its keys,
the three sorts of point, their ids and the payload indexes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"

SearchMode = Literal["hybrid", "dense", "keyword"]
# A filter is a conjunction of matches on payload fields: {"doc_id": "...", "page": 3}.
# - A str, int or bool value is an exact match (a list field matches when one element equals it).
# - A list or tuple of strings means "any of" (Qdrant's MatchAny): {"tags": ["a", "b"]} keeps a
#   point whose ``tags`` hold "a" or "b". An empty list is refused (it would match nothing).
# - A dotted key is a nested payload path: {"meta.author": "Ann"} matches payload
#   {"meta": {"author": "Ann"}}.
# - A ``DateRange`` keeps points whose field (an ISO 8601 datetime string, such as
#   ``ingested_at``) lies in the range: {"ingested_at": DateRange(gte="2024-01-01T00:00:00Z")}.
# Qdrant Edge 0.9.0 cannot match booleans (see ``search.edge_store``): store flags as str or int.


@dataclass(frozen=True)
class DateRange:
    """``gte <= value < lt`` on a datetime payload field; either end may be left open.

    Ends are ISO 8601 strings with a time zone (RFC 3339), as ``datetime.isoformat`` writes
    them for an aware datetime; both engines compare them as instants, not as text.
    """

    gte: str | None = None
    lt: str | None = None

    def __post_init__(self) -> None:
        if self.gte is None and self.lt is None:
            raise ValueError("a DateRange needs gte or lt; leave the filter out instead")


WhereValue = str | int | bool | list[str] | tuple[str, ...] | DateRange
Where = Mapping[str, WhereValue]


@dataclass(frozen=True)
class SparseVector:
    """A BM25 sparse vector, as ``qdrant_edge.Bm25`` computes it for both engines."""

    indices: list[int]
    values: list[float]


@dataclass
class StoredPoint:
    """A point to upsert; ``dense`` and ``sparse`` may be None (metadata without vectors)."""

    id: str
    payload: dict[str, Any]
    dense: list[float] | None = None
    sparse: SparseVector | None = None


@dataclass
class ScoredHit:
    id: str
    score: float
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class PointRecord:
    id: str
    payload: dict[str, Any] = field(default_factory=dict)
    dense: list[float] | None = None


@dataclass(frozen=True)
class CollectionInfo:
    """What the collection remembers about the embeddings that filled it."""

    model: str
    dimension: int


class VectorStore(Protocol):
    """One store per process: opened in the app's lifespan (or by a CLI command), closed after."""

    engine: str  # "edge" or "server"

    def ensure_collection(self, info: CollectionInfo) -> None:
        """Create the collection for this model and dimension, or check that it matches.

        Raises ``ModelMismatchError`` naming both models when it was filled by another one.
        """
        ...

    def collection_info(self) -> CollectionInfo | None:
        """The recorded model and dimension, or None for a new, empty collection."""
        ...

    def upsert(self, points: Sequence[StoredPoint]) -> None: ...

    def delete(self, where: Where) -> None:
        """Delete every point matching the filter (e.g. all points of one ``doc_id``)."""
        ...

    def set_payload(self, where: Where, payload: Mapping[str, Any]) -> None:
        """Add (or overwrite) these payload keys on every point matching the filter, keeping
        its vectors and other keys."""
        ...

    def query(
        self,
        *,
        mode: SearchMode,
        dense: list[float] | None,
        sparse: SparseVector | None,
        limit: int,
        offset: int = 0,
        where: Where | None = None,
    ) -> list[ScoredHit]:
        """Dense, keyword (BM25) or hybrid (both halves queried, fused by ``search.fusion``)."""
        ...

    def recommend(
        self, point_id: str, *, limit: int, where: Where | None = None
    ) -> list[ScoredHit]:
        """Nearest neighbours of a stored point's dense vector, excluding the point itself."""
        ...

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[PointRecord]: ...

    def scroll(
        self, where: Where | None = None, *, with_vectors: bool = False, batch_size: int = 256
    ) -> Iterator[PointRecord]:
        """Every point matching the filter, in pages of ``batch_size``."""
        ...

    def count(self, where: Where | None = None) -> int:
        """Exact count through the engine's API (deleted points vanish from it at once)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class DefersFlush(Protocol):
    """A store whose writes each flush to disk by default, and which can flush once for many.

    Qdrant Edge flushes its segments after every upsert and delete so that each call is durable
    on return; that costs about 10 ms a call, more than embedding a short document. Within
    ``deferred_flush()`` the calling thread's writes are flushed once, when the block ends.
    """

    def deferred_flush(self) -> AbstractContextManager[None]: ...


@runtime_checkable
class WarmsUp(Protocol):
    """A store whose searches are faster once its payloads have been read (Qdrant Edge)."""

    def warm_up(self) -> int: ...


def warm_up_in_background(store: VectorStore) -> threading.Thread | None:
    """Start the store's ``warm_up`` in a daemon thread (a long-running server wants it; a
    one-shot CLI command does not). None for stores that need none."""
    if not isinstance(store, WarmsUp):
        return None
    thread = threading.Thread(target=store.warm_up, name="store-warm-up", daemon=True)
    thread.start()
    return thread


@runtime_checkable
class Compacts(Protocol):
    """A store that rewrites its recent writes into a faster form (Qdrant Edge: int8 copies and
    an HNSW graph, built in another process; a Qdrant server optimizes by itself)."""

    def compact(self, *, threads: int = 1) -> bool: ...

    def keep_compacted(self, stop: threading.Event, *, poll_s: float = 1.0) -> None: ...


def compact(store: VectorStore, *, threads: int = 1) -> float | None:
    """Compact the store if it can be, waiting for it; the seconds it took when something was
    rewritten. ``threads``: the builder's indexing threads (0: every core)."""
    if not isinstance(store, Compacts):
        return None
    started = time.perf_counter()
    rewritten = store.compact(threads=threads)
    return time.perf_counter() - started if rewritten else None


def compact_in_background(store: VectorStore) -> Callable[[], None] | None:
    """Keep the store compacted from a daemon thread (a long-running server wants it); returns
    what stops it, or None for stores that need none."""
    if not isinstance(store, Compacts):
        return None
    stop = threading.Event()
    thread = threading.Thread(
        target=store.keep_compacted, args=(stop,), name="store-compaction", daemon=True
    )
    thread.start()

    def stopping() -> None:
        stop.set()
        thread.join(timeout=10)

    return stopping


def deferred_flush(store: VectorStore) -> AbstractContextManager[None]:
    """The store's ``deferred_flush()``, or a no-op for stores whose writes need no flush
    (qdrant-client waits for each write anyway)."""
    return store.deferred_flush() if isinstance(store, DefersFlush) else nullcontext()
